"""Fixtures shared by every test: the session's own PostgreSQL cluster and RabbitMQ node.

The tiers (unit, checks, integration, e2e, faults) and what each may touch: tests/README.md.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from common.identity import staff_tokens
from common.identity.roles import ADMIN
from common.kernel.clock import utcnow
from common.kernel.settings import Settings
from tests.support.servers import Servers, own_servers

ROOT = Path(__file__).resolve().parent.parent
SECRET_KEY = "test-secret-key"
#: The first account every test system creates (``staff ensure-admin``), for the pages' sign-in.
ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "test-admin-password"


def staff_token(role: str = ADMIN, username: str | None = None, *, lifetime: timedelta = timedelta(hours=12)) -> str:
    """A staff token signed with the test systems' key, as ``POST /auth/token`` would give one,
    without signing in (it lives for the whole session: a real one lasts 15 minutes)."""
    return staff_tokens.issue(staff_tokens.derived_key(SECRET_KEY), username or role, role, utcnow(), lifetime)


#: An admin's token (the admin may do everything): the staff caller of most tests.
STAFF_TOKEN = staff_token(ADMIN, ADMIN_USERNAME)
#: Ports of the session's system move by this offset; two sessions on one machine pick two.
PORT_OFFSET = int(os.environ.get("LOANFLOW_TEST_PORT_OFFSET", "10000"))
#: Appended to the names of test databases and virtual hosts, so two sessions do not collide.
SUFFIX = "" if PORT_OFFSET == 10_000 else f"_{PORT_OFFSET}"


@pytest.fixture(scope="session")
def servers() -> Iterator[Servers]:
    """The session's own PostgreSQL cluster and RabbitMQ node (tests/support/servers.py).

    Started once, thrown away at the end; the machine's servers are never used nor touched.
    """
    with own_servers() as started:
        yield started


class _FreshDatabases(dict):
    """``{service: url}``, each test database dropped and migrated on first use in the session."""

    def __missing__(self, service: str) -> str:
        from tests.support.databases import reset_database

        self[service] = url = reset_database(service, prefix=f"loanflow_test{SUFFIX}")
        return url


@pytest.fixture(scope="session")
def pg_urls(servers: Servers) -> dict[str, str]:
    """A freshly migrated PostgreSQL test database per service (once per session)."""
    return _FreshDatabases()


def make_settings(service: str, database_url: str, **overrides: object) -> Settings:
    base = Settings(
        service=service,
        database_url=database_url,
        secret_key=SECRET_KEY,
        step_max_retries=2,
        min_backoff_ms=50,
        max_backoff_ms=200,
        # Every test client is one address (127.0.0.1): no submission limit unless a test sets
        # one (tests/integration/test_rate_limit.py), nor on requests for a new applicant token.
        submit_rate_limit=None,
        reissue_rate_limit=None,
    )
    return base.with_overrides(**overrides)


@pytest.fixture(scope="session")
def stack(servers: Servers, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """Every Procfile process on RabbitMQ and PostgreSQL, started once for the session.

    Shared by the end-to-end and the fault tests (which heal what they break): one system at a
    time keeps the machine's PostgreSQL connections and CPU for the tests themselves. Retries are
    generous enough to ride out the faults' outages.
    """
    from tests.support.stack import launched

    env = {
        "LOANFLOW_STEP_MAX_RETRIES": "8",
        "LOANFLOW_MIN_BACKOFF_MS": "200",
        "LOANFLOW_MAX_BACKOFF_MS": "2000",
        "LOANFLOW_STEP_TIMEOUT_SECONDS": "90",
        # Every message applied is logged at DEBUG (production logs no line per message): the
        # observability tests follow an application through all five services' logs and check
        # that no log line, of any level, carries personal data.
        "LOANFLOW_LOG_LEVEL": "DEBUG",
    }
    with launched(f"loanflow_e2e{SUFFIX}", f"loanflow_test_e2e{SUFFIX}", PORT_OFFSET,
                  tmp_path_factory.mktemp("stack-logs"), broker_link=True, **env) as (running, _):
        yield running
