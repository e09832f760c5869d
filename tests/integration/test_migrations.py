"""Migrations: the shared branch plus each service's own give exactly the models' schema.

On PostgreSQL (the session's own server) and SQLite (the embedded mode), for every service:

- a fresh database upgraded to its heads matches ``definition.base.metadata`` (Alembic's
  ``compare_metadata`` finds nothing), and ``current`` is ``heads``;
- a database built the way it was before the shared branch existed (each service's former
  revisions, read from git history at :data:`BEFORE_FOLD`) has the schema of a fresh database
  migrated to the fold's heads (the fold changed nothing), then upgrades without error to the
  same schema, column for column, as a fresh one's;
- ``revision`` autogenerates into the right branch and folder, and sees only that branch's
  tables (nothing to add or drop when the models did not change).
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, create_engine, inspect, text

from common.database import migrations
from common.database.migrations import SHARED, alembic_config, revision, upgrade
from common.kernel.settings import SERVICES
from common.service.entrypoints import load_definition
from common.service.runtime import ServiceDefinition
from loanflow.cli import main
from tests.conftest import ROOT, SUFFIX
from tests.support.databases import admin_url, ensure_database

#: The last commit whose services each carried their own copy of the shared tables' revisions.
BEFORE_FOLD = "4927046"
#: The heads databases were stamped with at :data:`BEFORE_FOLD`.
OLD_HEADS = {"loan": "d1a9c0b7e101", "credit": "d1a9c0b7e102", "property": "d1a9c0b7e103",
             "decision": "d1a9c0b7e104", "notify": "d1a9c0b7e105"}


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[str], str]:
    """``make(service)`` → the URL of an empty database of that kind."""
    if request.param == "sqlite":
        return lambda service: f"sqlite:///{tmp_path / service}.db"
    request.getfixturevalue("servers")
    return _empty_postgres


def _empty_postgres(service: str) -> str:
    url = ensure_database(service, prefix=f"loanflow_test_migrations{SUFFIX}")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    assert url.startswith(admin_url())
    return url


@contextmanager
def _connect(url: str) -> Iterator[Connection]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def differences(definition: ServiceDefinition, url: str) -> list[Any]:
    """What autogenerate would change to make the database match the models."""
    with _connect(url) as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, definition.base.metadata)


def current_and_heads(definition: ServiceDefinition, url: str) -> tuple[set[str], set[str]]:
    """The database's revisions, and the heads ``upgrade`` aims at (a dependency is no head)."""
    script = ScriptDirectory.from_config(alembic_config(definition, url))
    heads = {rev.revision for rev in script.get_revisions("heads")}
    with _connect(url) as connection:
        return set(MigrationContext.configure(connection).get_current_heads()), heads


def branch_head(definition: ServiceDefinition, branch: str) -> str:
    """The latest revision of ``branch`` (``shared`` or the service's own)."""
    script = ScriptDirectory.from_config(alembic_config(definition, "sqlite://"))
    return script.get_revision(f"{branch}@head").revision


def schema(url: str) -> dict[str, Any]:
    """Every table's columns (in order), keys, indexes and unique constraints, as reflected."""
    found: dict[str, Any] = {}
    with _connect(url) as connection:
        inspector = inspect(connection)
        for table in sorted(inspector.get_table_names()):
            if table == "alembic_version":
                continue
            found[table] = {
                "columns": [(c["name"], repr(c["type"]), c["nullable"], c.get("default"))
                            for c in inspector.get_columns(table)],
                "primary_key": inspector.get_pk_constraint(table),
                "foreign_keys": inspector.get_foreign_keys(table),
                "indexes": sorted(({**index, "dialect_options": {k: str(v) for k, v in
                                                                  index.get("dialect_options", {}).items()}}
                                   for index in inspector.get_indexes(table)), key=lambda i: i["name"] or ""),
                "uniques": sorted(inspector.get_unique_constraints(table), key=lambda u: u["name"] or ""),
            }
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_a_fresh_database_gets_exactly_the_models_schema(service: str, empty_database: Callable[[str], str]) -> None:
    definition = load_definition(service)
    url = empty_database(service)
    upgrade(definition, url)
    assert differences(definition, url) == []
    current, heads = current_and_heads(definition, url)
    assert current == heads == {branch_head(definition, service), branch_head(definition, SHARED)}
    assert migrations.shared_tables(definition) <= set(schema(url))
    upgrade(definition, url)  # again: nothing to do
    assert differences(definition, url) == []


def _git(*args: str) -> str:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True, text=True).stdout


def _former_migrations(service: str, into: Path) -> Path:
    """The service's Alembic folder as it was at :data:`BEFORE_FOLD`, runnable on today's code."""
    folder = f"{service}_app/migrations"
    try:
        names = _git("ls-tree", "--name-only", f"{BEFORE_FOLD}:{folder}/versions").split()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"git history before the fold ({BEFORE_FOLD}) is not available")
    (into / "versions").mkdir(parents=True)
    for name in names:
        source = _git("show", f"{BEFORE_FOLD}:{folder}/versions/{name}")
        # Only the clock's module moved since (common.clock -> common.kernel.clock).
        (into / "versions" / name).write_text(source.replace("common.clock", "common.kernel.clock"))
    shutil.copy(migrations.HERE / "env.py", into / "env.py")
    return into


def _migrate_the_former_way(definition: ServiceDefinition, url: str, folder: Path) -> None:
    config = alembic_config(definition, url)
    config.set_main_option("script_location", str(folder))
    config.set_main_option("version_locations", str(folder / "versions"))
    command.upgrade(config, "head")


@pytest.mark.parametrize("service", SERVICES)
def test_a_database_migrated_before_the_shared_branch_upgrades_without_change(
        service: str, empty_database: Callable[[str], str], tmp_path: Path) -> None:
    definition = load_definition(service)
    fresh_url = empty_database(service)
    upgrade(definition, fresh_url)
    fresh = schema(fresh_url)

    old_url = empty_database(f"{service}_before_fold")
    _migrate_the_former_way(definition, old_url, _former_migrations(service, tmp_path / "former"))
    assert current_and_heads(definition, old_url)[0] == {OLD_HEADS[service]}
    before = schema(old_url)

    at_fold_url = empty_database(f"{service}_at_fold")
    command.upgrade(alembic_config(definition, at_fold_url), OLD_HEADS[service])
    assert before == schema(at_fold_url)  # the fold changed nothing

    upgrade(definition, old_url)  # then the revisions added since
    assert schema(old_url) == fresh
    assert differences(definition, old_url) == []
    current, heads = current_and_heads(definition, old_url)
    assert current == heads


@pytest.mark.parametrize("branch", ["loan", SHARED])
def test_revision_writes_into_its_branch_and_sees_only_its_tables(
        branch: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Copies of both version locations, so that the test writes nothing into the source tree.
    definition = load_definition("loan")
    here = tmp_path / "common"
    shutil.copytree(migrations.HERE, here, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "HERE", here)
    service_dir = tmp_path / "loan_app"
    shutil.copytree(definition.package_dir / "migrations", service_dir / "migrations",
                    ignore=shutil.ignore_patterns("__pycache__"))
    definition = dataclasses.replace(definition, package_dir=service_dir)
    url = f"sqlite:///{tmp_path / 'loan.db'}"
    upgrade(definition, url)
    # One index missing in each branch: the revision restores its own branch's only.
    own, other = ("ix_outbox_sent_at", "ix_applications_status")[:: 1 if branch == SHARED else -1]
    with _connect(url) as connection:
        connection.execute(text(f"DROP INDEX {own}"))
        connection.execute(text(f"DROP INDEX {other}"))
        connection.commit()

    parent = branch_head(definition, branch)
    revision(definition, url, "restore an index", branch)

    folder = here / "versions" if branch == SHARED else service_dir / "migrations" / "versions"
    (written,) = folder.glob("*_restore_an_index.py")
    source = written.read_text()
    assert f"down_revision: str | None = '{parent}'" in source
    upgrade_body = source.partition("def upgrade()")[2].partition("def downgrade()")[0]
    assert own in upgrade_body
    assert other not in source
    assert upgrade_body.count("create_index(") == 1
    assert "drop_" not in upgrade_body
    upgrade(definition, url)
    current, heads = current_and_heads(definition, url)
    assert current == heads
    assert written.stem.split("_")[0] in current
    assert [diff[1].name for diff in differences(definition, url)] == [other]


def test_the_command_line_migrates_and_writes_a_shared_revision(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    here = tmp_path / "common"
    shutil.copytree(migrations.HERE, here, ignore=shutil.ignore_patterns("__pycache__"))
    monkeypatch.setattr(migrations, "HERE", here)
    url = f"sqlite:///{tmp_path / 'loan.db'}"
    monkeypatch.setenv("LOAN_DATABASE_URL", url)

    main(["migrate", "loan"])
    assert differences(load_definition("loan"), url) == []
    parent = branch_head(load_definition("loan"), SHARED)
    main(["revision", "shared", "-m", "from the command line"])
    (written,) = (here / "versions").glob("*_from_the_command_line.py")
    assert f"down_revision: str | None = '{parent}'" in written.read_text()
    with pytest.raises(SystemExit):
        main(["revision", "nobody", "-m", "no such branch"])
