"""Alembic, once for all services: one environment, one branch for the shared tables, one per service.

Every service database holds two kinds of tables, and each kind is migrated by its own Alembic
branch:

- ``shared``: the tables every service has (outbox, processed messages, task attempts, dead
  letters, operator actions — :func:`common.database.tables.define_common_tables`). Their
  revisions are written once, in ``common/database/migrations/versions/``, and run in all five
  databases.
- ``<service>`` (``loan``, ``credit``, ``property``, ``decision``, ``notify``): the service's own
  tables, in ``<svc>_app/migrations/versions/``. The branch's first revision ``depends_on`` the
  shared branch, so a fresh database gets the shared tables first.

This folder is the one Alembic environment (``env.py`` calls :func:`run_env`, ``script.py.mako``
is the revision template); :func:`alembic_config` points it at both version locations of a
service, so :func:`upgrade` brings a database to all its heads. Upgrades take a PostgreSQL
advisory lock, so several processes started together (compose, Kubernetes replicas) can all run
``upgrade`` safely: one migrates, the others wait and find nothing to do.

Adding a revision (the database ``Settings.from_env`` names must be migrated to its heads first,
``python -m loanflow.cli migrate``):

- a service's own table: change ``<svc>_app/adapters/orm.py``, then
  ``python -m loanflow.cli revision <svc> -m "what changed"``; autogenerate compares only that
  service's tables and writes into ``<svc>_app/migrations/versions/``.
- a shared table: change its mixin in ``common/messaging``, then
  ``python -m loanflow.cli revision shared -m "what changed"``; autogenerate compares only the
  shared tables (on loan's database) and writes into ``common/database/migrations/versions/``.

Read the generated file, then ``python -m loanflow.cli migrate`` upgrades every database.

History: each service used to carry its own copy of the shared tables' revisions. Each service
branch is now a single revision whose id is the service's former head (loan ``d1a9c0b7e101``,
credit ``…102``, property ``…103``, decision ``…104``, notify ``…105``): a database stamped there
before the change is up to date, since Alembic counts a revision's ``depends_on`` as applied with
it. A database at an older revision must first be upgraded by a release before this layout.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import text

from common.database.db import is_sqlite, make_engine

if TYPE_CHECKING:
    from common.service.runtime import ServiceDefinition

#: The branch label of the shared tables' revisions (and the ``revision`` command's name for them).
SHARED = "shared"
#: This folder: the Alembic environment and the shared branch's ``versions/``.
HERE = Path(__file__).resolve().parent

IncludeObject = Callable[[Any, str | None, str, bool, Any], bool]


def shared_tables(definition: ServiceDefinition) -> frozenset[str]:
    """The names of the shared tables in ``definition``'s schema."""
    return frozenset(model.__table__.name for model in vars(definition.tables).values())


def alembic_config(definition: ServiceDefinition, database_url: str, branch: str | None = None) -> Config:
    """An Alembic config for ``definition``'s database at ``database_url``.

    ``branch`` (``"shared"`` or the service's name) limits autogenerate to that branch's tables;
    ``None`` (upgrades) compares the whole schema.
    """
    config = Config()
    config.set_main_option("script_location", str(HERE))
    config.set_main_option("path_separator", "newline")
    config.set_main_option("version_locations", "\n".join(
        [str(HERE / "versions"), str(definition.package_dir / "migrations" / "versions")]))
    config.attributes["database_url"] = database_url
    config.attributes["target_metadata"] = definition.base.metadata
    config.attributes["service"] = definition.name
    config.attributes["include_object"] = _branch_filter(shared_tables(definition), branch)
    return config


def _branch_filter(shared: frozenset[str], branch: str | None) -> IncludeObject | None:
    """Alembic's ``include_object`` hook that keeps the tables of ``branch`` only."""
    if branch is None:
        return None

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", None)
        return table is None or (table in shared) == (branch == SHARED)

    return include


def upgrade(definition: ServiceDefinition, database_url: str) -> None:
    """Bring ``definition``'s database to the heads of both its branches."""
    command.upgrade(alembic_config(definition, database_url), "heads")


def revision(definition: ServiceDefinition, database_url: str, message: str, branch: str | None = None) -> None:
    """Autogenerate a revision of ``branch`` (default: the service's own) from the models.

    A developer tool (see the module docstring): the database at ``database_url`` must be at its
    heads; the file is written into the branch's version location.
    """
    branch = branch or definition.name
    versions = HERE / "versions" if branch == SHARED else definition.package_dir / "migrations" / "versions"
    command.revision(alembic_config(definition, database_url, branch), message=message, autogenerate=True,
                     head=f"{branch}@head", version_path=str(versions))


def run_env() -> None:
    """The body of ``env.py`` (online mode only)."""
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
            include_object=config.attributes["include_object"],
            render_as_batch=is_sqlite(url),
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()
    engine.dispose()
