"""Alembic, once for all services: each service keeps its own ``migrations/`` folder and history.

A service's ``migrations/env.py`` is a single call to :func:`run_env`. Upgrades take a
PostgreSQL advisory lock, so several processes started together (compose, Kubernetes replicas)
can all run ``upgrade`` safely: one migrates, the others wait and find nothing to do.
"""

from __future__ import annotations

import zlib

from alembic import command, context
from alembic.config import Config
from sqlalchemy import text

from common.database.db import is_sqlite, make_engine
from common.service.runtime import ServiceDefinition


def alembic_config(definition: ServiceDefinition, database_url: str) -> Config:
    """An Alembic config for ``definition``'s migrations against ``database_url``."""
    config = Config()
    config.set_main_option("script_location", str(definition.package_dir / "migrations"))
    config.attributes["database_url"] = database_url
    config.attributes["target_metadata"] = definition.base.metadata
    config.attributes["service"] = definition.name
    return config


def upgrade(definition: ServiceDefinition, database_url: str) -> None:
    """Bring ``definition``'s database to the latest revision."""
    command.upgrade(alembic_config(definition, database_url), "head")


def revision(definition: ServiceDefinition, database_url: str, message: str) -> None:
    """Autogenerate a new revision from the models (developer tool, see docs/operations.md)."""
    command.revision(alembic_config(definition, database_url), message=message, autogenerate=True)


def run_env() -> None:
    """The body of every service's ``migrations/env.py`` (online mode only)."""
    config = context.config
    url = config.attributes["database_url"]
    engine = make_engine(url)
    with engine.connect() as connection:
        if not is_sqlite(url):
            lock_id = zlib.crc32(f"loanflow-migrate-{config.attributes['service']}".encode())
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": lock_id})
            connection.commit()
        context.configure(
            connection=connection,
            target_metadata=config.attributes["target_metadata"],
            render_as_batch=is_sqlite(url),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    engine.dispose()
