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
from pathlib import Path
from typing import Any, Generic, TypeVar

from dramatiq import Broker
from sqlalchemy import Engine
from sqlalchemy.orm import DeclarativeBase, sessionmaker

from common.database.db import make_engine, make_session_factory
from common.database.tables import CommonTables
from common.kernel.settings import Settings
from common.messaging.envelope import Envelope
from common.messaging.erasure import PersonalData
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


D = TypeVar("D")


@dataclass(frozen=True)
class Bindings(Generic[D]):
    """What a service runs, bound once to its dependencies by its ``bootstrap.py``.

    Parameters:
      dependencies: the service's typed dependencies (its bootstrap's dataclass); the web side
        reads what it shares with the handlers here (decision's policy).
      handlers: ``{message name: handler}`` for every message the service consumes.
      on_give_up: per message name, run when Dramatiq gives up on the message, in the
        transaction that parks it (``common.messaging.tasks.Supervision``).
      on_replay: per message name, run in the transaction of an operator's replay: undo what the
        give-up recorded so that the replayed message does its work (notify: a FAILED e-mail
        owed again).
      periodic: ``(interval in seconds, job)``: maintenance run by the relay process.
      personal_data: how the service erases an application's personal data from its own
        tables, and whether it can tell by itself when an application ended
        (``common.messaging.erasure``; the retention job and the erasure handler use it).
    """

    dependencies: D
    handlers: Mapping[str, Handler | TwoPhase]
    on_give_up: Mapping[str, Handler] = field(default_factory=dict)
    on_replay: Mapping[str, Handler] = field(default_factory=dict)
    periodic: Sequence[tuple[float, Callable[[], object]]] = ()
    personal_data: PersonalData = field(default_factory=PersonalData)


@dataclass
class ServiceDefinition:
    """What one service is made of; built once per service in ``<svc>_app/service.py``.

    Parameters:
      name: the service name (URL prefix and queue name).
      base: its declarative base; ``base.metadata`` is its schema.
      tables: its mapped shared tables (outbox, processed ids, attempts, dead letters, audit).
      blueprints: returns the flask-smorest blueprints of its API. A function, called when a web
        app is built, so that a worker importing the definition never loads Flask, flask-smorest,
        marshmallow and apispec (~20 MiB resident per process).
      package_dir: the service package folder (its Alembic migrations live there).
      bootstrap: builds the service's dependencies from the runtime's settings and binds its
        handlers, give-up and replay hooks and periodic jobs to them (``<svc>_app/bootstrap.py``).
      unit_of_work: the service's :class:`UnitOfWork`, which opens its repositories.
      actor_options: Dramatiq options per message name (``max_retries``, ``throws``, …), from
        the settings (retry limits are configurable).
    """

    name: str
    base: type[DeclarativeBase]
    tables: CommonTables
    blueprints: Callable[[], list[Any]]
    package_dir: Path
    bootstrap: Callable[[Runtime], Bindings[Any]]
    unit_of_work: type[UnitOfWork] = UnitOfWork
    actor_options: Callable[[Settings], dict[str, dict[str, Any]]] = lambda _settings: {}
    #: Service-specific metrics read from its database at scrape time (``/<svc>/metrics``).
    state_metrics: Callable[[Runtime], Any] | None = None
    #: Extra set-up of the Flask app (WebSocket routes, pages) beyond the smorest blueprints.
    setup_app: Callable[[Any, Runtime], None] | None = None
    #: ``access_facts(runtime, application_id)``: what the service's own database says of an
    #: application's applicant tokens (:class:`common.web.applicant_access.AccessFacts`, or
    #: ``None`` when it knows nothing yet). Only services that admit applicants have one.
    access_facts: Callable[[Runtime, str], Any] | None = None

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
        self.engine: Engine = make_engine(settings.database_url, pool_size=settings.db_pool_size,
                                          max_overflow=settings.db_max_overflow)
        self.session_factory: sessionmaker = make_session_factory(self.engine)
        self.wakeup = Wakeup()
        self.broker: Broker | None = None
        #: The service's handlers bound to their dependencies, built once here; a test that
        #: swaps a dependency assigns ``bootstrap(runtime, bureau=…)`` before wiring actors.
        self.bindings: Bindings[Any] = definition.bootstrap(self)

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
            erasure_model=self.definition.tables.erasures,
        )

    def dispose(self) -> None:
        """Close pooled connections (tests and shutdown)."""
        self.engine.dispose()
