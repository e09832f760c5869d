"""Real PostgreSQL databases for tests: one per service, reset to a migrated, empty schema, and
read or changed from the outside, one SQL statement at a time (:func:`sql`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, create_engine, text

from common.database.migrations import upgrade
from common.service.entrypoints import load_definition
from tests.support import servers

#: The ``application_name`` of every connection :func:`sql` opens, so that a fault test cutting a
#: service's connections can spare the test's own observer (``pg_terminate_backend`` of a query the
#: test is waiting on would fail the test, not the system under it).
OBSERVER = "loanflow-test-observer"


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


def sql(url: str, statement: str, **params: object) -> list[Row[Any]]:
    """The rows of one SQL statement (none for a statement that returns none), run and committed
    in its own transaction on a throwaway engine.

    How tests look into a service's database, or change it, from the outside while its processes
    run: nothing is kept open between two calls (a fault test may be about to kill connections).
    """
    options = {"connect_args": {"application_name": OBSERVER}} if url.startswith("postgresql") else {}
    engine = create_engine(url, **options)
    try:
        with engine.begin() as connection:
            result = connection.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def sql_value(url: str, statement: str, **params: object) -> Any:
    """The first column of the first row of :func:`sql` (None when there is no row)."""
    rows = sql(url, statement, **params)
    return rows[0][0] if rows else None


#: The column types whose values can hold a person's text (``bytea``: stored files).
TEXT_TYPES = ("text", "character varying", "character", "json", "jsonb", "bytea")


def where_text_appears(url: str, needles: list[str]) -> dict[str, list[str]]:
    """``{needle: ["table.column", …]}``: every column of every table of the database (schema
    ``public``) whose text holds ``needle`` (case-insensitive; JSON as PostgreSQL prints it, so
    search ASCII values: json.dumps writes ``é`` as ``\\u00e9``)."""
    engine = create_engine(url)
    found: dict[str, list[str]] = {needle: [] for needle in needles}
    try:
        with engine.connect() as connection:
            columns = connection.execute(text(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = 'public' AND data_type = ANY(:types) ORDER BY table_name, column_name"),
                {"types": list(TEXT_TYPES)}).all()
            for table, column, data_type in columns:
                value = f"encode(\"{column}\", 'escape')" if data_type == "bytea" else f"\"{column}\"::text"
                for needle in needles:
                    # Names from the database's own catalogue; the needle is a bound parameter.
                    statement = text(f'SELECT EXISTS (SELECT 1 FROM "{table}" WHERE {value} ILIKE :needle)')  # noqa: S608
                    if connection.scalar(statement, {"needle": f"%{needle}%"}):
                        found[needle].append(f"{table}.{column}")
    finally:
        engine.dispose()
    return found
