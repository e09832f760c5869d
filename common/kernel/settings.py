"""Configuration read from the environment, once, into one immutable object per service.

Why one object: every entrypoint (gunicorn app, Dramatiq worker, outbox relay, embedded runner)
builds its dependencies from the same ``Settings``, so a test can construct one by hand instead
of monkeypatching the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path

#: The five services, in pipeline order. Their names are also their URL prefixes and queue names.
SERVICES: tuple[str, ...] = ("loan", "credit", "property", "decision", "notify")

#: Where the embedded default keeps its SQLite files and generated secrets.
DEFAULT_VAR_DIR = Path(os.environ.get("LOANFLOW_VAR_DIR", Path.cwd() / "var"))


def _env(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def _env_int(name: str, default: int) -> int:
    raw = _env(name)
    return int(raw) if raw else default


def _env_float(name: str, default: float) -> float:
    raw = _env(name)
    return float(raw) if raw else default


def _env_list(name: str, default: str = "") -> tuple[str, ...]:
    """A comma-separated variable as a tuple of its non-empty items."""
    return tuple(item.strip() for item in _env(name, default).split(",") if item.strip())


def default_database_url(service: str, var_dir: Path = DEFAULT_VAR_DIR) -> str:
    """The embedded default: one SQLite file per service, so each still owns its database."""
    return f"sqlite:///{var_dir / f'{service}.db'}"


@dataclass(frozen=True)
class Settings:
    """Everything a service process needs to know about its surroundings.

    Environment variables (all optional; the defaults give the embedded mode):

    - ``<SERVICE>_DATABASE_URL`` (e.g. ``LOAN_DATABASE_URL``): SQLAlchemy URL of this service's
      own database; default a SQLite file under ``var/``.
    - ``BROKER_URL``: ``amqp://…`` for RabbitMQ; empty means the in-process stub broker.
    - ``LOANFLOW_STAFF_TOKEN``: bearer token of loan officers and operators.
    - ``LOANFLOW_SECRET_KEY``: signs applicant access tokens; every service must share it.
    - ``BUREAU_URL``: base URL of the credit bureau (the simulator in demos and tests).
    """

    service: str
    database_url: str
    broker_url: str = ""
    staff_token: str = ""
    secret_key: str = ""
    bureau_url: str = "http://127.0.0.1:8090"
    #: Largest request body accepted by any endpoint, in bytes (413 beyond).
    max_body_bytes: int = 64 * 1024
    #: Outbox relay: rows per batch and idle polling interval in seconds.
    relay_batch_size: int = 100
    relay_poll_interval: float = 0.2
    #: Seconds a saga step (credit check, valuation, decision) may take before the application FAILs.
    step_timeout_seconds: int = 120
    #: Seconds an applicant has to answer a request for information before the application EXPIREs.
    info_timeout_seconds: int = 7 * 24 * 3600
    #: Retries of a saga step (credit check, valuation, decision) before it fails for good, and
    #: the bounds of the exponential backoff with jitter between them (milliseconds).
    step_max_retries: int = 6
    min_backoff_ms: int = 500
    max_backoff_ms: int = 15_000
    #: Artificial duration of a property valuation (an appraiser's work), for demos.
    valuation_delay_ms: int = 0
    #: Retention: sent outbox rows, and processed-message ids. Deduplication stays safe as long
    #: as an id outlives every copy of its message: the relay no longer re-publishes a row once
    #: it is marked sent, so keeping processed ids well beyond the outbox window (and beyond the
    #: age of any dead letter an operator may replay) is enough.
    #: Live channels (notify): browser origins allowed besides the same host, and the most
    #: WebSocket + SSE connections one process holds. Each holds a gunicorn thread, so keep it
    #: below the process's ``--threads`` (the Procfile gives notify 64), leaving threads for
    #: ordinary requests: beyond it clients get a 503 and retry, instead of a stalled server.
    #: Within it, one applicant token and one client address hold at most ``max_live_per_token``
    #: and ``max_live_per_address`` per process (429 / close 4429 beyond), so that one applicant
    #: cannot take every slot. The client address is the peer's, or the last ``X-Forwarded-For``
    #: hop when the peer is one of ``trusted_proxies`` (our gateway appends the address it saw).
    allowed_origins: tuple[str, ...] = ()
    max_live_per_token: int = 8
    max_live_per_address: int = 16
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    #: The URL applicants reach loanflow at (links in e-mails).
    public_url: str = "http://127.0.0.1:8000"
    max_live_connections: int = 48
    outbox_retention_days: int = 7
    processed_retention_days: int = 30
    #: Free-form switches for tests and demos (e.g. ``{"smtp": "off"}``).
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """True when no broker server is configured: messages stay in this process."""
        return not self.broker_url

    @classmethod
    def from_env(cls, service: str) -> Settings:
        """Read the settings of ``service`` from the process environment."""
        if service not in SERVICES and service != "gateway":
            raise ValueError(f"unknown service {service!r}")
        return cls(
            service=service,
            database_url=_env(f"{service.upper()}_DATABASE_URL") or default_database_url(service),
            broker_url=_env("BROKER_URL"),
            staff_token=_env("LOANFLOW_STAFF_TOKEN"),
            secret_key=_env("LOANFLOW_SECRET_KEY"),
            bureau_url=_env("BUREAU_URL", "http://127.0.0.1:8090"),
            max_body_bytes=_env_int("LOANFLOW_MAX_BODY_BYTES", 64 * 1024),
            relay_batch_size=_env_int("LOANFLOW_RELAY_BATCH", 100),
            relay_poll_interval=_env_float("LOANFLOW_RELAY_POLL_SECONDS", 0.2),
            step_timeout_seconds=_env_int("LOANFLOW_STEP_TIMEOUT_SECONDS", 120),
            info_timeout_seconds=_env_int("LOANFLOW_INFO_TIMEOUT_SECONDS", 7 * 24 * 3600),
            step_max_retries=_env_int("LOANFLOW_STEP_MAX_RETRIES", 6),
            min_backoff_ms=_env_int("LOANFLOW_MIN_BACKOFF_MS", 500),
            max_backoff_ms=_env_int("LOANFLOW_MAX_BACKOFF_MS", 15_000),
            valuation_delay_ms=_env_int("VALUATION_DELAY_MS", 0),
            allowed_origins=_env_list("LOANFLOW_ALLOWED_ORIGINS"),
            public_url=_env("LOANFLOW_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            max_live_connections=_env_int("LOANFLOW_MAX_LIVE_CONNECTIONS", 48),
            max_live_per_token=_env_int("LOANFLOW_MAX_LIVE_PER_TOKEN", 8),
            max_live_per_address=_env_int("LOANFLOW_MAX_LIVE_PER_ADDRESS", 16),
            trusted_proxies=_env_list("LOANFLOW_TRUSTED_PROXIES", "127.0.0.1,::1"),
            outbox_retention_days=_env_int("LOANFLOW_OUTBOX_RETENTION_DAYS", 7),
            processed_retention_days=_env_int("LOANFLOW_PROCESSED_RETENTION_DAYS", 30),
        )

    def __post_init__(self) -> None:
        if self.processed_retention_days <= self.outbox_retention_days:
            raise ValueError("processed ids must be kept longer than sent outbox rows, or a late "
                             "duplicate could be applied twice")

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests and the embedded runner use it)."""
        return replace(self, **changes)  # type: ignore[arg-type]
