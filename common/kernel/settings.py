"""Configuration read from the environment, once, into one immutable object per process.

Why one module: this is the only code of loanflow that reads the environment, through
:class:`~common.kernel.environment.Environment` (the one module that touches ``os.environ``; a
test walks the source to keep it so). Every entrypoint (gunicorn app, Dramatiq worker, outbox relay, embedded
runner, gateway, mail catcher) builds its settings once at start-up and passes them, or the part a
component needs, down; a test or the embedded mode builds one by hand (``dataclasses.replace``)
instead of changing the environment. docs/operations.md lists every variable (§ Configuration).

Two variables are also read by libraries themselves, before any of our objects exist:
prometheus-client reads ``PROMETHEUS_MULTIPROC_DIR`` as metrics are created (at import), and
Dramatiq's exporter reads ``dramatiq_prom_*`` when it is imported. We read them here too, only
to know what those libraries will do.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from common.identity.staff_tokens import derived_key
from common.kernel.environment import Environment as Environment  # read here; re-exported
from common.kernel.networks import proxy_networks
from common.kernel.rates import RateLimit, parse_rate_limit
from common.kernel.review_settings import ReviewSettings

#: The five services, in pipeline order. Their names are also their URL prefixes and queue names.
SERVICES: tuple[str, ...] = ("loan", "credit", "property", "decision", "notify")
#: ``LOANFLOW_SUBMIT_RATE_LIMIT`` when unset: a person applies a few times at most, a script
#: flooding the pipeline from one address is stopped after 20 a minute (docs/operations.md).
DEFAULT_SUBMIT_RATE_LIMIT = "20/minute"
SUBMIT_RATE_LIMIT = parse_rate_limit("LOANFLOW_SUBMIT_RATE_LIMIT", DEFAULT_SUBMIT_RATE_LIMIT)
#: ``LOANFLOW_REISSUE_RATE_LIMIT`` when unset: an applicant asks for a new token a few
#: times at most; an address probing applications and addresses is stopped after 10 an hour.
DEFAULT_REISSUE_RATE_LIMIT = "10/hour"
REISSUE_RATE_LIMIT = parse_rate_limit("LOANFLOW_REISSUE_RATE_LIMIT", DEFAULT_REISSUE_RATE_LIMIT)
#: ``LOANFLOW_SIGN_IN_RATE_LIMIT`` when unset: attempts at ``POST /auth/token`` per client
#: address, whatever the username (the per-username throttle is ``sign_in_max_failures``).
DEFAULT_SIGN_IN_RATE_LIMIT = "30/minute"
SIGN_IN_RATE_LIMIT = parse_rate_limit("LOANFLOW_SIGN_IN_RATE_LIMIT", DEFAULT_SIGN_IN_RATE_LIMIT)
def default_database_url(service: str, var_dir: Path) -> str:
    """The embedded default: one SQLite file per service, so each still owns its database."""
    return f"sqlite:///{var_dir / f'{service}.db'}"


def prometheus_multiproc_dir(environ: Mapping[str, str] | None = None) -> str:
    """``PROMETHEUS_MULTIPROC_DIR``, or ``""`` when metrics stay in this process.

    A function, not a :class:`Settings` field: prometheus-client reads the variable itself when
    ``common.kernel.metrics`` creates its metrics at import, before any settings exist.
    """
    return Environment(environ).raw("PROMETHEUS_MULTIPROC_DIR")


@dataclass(frozen=True)
class SmtpSettings:
    """The SMTP server notify sends its e-mails through (``SMTP_*``)."""

    host: str
    port: int = 25
    starttls: bool = False
    ssl: bool = False
    username: str = ""
    password: str = ""
    sender: str = "loanflow <no-reply@loanflow.local>"
    timeout: float = 10.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SmtpSettings:
        """From ``SMTP_HOST``, ``SMTP_PORT``, ``SMTP_STARTTLS``, ``SMTP_SSL``, ``SMTP_USERNAME``,
        ``SMTP_PASSWORD``, ``SMTP_FROM``, ``SMTP_TIMEOUT`` (booleans: ``1``/``true``/``yes``)."""
        env, default = Environment(environ), cls(host="localhost")
        return cls(
            host=env.raw("SMTP_HOST") or default.host,
            port=int(env.raw("SMTP_PORT") or default.port),
            starttls=env.flag("SMTP_STARTTLS"),
            ssl=env.flag("SMTP_SSL"),
            username=env.raw("SMTP_USERNAME", default.username),
            password=env.raw("SMTP_PASSWORD", default.password),
            sender=env.raw("SMTP_FROM") or default.sender,
            timeout=float(env.raw("SMTP_TIMEOUT") or default.timeout),
        )


@dataclass(frozen=True)
class Settings:
    """Everything a service process needs to know about its surroundings.

    Every field has its environment variable (all optional; the defaults give the embedded mode),
    listed with its default in docs/operations.md. The main ones:

    - ``<SERVICE>_DATABASE_URL`` (e.g. ``LOAN_DATABASE_URL``): SQLAlchemy URL of this service's
      own database; default a SQLite file under ``var/`` (``LOANFLOW_VAR_DIR``).
    - ``BROKER_URL``: ``amqp://…`` for RabbitMQ; empty means the in-process stub broker.
    - ``LOANFLOW_SECRET_KEY``: signs applicant access tokens (and, unless
      ``LOANFLOW_STAFF_SIGNING_KEY`` is set, staff tokens); every service must share it.
    - ``BUREAU_URL``: base URL of the credit bureau (the simulator in demos and tests).
    """

    service: str
    database_url: str
    broker_url: str = ""
    secret_key: str = ""
    #: Staff tokens (common/identity/staff_tokens.py): the key that signs them (default: derived
    #: from ``secret_key``), earlier keys still accepted during a rotation, and their lifetime.
    staff_signing_key: str = ""
    staff_previous_signing_keys: tuple[str, ...] = ()
    staff_token_seconds: int = 900
    #: Sign-in (``POST /auth/token``, loan): failed attempts for one username before it is
    #: throttled (429) until ``sign_in_throttle_seconds`` after the last failure, and the
    #: attempts one client address may make per window (``None``: no limit).
    sign_in_max_failures: int = 5
    sign_in_throttle_seconds: int = 900
    sign_in_rate_limit: RateLimit | None = SIGN_IN_RATE_LIMIT
    bureau_url: str = "http://127.0.0.1:8090"
    #: Largest request body accepted by any endpoint, in bytes (413 beyond).
    max_body_bytes: int = 64 * 1024
    #: Outbox relay: rows per batch and idle polling interval in seconds.
    relay_batch_size: int = 500
    relay_poll_interval: float = 0.2
    #: Dead letters one ``POST /<svc>/dead-letters/batch`` acts on at most (the oldest first).
    batch_limit: int = 1000
    #: Seconds a saga step (credit check, valuation, decision) may take before the application FAILs.
    step_timeout_seconds: int = 120
    #: loan: the most applications in evaluation (SUBMITTED, EVALUATING, DECIDING) before
    #: ``POST /loan/applications`` answers 503 + Retry-After (loan_app/admission.py); 0: no bound.
    max_in_evaluation: int = 0
    #: loan: applications per second admitted at most, across loan's processes, before
    #: ``POST /loan/applications`` answers 503 + Retry-After (loan_app/admission.py); 0: no pacing.
    admission_rate: float = 0.0
    #: loan: the most ``POST /loan/applications`` one client address may make per window before
    #: ``429`` + Retry-After (common/web/ratelimit.py); ``None`` (``0`` in the environment): no limit.
    submit_rate_limit: RateLimit | None = SUBMIT_RATE_LIMIT
    #: loan: when a referral's review is due, in working hours (common/kernel/review_settings.py).
    review: ReviewSettings = field(default_factory=ReviewSettings)
    #: Seconds an applicant has to answer a request for information before the application EXPIREs.
    info_timeout_seconds: int = 7 * 24 * 3600
    #: Retries of a saga step (credit check, valuation, decision) before it fails for good, and
    #: the bounds of the exponential backoff with jitter between them (milliseconds).
    step_max_retries: int = 6
    min_backoff_ms: int = 500
    max_backoff_ms: int = 15_000
    #: Artificial duration of a property valuation (an appraiser's work), for demos.
    valuation_delay_ms: int = 0
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
    #: Applicant tokens (common/web/applicant_access.py): they last at most ``…_max_days`` from
    #: issue and ``…_days_after_end`` after the final status (fractions allowed); one re-issue
    #: e-mail per application per ``…_reissue_seconds``, asked for ``reissue_rate_limit`` times
    #: per address (``None``: no limit). Then the lives of a live ticket and a document link.
    applicant_token_max_days: float = 90.0
    applicant_token_days_after_end: float = 45.0
    applicant_token_reissue_seconds: int = 60
    reissue_rate_limit: RateLimit | None = REISSUE_RATE_LIMIT
    live_ticket_seconds: int = 30
    document_link_seconds: int = 300
    #: Retention: sent outbox rows, and processed-message ids. Deduplication stays safe as long
    #: as an id outlives every copy of its message: the relay no longer re-publishes a row once
    #: it is marked sent, so keeping processed ids well beyond the outbox window (and beyond the
    #: age of any dead letter an operator may replay) is enough.
    outbox_retention_days: int = 7
    processed_retention_days: int = 30
    #: Days after an application ended (its terminal status) before every service anonymises
    #: its personal data (``common.database.retention.anonymise_ended``); 0: never by itself
    #: (an erasure request still works).
    personal_data_retention_days: int = 365
    #: PostgreSQL connections kept per process, and the extra ones a burst may open
    #: (``common.database.db.make_engine`` says why 8).
    db_pool_size: int = 8
    db_max_overflow: int = 4
    #: Level of the root logger (``DEBUG``, ``INFO``, …).
    log_level: str = "INFO"
    #: The relay process's Prometheus exporter: port (none without it) and address.
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    #: A worker runs Dramatiq's Prometheus exporter (``dramatiq_prom_port`` set; Dramatiq reads
    #: the port and ``dramatiq_prom_db`` itself).
    dramatiq_exporter: bool = False
    #: RabbitMQ's management API (queue figures of ``/tasks``); empty: a passive declare instead.
    rabbitmq_management_url: str = ""
    #: Where notify sends its e-mails.
    smtp: SmtpSettings = field(default_factory=lambda: SmtpSettings(host="localhost"))
    #: Fault injection for the crash tests (never set in production): the relay process exits
    #: right after the broker confirmed a message and before the row is marked sent.
    fault_exit_after_publish: bool = False
    #: Free-form switches for tests and demos (e.g. ``{"smtp": "off"}``).
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def embedded(self) -> bool:
        """True when no broker server is configured: messages stay in this process."""
        return not self.broker_url

    @classmethod
    def from_env(cls, service: str, environ: Mapping[str, str] | None = None) -> Settings:
        """Read the settings of ``service`` from the process environment (or ``environ``)."""
        if service not in SERVICES and service != "gateway":
            raise ValueError(f"unknown service {service!r}")
        env = Environment(environ)
        return cls(
            service=service,
            database_url=env.text(f"{service.upper()}_DATABASE_URL") or default_database_url(service, env.var_dir()),
            broker_url=env.text("BROKER_URL"),
            secret_key=env.text("LOANFLOW_SECRET_KEY"),
            staff_signing_key=env.text("LOANFLOW_STAFF_SIGNING_KEY"),
            staff_previous_signing_keys=env.items("LOANFLOW_STAFF_PREVIOUS_SIGNING_KEYS"),
            staff_token_seconds=env.integer("LOANFLOW_STAFF_TOKEN_SECONDS", 900),
            sign_in_max_failures=env.integer("LOANFLOW_SIGN_IN_MAX_FAILURES", 5),
            sign_in_throttle_seconds=env.integer("LOANFLOW_SIGN_IN_THROTTLE_SECONDS", 900),
            sign_in_rate_limit=parse_rate_limit("LOANFLOW_SIGN_IN_RATE_LIMIT",
                                                env.text("LOANFLOW_SIGN_IN_RATE_LIMIT") or DEFAULT_SIGN_IN_RATE_LIMIT),
            bureau_url=env.text("BUREAU_URL", "http://127.0.0.1:8090"),
            max_body_bytes=env.integer("LOANFLOW_MAX_BODY_BYTES", 64 * 1024),
            relay_batch_size=env.integer("LOANFLOW_RELAY_BATCH", 500),
            relay_poll_interval=env.number("LOANFLOW_RELAY_POLL_SECONDS", 0.2),
            batch_limit=env.integer("LOANFLOW_BATCH_LIMIT", 1000),
            step_timeout_seconds=env.integer("LOANFLOW_STEP_TIMEOUT_SECONDS", 120),
            max_in_evaluation=env.integer("LOANFLOW_MAX_IN_EVALUATION", 0),
            admission_rate=env.number("LOANFLOW_ADMISSION_RATE", 0.0),
            submit_rate_limit=parse_rate_limit("LOANFLOW_SUBMIT_RATE_LIMIT",
                                               env.text("LOANFLOW_SUBMIT_RATE_LIMIT") or DEFAULT_SUBMIT_RATE_LIMIT),
            info_timeout_seconds=env.integer("LOANFLOW_INFO_TIMEOUT_SECONDS", 7 * 24 * 3600),
            review=ReviewSettings.from_env(env),
            step_max_retries=env.integer("LOANFLOW_STEP_MAX_RETRIES", 6),
            min_backoff_ms=env.integer("LOANFLOW_MIN_BACKOFF_MS", 500),
            max_backoff_ms=env.integer("LOANFLOW_MAX_BACKOFF_MS", 15_000),
            valuation_delay_ms=env.integer("VALUATION_DELAY_MS", 0),
            allowed_origins=env.items("LOANFLOW_ALLOWED_ORIGINS"),
            public_url=env.text("LOANFLOW_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/"),
            max_live_connections=env.integer("LOANFLOW_MAX_LIVE_CONNECTIONS", 48),
            applicant_token_max_days=env.number("LOANFLOW_APPLICANT_TOKEN_MAX_DAYS", 90.0),
            applicant_token_days_after_end=env.number("LOANFLOW_APPLICANT_TOKEN_DAYS_AFTER_END", 45.0),
            applicant_token_reissue_seconds=env.integer("LOANFLOW_APPLICANT_TOKEN_REISSUE_SECONDS", 60),
            reissue_rate_limit=parse_rate_limit("LOANFLOW_REISSUE_RATE_LIMIT",
                                                env.text("LOANFLOW_REISSUE_RATE_LIMIT") or DEFAULT_REISSUE_RATE_LIMIT),
            live_ticket_seconds=env.integer("LOANFLOW_LIVE_TICKET_SECONDS", 30),
            document_link_seconds=env.integer("LOANFLOW_DOCUMENT_LINK_SECONDS", 300),
            max_live_per_token=env.integer("LOANFLOW_MAX_LIVE_PER_TOKEN", 8),
            max_live_per_address=env.integer("LOANFLOW_MAX_LIVE_PER_ADDRESS", 16),
            trusted_proxies=env.items("LOANFLOW_TRUSTED_PROXIES", "127.0.0.1,::1"),
            outbox_retention_days=env.integer("LOANFLOW_OUTBOX_RETENTION_DAYS", 7),
            processed_retention_days=env.integer("LOANFLOW_PROCESSED_RETENTION_DAYS", 30),
            personal_data_retention_days=env.integer("LOANFLOW_PERSONAL_DATA_RETENTION_DAYS", 365),
            db_pool_size=env.integer("LOANFLOW_DB_POOL_SIZE", 8),
            db_max_overflow=env.integer("LOANFLOW_DB_MAX_OVERFLOW", 4),
            log_level=env.log_level(),
            metrics_port=env.optional_integer("LOANFLOW_METRICS_PORT"),
            metrics_host=env.text("LOANFLOW_METRICS_HOST", "127.0.0.1"),
            dramatiq_exporter=bool(env.raw("dramatiq_prom_port")),
            rabbitmq_management_url=env.text("RABBITMQ_MANAGEMENT_URL"),
            smtp=SmtpSettings.from_env(env.environ),
            fault_exit_after_publish=bool(env.raw("LOANFLOW_FAULT_EXIT_AFTER_PUBLISH")),
        )

    def __post_init__(self) -> None:
        if self.processed_retention_days <= self.outbox_retention_days:
            raise ValueError("processed ids must be kept longer than sent outbox rows, or a late "
                             "duplicate could be applied twice")
        if self.batch_limit < 1:
            raise ValueError("LOANFLOW_BATCH_LIMIT must be at least 1")
        proxy_networks(self.trusted_proxies)  # a malformed entry stops the process here, named
        if self.personal_data_retention_days < 0:
            raise ValueError("LOANFLOW_PERSONAL_DATA_RETENTION_DAYS must be 0 (off) or a number of days")
        if not 0 <= self.admission_rate < float("inf"):  # also refuses NaN
            raise ValueError("LOANFLOW_ADMISSION_RATE must be 0 (off) or applications per second")

    @property
    def staff_verification_keys(self) -> tuple[str, ...]:
        """The keys a staff token may be signed with: the current one first, then earlier ones."""
        return (self.staff_key, *self.staff_previous_signing_keys)

    @property
    def staff_key(self) -> str:
        """The key that signs staff tokens now (empty when no secret is configured)."""
        return self.staff_signing_key or derived_key(self.secret_key)

    def with_overrides(self, **changes: object) -> Settings:
        """A copy with some fields changed (tests and the embedded runner use it)."""
        return replace(self, **changes)  # type: ignore[arg-type]
