"""What loanflow assumes of RabbitMQ, checked on a node running the production ``rabbitmq.conf``.

The session's node boots on deploy/rabbitmq/rabbitmq.conf (tests/support/servers.py), so these
read the running broker, not the file: every channel that publishes is in confirm mode (an
outbox row is marked sent only once the broker has the message), and the retry backoffs the
services accept stay below the consumer timeout the broker actually enforces.
"""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from common.kernel.settings import Settings
from common.messaging.broker import RABBITMQ_CONSUMER_TIMEOUT_MS, check_retry_settings
from tests.e2e.conftest import Client
from tests.support.payloads import application
from tests.support.polling import TERMINAL, eventually
from tests.support.servers import Servers
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow]


def _publishing_channels(servers: Servers, vhost: str) -> list[dict]:
    channels = servers.rabbitmq.api(f"vhosts/{quote(vhost, safe='')}/channels")
    return [c for c in channels if c.get("message_stats", {}).get("publish", 0) > 0]  # type: ignore[union-attr]


def test_every_channel_that_publishes_waits_for_confirms(client: Client, stack: Stack, servers: Servers) -> None:
    for accepted in [client.submit(application()) for _ in range(2)]:
        client.wait_for(accepted, TERMINAL)
    # Every relay (hosted by its service's worker) has published by now (loan, credit, property,
    # decision, notify's documents).
    # The management API's channel list is a sampled snapshot: a channel's first sample may predate
    # its confirm.select. A channel that really publishes without confirms stays in the list, so
    # the answer is read again until it is clean, for up to 30 s.
    channels = eventually(lambda: _publishing_channels(servers, stack.vhost),
                          lambda found: len(found) >= 5 and all(c.get("confirm") for c in found),
                          timeout=30, interval=0.5)
    assert len(channels) >= 5, [c["name"] for c in channels]
    unconfirmed = [c["name"] for c in channels if not c.get("confirm")]
    assert not unconfirmed, f"channels publishing without publisher confirms: {unconfirmed}"


def test_retry_backoffs_stay_below_the_brokers_own_consumer_timeout(servers: Servers) -> None:
    reported = servers.rabbitmq.setting("consumer_timeout")  # e.g. {ok,1800000}
    match = re.fullmatch(r"\{ok,(\d+)\}", reported)
    assert match, f"the broker enforces no consumer timeout: {reported}"
    enforced = int(match.group(1))
    assert enforced == RABBITMQ_CONSUMER_TIMEOUT_MS
    base = Settings(service="credit", database_url="sqlite://", secret_key="k")
    check_retry_settings(base.with_overrides(max_backoff_ms=enforced - 1))
    with pytest.raises(ValueError, match="consumer timeout"):
        check_retry_settings(base.with_overrides(max_backoff_ms=enforced))
