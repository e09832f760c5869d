"""Fixtures shared by every test: real PostgreSQL and RabbitMQ, started if they are down."""

from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from common.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
STAFF_TOKEN = "test-staff-token"
SECRET_KEY = "test-secret-key"


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="session")
def servers() -> None:
    """RabbitMQ and PostgreSQL answer on loopback (started by the project script if down)."""
    if not (_port_open(5432) and _port_open(5672)):
        subprocess.run(["bash", str(ROOT / "deploy/local/ensure_services.sh")], check=True)


class _FreshDatabases(dict):
    """``{service: url}``, each test database dropped and migrated on first use in the session."""

    def __missing__(self, service: str) -> str:
        from tests.support.databases import reset_database

        self[service] = url = reset_database(service)
        return url


@pytest.fixture(scope="session")
def pg_urls(servers: None) -> dict[str, str]:
    """A freshly migrated PostgreSQL test database per service (once per session)."""
    return _FreshDatabases()


def make_settings(service: str, database_url: str, **overrides: object) -> Settings:
    base = Settings(
        service=service,
        database_url=database_url,
        staff_token=STAFF_TOKEN,
        secret_key=SECRET_KEY,
        step_max_retries=2,
        min_backoff_ms=50,
        max_backoff_ms=200,
    )
    return base.with_overrides(**overrides)
