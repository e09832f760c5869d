"""Schemathesis against every service's OpenAPI document, through the WSGI app on real PostgreSQL.

The hand-written sweeps (``test_hostile_inputs*.py``) check the inputs we thought of; this checks
the ones we did not. Schemathesis derives valid (positive) and invalid (negative) requests from
each operation's description and asserts that no answer is a 5xx and that every answer is what
the document promises: a documented status, content type and body schema.

Each service is fuzzed as staff (valid and invalid requests, generated ids) and as an applicant
(valid requests on their own application). That application has been carried through the saga
first, by the services' real consumer code with messages pumped from outbox to handler, so the
``200`` answers are real records checked against their schemas. Bounded and derandomised so
that it stays a test, not a lottery.

schemathesis's own pytest integration (``from_fixture``/``parametrize``) relies on a private
pytest attribute that pytest 9 removed (``Function._nodeid``), so each operation is driven here
through its public strategy API (``APIOperation.as_strategy`` under ``hypothesis.given``).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from marshmallow import ValidationError
from schemathesis import APIOperation, Case, GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.errors import FailureGroup
from schemathesis.hooks import HookContext
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    missing_required_header,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)

from common.messaging.consumers import apply_once
from common.messaging.relay import to_message
from common.operations.schemas import BatchFilterSchema
from common.service.runtime import Runtime
from tests.conftest import STAFF_TOKEN
from tests.support.messages import deliver, outbox
from tests.support.payloads import application

pytestmark = pytest.mark.slow

SERVICES = ("loan", "credit", "property", "decision", "notify")
#: What ``st run --checks all`` asks of a single response: besides no 5xx and answers as
#: documented, a request the document calls valid is accepted (no 4xx but 401/403/404/409/429),
#: one it calls invalid is refused, and headers match their declaration (``X-Pagination``).
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance,
          response_headers_conformance, positive_data_acceptance, negative_data_rejection,
          missing_required_header, unsupported_method]
EXAMPLES_PER_OPERATION = 25
#: Messages whose handlers call a network service (the credit bureau, the SMTP server): not pumped.
CALLS_OUT = {"CheckCredit", "SendEmail"}
#: The bureau's answer, given to loan_app directly: credit_app would ask a network service.
ASSESSMENT = {"score": 720, "payment_incidents": 0, "open_credits": 0, "monthly_income": "5200.00",
              "monthly_debts": "0.00", "debt_to_income": "0.0000", "bureau_found": True}


@pytest.fixture(scope="module")
def applicant(apps: dict[str, Flask]) -> dict[str, str]:
    """An application carried to its decision, and its token: ``{"id", "token"}``."""
    accepted = apps["loan"].test_client().post("/loan/applications", json=application())
    assert accepted.status_code == 202, accepted.json
    runtimes = {name: app.extensions["loanflow.runtime"] for name, app in apps.items()}
    application_id = accepted.json["id"]
    delivered: set[str] = set()
    _pump(runtimes, delivered)
    deliver(runtimes["loan"], "CreditChecked", application_id,
            {"inquiry_id": "bureau-1", "assessment": ASSESSMENT, "round": 1})
    _pump(runtimes, delivered)
    assert apps["loan"].test_client().get(f"/loan/applications/{application_id}", headers=_bearer(STAFF_TOKEN)
                                          ).json["status"] == "APPROVED"
    return {"id": application_id, "token": accepted.json["access_token"]}


def _pump(runtimes: dict[str, Runtime], delivered: set[str]) -> None:
    """Deliver every staged outbox row to its consumer, as relay and worker would, until quiet
    (except :data:`CALLS_OUT`: the bureau's answer is given to loan_app instead)."""
    while True:
        rows = [row for rt in runtimes.values() for row in outbox(rt)
                if row.id not in delivered and row.message_type not in CALLS_OUT]
        if not rows:
            return
        for row in rows:
            consumer = runtimes[row.queue.split(".")[0]]  # a lane (notify.documents) belongs to its service
            message = to_message(row)
            handler = consumer.bindings.handlers[row.message_type]
            apply_once(consumer, handler, row.actor, message.message_id, message.args[0])
            delivered.add(row.id)


def _batch_window_in_order(context: HookContext, body: Any) -> bool:
    """Drop a dead-letter batch whose ``since`` is after its ``until``: a rule between two fields
    that JSON Schema cannot state, so the document calls such a body valid while the service
    refuses it (422; tests/integration/test_dead_letter_batches.py checks that refusal)."""
    window = body.get("filter") if isinstance(body, dict) else None
    if not isinstance(window, dict) or "since" not in window or "until" not in window:
        return True
    try:
        BatchFilterSchema().load(window)
    except ValidationError as refusal:
        return refusal.messages != {"until": [BatchFilterSchema.WINDOW_REFUSED]}
    return True


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _operations(schema: schemathesis.BaseSchema) -> list[APIOperation]:
    """Every operation but live streams: they answer until the client leaves, so a WSGI call to
    one never returns (notify's SSE endpoints have tests of their own)."""
    operations = [result.ok() for result in schema.get_all_operations()]
    return [op for op in operations
            if "text/event-stream" not in str(op.definition.raw.get("responses", {}).get("200", {}))]


def _fuzz(operation: APIOperation, mode: GenerationMode, headers: dict[str, str],
          path_parameters: dict[str, str] | None) -> str | None:
    """Run one operation's examples; the failure report, or None."""
    strategy = operation.as_strategy(generation_mode=mode, headers=headers, path_parameters=path_parameters)

    @given(case=strategy)
    @settings(max_examples=EXAMPLES_PER_OPERATION, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate, Phase.shrink], suppress_health_check=list(HealthCheck))
    def examples(case: Case) -> None:
        case.call_and_validate(checks=CHECKS)

    try:
        examples()
    except Unsatisfiable:
        # Nothing to make invalid (no parameter, no body: GET /decision/policy) is no failure.
        return None if mode is GenerationMode.NEGATIVE else f"{operation.label}: no example could be generated"
    except (FailureGroup, AssertionError) as failure:
        return f"{operation.label} ({mode.value}):\n{failure}"
    return None


#: (caller, mode) of each run. Invalid requests are refused before whose token it is matters, so
#: the applicant's run is positive only: it is there to reach the 200 answers of their own records.
RUNS = [("staff", GenerationMode.POSITIVE), ("staff", GenerationMode.NEGATIVE), ("applicant", GenerationMode.POSITIVE)]


@pytest.mark.parametrize(("caller", "mode"), RUNS, ids=[f"{caller}-{mode.value}" for caller, mode in RUNS])
@pytest.mark.parametrize("service", SERVICES)
def test_every_operation_answers_as_documented(service: str, caller: str, mode: GenerationMode,
                                               apps: dict[str, Flask], applicant: dict[str, str]) -> None:
    schema = schemathesis.openapi.from_wsgi(f"/{service}/openapi.json", apps[service])
    schema.hook("filter_body")(_batch_window_in_order)
    headers = _bearer(STAFF_TOKEN if caller == "staff" else applicant["token"])
    failures = []
    for operation in _operations(schema):
        own = caller == "applicant" and "{application_id}" in operation.path
        failure = _fuzz(operation, mode, headers, {"application_id": applicant["id"]} if own else None)
        if failure:
            failures.append(failure)
    assert not failures, "\n\n".join(failures)
