"""Real PostgreSQL databases for tests: one per service, reset to a migrated, empty schema."""

from __future__ import annotations

from sqlalchemy import create_engine, text

from common.database.migrations import upgrade
from common.service.entrypoints import load_definition
from tests.support import servers


def admin_url() -> str:
    """The PostgreSQL server of this session (its own cluster under pytest), as the superuser."""
    return servers.current.postgres.admin_url


def test_database_url(service: str, prefix: str = "loanflow_test") -> str:
    return f"{admin_url()}/{prefix}_{service}"


def ensure_database(service: str, prefix: str = "loanflow_test") -> str:
    """Create the database if missing; returns its URL."""
    name = f"{prefix}_{service}"
    engine = create_engine(f"{admin_url()}/postgres", isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        if connection.scalar(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}) is None:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return test_database_url(service, prefix)


def reset_database(service: str, prefix: str = "loanflow_test") -> str:
    """Drop everything in the service's test database and migrate it from scratch."""
    url = ensure_database(service, prefix)
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        # Other sessions (a previous test's processes) must not hold locks on what we drop.
        connection.execute(text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ))
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    upgrade(load_definition(service), url)
    return url


def truncate_all(service: str, url: str) -> None:
    """Empty every table of the service (fast reset between tests)."""
    tables = [t.name for t in load_definition(service).base.metadata.sorted_tables]
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
    engine.dispose()
