"""A broker blip while a step's retry is being re-enqueued: the step keeps its retries.

The credit check fails at the bureau while its RabbitMQ vhost is unreachable, so its retry
cannot be published. The message must come back once the broker does, not be failed and given
up on (which ended the application FAILED with retries left).
"""

from __future__ import annotations

import re

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Client
from tests.support.databases import sql
from tests.support.payloads import application
from tests.support.polling import TERMINAL, eventually
from tests.support.rabbit import Management, vhost_of
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.rabbitmq]


def bureau_faults(stack: Stack, **faults: float) -> None:
    requests.put(f"{stack.bureau}/v1/_faults", json=faults, timeout=5).raise_for_status()


def failed_attempts(stack: Stack, application_id: str) -> list[str]:
    """Outcomes of the credit check's failed attempts, oldest first (read in credit's database)."""
    return [outcome for (outcome,) in sql(
        stack.urls["credit"], "SELECT outcome FROM task_attempts WHERE application_id = :a "
                              "AND actor = 'credit.check_credit' ORDER BY id", a=application_id)]


def checks_in_progress(stack: Stack) -> float:
    """Credit checks a credit worker is running now (Dramatiq's Prometheus exporter of the worker)."""
    port = re.search(r"dramatiq_prom_port=(\d+)", stack.commands["credit_worker"])
    assert port is not None
    body = requests.get(f"http://127.0.0.1:{port.group(1)}/metrics", timeout=5).text
    samples = [sample for family in text_string_to_metric_families(body) for sample in family.samples]
    return sum(sample.value for sample in samples if sample.name == "dramatiq_messages_inprogress"
               and sample.labels.get("actor_name") == "credit.check_credit")


def test_a_retry_that_cannot_be_published_during_a_broker_blip_is_redelivered(client: Client, stack: Stack) -> None:
    vhost = vhost_of(stack.env["BROKER_URL"])
    rabbit = Management(stack.env["RABBITMQ_MANAGEMENT_URL"])
    bureau_faults(stack, latency_ms=2500, failure_rate=1.0)  # each attempt is slow, then fails: retries
    try:
        accepted = client.submit(application())
        before = eventually(lambda: failed_attempts(stack, accepted["id"]), bool, timeout=60)
        assert before, "the credit check never failed"
        assert eventually(lambda: checks_in_progress(stack), lambda n: n >= 1, timeout=30) >= 1
        with rabbit.outage(vhost):  # the retry running now fails while the broker is gone
            during = eventually(lambda: failed_attempts(stack, accepted["id"]), lambda a: len(a) > len(before),
                                timeout=60)
            assert len(during) > len(before), "no attempt failed during the outage"
            bureau_faults(stack, latency_ms=20, failure_rate=0.0)
    finally:
        bureau_faults(stack, latency_ms=20, failure_rate=0.0)
    assert "dead" not in during, during  # not given up for a transport error
    body = client.wait_for(accepted, TERMINAL, timeout=120)
    assert body["status"] == "APPROVED", body
