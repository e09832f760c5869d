"""Insert a row unless its key is taken, in one statement, on the backend a session is on
(PostgreSQL, or SQLite when embedded).

Why: a step that writes one row per application (or per round) and must not write it twice can
insert first and learn from ``RETURNING`` whether the row is its own, in one statement, instead
of reading before writing (two statements, and a key race between the two). The statement is
built once per (backend, model, key) and the row goes as parameters: a statement with the values
inlined is coerced and cache-keyed again on every call, which cost more than the query.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, TypeVar

from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

M = TypeVar("M")


@lru_cache(maxsize=64)
def _statement(backend: str, model: type, key: tuple[str, ...]) -> Any:
    insert = postgresql_insert if backend == "postgresql" else sqlite_insert
    return insert(model).on_conflict_do_nothing(index_elements=list(key)).returning(model)


def insert_new(session: Session, model: type[M], key: tuple[str, ...], values: Mapping[str, Any]) -> M | None:
    """Insert ``values`` as a ``model`` row unless a row with the same ``key`` columns exists.

    Returns:
      the inserted row as a persistent entity of ``session`` (locked by this transaction until
      it ends), or ``None`` when the key was taken: nothing written. A concurrent transaction
      inserting the same key is waited for, then counts as taken if it commits.
    """
    statement = _statement(session.get_bind().dialect.name, model, key)
    return session.scalars(statement, [dict(values)]).one_or_none()


def insert_or_lock(session: Session, model: type[M], key: tuple[str, ...], values: Mapping[str, Any]) -> tuple[M, bool]:
    """Insert ``values`` unless a row with the same ``key`` exists, else lock the row there.

    Returns:
      (the row, locked for this transaction; True if this call inserted it).

    Why: ``SELECT … FOR UPDATE`` cannot lock a row that a concurrent transaction is inserting,
    so two writers that both find nothing both insert, and one fails on the primary key.
    ``INSERT … ON CONFLICT DO NOTHING`` waits for the other insert instead, then the row lock
    orders the two. A row this call inserted comes back from ``RETURNING`` as a persistent
    entity, locked already: only a row that was there is read again, ``FOR UPDATE``.
    """
    inserted = insert_new(session, model, key, values)
    if inserted is not None:
        return inserted, True
    identity = values[key[0]] if len(key) == 1 else tuple(values[column] for column in key)
    return session.get(model, identity, with_for_update=True, populate_existing=True), False  # type: ignore[return-value]
