"""Wiring one service once: settings → engine → sessions → unit of work → bound handlers.

Each service describes itself with a :class:`ServiceDefinition` (its tables, HTTP blueprints,
unit of work, bootstrap); :class:`Runtime` turns that description plus :class:`Settings` into
live objects, and the service's bootstrap (``<svc>_app/bootstrap.py``) binds its module-level
handlers to typed dependencies built from those settings (:class:`Bindings`). Every entrypoint
(gunicorn app, Dramatiq worker, relay, embedded runner, tests) goes through here, so they all get
the same dependencies, and tests swap a dependency by passing it to the bootstrap.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any, Generic, TypeVar

from dramatiq import Broker
from sqlalchemy import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from common.database.db import make_engine, make_session_factory
from common.database.tables import CommonTables
from common.kernel.settings import Settings
from common.messaging.envelope import Envelope
from common.messaging.uow import UnitOfWork
from common.messaging.wakeup import Wakeup

#: ``handler(envelope, uow)``: applies one message inside an open unit of work.
Handler = Callable[[Envelope, UnitOfWork], None]


@dataclass(frozen=True)
class TwoPhase:
    """A handler whose slow outside call (an HTTP API, a long computation) runs outside the
    transaction: ``prepare(envelope)`` first, with no database lock held, then
    ``apply(envelope, uow, prepared)`` in the unit of work. ``prepare`` must be idempotent
    (it may run again on redelivery), e.g. a bureau inquiry keyed by the application id.
    """

    prepare: Callable[[Envelope], Any]
    apply: Callable[[Envelope, UnitOfWork, Any], None]


#: ``periodic(runtime)``: maintenance run by the relay process (deadlines, retention).
Periodic = Callable[["Runtime"], None]

D = TypeVar("D")


@dataclass(frozen=True)
class Bindings(Generic[D]):
    """What a service runs, bound once to its dependencies by its ``bootstrap.py``.

    Parameters:
      dependencies: the service's typed dependencies (its bootstrap's dataclass); the web side
        reads what it shares with the handlers here (decision's policy).
      handlers: ``{message name: handler}`` for every message the service consumes.
      give_up: run when Dramatiq gives up on a message, in the transaction that parks it.
      replay: run in the transaction of an operator's replay, per message name: undo what the
        give-up recorded so that the replayed message does its work (notify: a FAILED e-mail
        owed again).
      periodic: ``(interval in seconds, job)``: maintenance run by the relay process.
    """

    dependencies: D
    handlers: Mapping[str, Handler | TwoPhase]
    give_up: Mapping[str, Handler] = field(default_factory=dict)
    replay: Mapping[str, Handler] = field(default_factory=dict)
    periodic: Sequence[tuple[float, Callable[[], object]]] = ()


@dataclass
class ServiceDefinition:
    """What one service is made of; built once per service in ``<svc>_app/service.py``.

    Parameters:
      name: the service name (URL prefix and queue name).
      base: its declarative base; ``base.metadata`` is its schema.
      tables: its mapped shared tables (outbox, processed ids, attempts, dead letters, audit).
      blueprints: the flask-smorest blueprints of its API.
      handlers: builds ``{message name: handler}`` for the messages it consumes, given the
        runtime (so handlers can be bound to adapters such as the bureau client).
      actor_options: Dramatiq options per message name (``max_retries``, ``throws``, …), from
        the settings (retry limits are configurable).
      periodic: maintenance jobs with their interval in seconds.
      package_dir: the service package folder (its Alembic migrations live there).
    """

    name: str
    base: type[DeclarativeBase]
    tables: CommonTables
    blueprints: list[Any]
    package_dir: Path
    #: Binds the handlers to their dependencies (``<svc>_app.bootstrap.bootstrap``).
    bootstrap: Callable[[Runtime], Bindings[Any]] | None = None
    #: The service's unit of work (its repositories on the session).
    unit_of_work: type[UnitOfWork] = UnitOfWork
    handlers: Callable[[Runtime], dict[str, Handler | TwoPhase]] | None = None
    actor_options: Callable[[Settings], dict[str, dict[str, Any]]] = lambda _settings: {}
    periodic: list[tuple[float, Periodic]] = field(default_factory=list)
    on_give_up: Callable[[Runtime], dict[str, Handler]] | None = None
    #: Run in the transaction of an operator's replay, per message name: undo what the give-up
    #: recorded so that the replayed message does its work (notify: a FAILED e-mail owed again).
    on_replay: Callable[[Runtime], dict[str, Handler]] | None = None
    #: Service-specific metrics read from its database at scrape time (``/<svc>/metrics``).
    state_metrics: Callable[[Runtime], Any] | None = None
    #: Extra set-up of the Flask app (WebSocket routes, pages) beyond the smorest blueprints.
    setup_app: Callable[[Any, Runtime], None] | None = None

    @property
    def outbox_model(self) -> type:
        return self.tables.outbox

    @property
    def processed_model(self) -> type:
        return self.tables.processed


class Runtime:
    """The live dependencies of one service in one process."""

    def __init__(self, definition: ServiceDefinition, settings: Settings) -> None:
        self.definition = definition
        self.settings = settings
        self.engine: Engine = make_engine(settings.database_url)
        self.session_factory: sessionmaker = make_session_factory(self.engine)
        self.wakeup = Wakeup()
        self.broker: Broker | None = None
        self.adapters: dict[str, Any] = {}

    @cached_property
    def bindings(self) -> Bindings[Any]:
        """The service's handlers bound to their dependencies, built on first use."""
        if self.definition.bootstrap is not None:
            return self.definition.bootstrap(self)
        definition = self.definition
        assert definition.handlers is not None
        return Bindings(
            dependencies=None,
            handlers=definition.handlers(self),
            give_up=definition.on_give_up(self) if definition.on_give_up else {},
            replay=definition.on_replay(self) if definition.on_replay else {},
            periodic=[(interval, partial(job, self)) for interval, job in definition.periodic],
        )

    @property
    def name(self) -> str:
        return self.definition.name

    def uow(self) -> UnitOfWork:
        """A new unit of work on this service's database."""
        return self.definition.unit_of_work(
            self.session_factory,
            self.definition.outbox_model,
            self.definition.processed_model,
            on_commit=self.wakeup.set,
        )

    def dispose(self) -> None:
        """Close pooled connections (tests and shutdown)."""
        self.engine.dispose()
