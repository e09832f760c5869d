"""Settings of the whole-system processes: the gateway, the mail catcher and the embedded mode.

Read through :class:`common.kernel.settings.Environment`, like the services' ``Settings``, once
when the process starts (``loanflow.cli`` and ``python -m loanflow.mailcatcher`` do it), then
passed down. Every variable is listed in docs/operations.md (§ Configuration).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from common.kernel.networks import proxy_networks
from common.kernel.settings import SERVICES, Environment, Settings

#: The port of each service's web process in the Procfile: where the gateway finds them by default.
DEFAULT_PORTS = {"loan": 8001, "credit": 8002, "property": 8003, "decision": 8004, "notify": 8005}


@dataclass(frozen=True)
class GatewaySettings:
    """The gateway: where each service answers, and the largest body it forwards."""

    #: ``{service: base URL}`` from ``LOANFLOW_UPSTREAM_<SERVICE>``.
    upstreams: Mapping[str, str] = field(
        default_factory=lambda: {name: f"http://127.0.0.1:{port}" for name, port in DEFAULT_PORTS.items()})
    #: The services' own limit (``LOANFLOW_MAX_BODY_BYTES``): the gateway lets a little more
    #: through, so that the service answers a body over it with its own JSON ``413``.
    max_body_bytes: int = 64 * 1024
    #: Proxies in front of the gateway (an ingress) whose ``X-Forwarded-For`` it passes on as the
    #: client's (``LOANFLOW_TRUSTED_PROXIES``); none by default: the gateway is the edge, and
    #: appends the address it sees (loanflow/gateway.py).
    trusted_proxies: tuple[str, ...] = ()
    log_level: str = "INFO"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> GatewaySettings:
        env = Environment(environ)
        return cls(
            upstreams={name: env.text(f"LOANFLOW_UPSTREAM_{name.upper()}", f"http://127.0.0.1:{DEFAULT_PORTS[name]}")
                       for name in SERVICES},
            max_body_bytes=env.integer("LOANFLOW_MAX_BODY_BYTES", 64 * 1024),
            trusted_proxies=env.items("LOANFLOW_TRUSTED_PROXIES"),
            log_level=env.log_level(),
        )

    def __post_init__(self) -> None:
        proxy_networks(self.trusted_proxies)  # a malformed entry stops the gateway here, named


@dataclass(frozen=True)
class MailCatcherSettings:
    """The mail catcher of the Procfile (``python -m loanflow.mailcatcher``)."""

    #: The maildir e-mails are kept in (``LOANFLOW_MAIL_DIR``).
    directory: str = "var/mail"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> MailCatcherSettings:
        return cls(directory=Environment(environ).raw("LOANFLOW_MAIL_DIR", "var/mail"))


@dataclass(frozen=True)
class EmbeddedSettings:
    """The embedded mode (``make run``): its own knobs, and the five services' settings as the
    environment gives them. ``loanflow.embedded`` derives what its in-process services get."""

    #: Each service's settings, from the same environment as a separate process would read.
    services: Mapping[str, Settings]
    #: SQLite files, generated secrets and e-mails (``LOANFLOW_VAR_DIR``, default ``./var``).
    var_dir: Path
    #: Threads of the one gunicorn process that serves every API (``LOANFLOW_HTTP_THREADS``).
    http_threads: int = 32
    #: Dramatiq worker threads of the in-process broker (``LOANFLOW_WORKER_THREADS``).
    worker_threads: int = 8
    #: No ``SMTP_HOST`` configured: run a mail catcher in-process, on ``LOANFLOW_MAIL_PORT``.
    catch_mail: bool = True
    mail_port: int = 8025
    #: Demo pace, unless set: the in-process bureau simulator's latency (``BUREAU_LATENCY_MS``,
    #: given to it as the simulator reads it) and a valuation's duration (``VALUATION_DELAY_MS``).
    bureau_latency_ms: str = "300"
    valuation_delay_ms: int = 400
    #: Where Prometheus scrapes ``/<svc>/metrics`` of every service (``LOANFLOW_METRICS_PORT``,
    #: ``LOANFLOW_METRICS_HOST``): apart from the public port, which refuses them as the gateway does.
    metrics_port: int = 9190
    metrics_host: str = "127.0.0.1"
    log_level: str = "INFO"
    #: The first staff account's password (``LOANFLOW_ADMIN_PASSWORD``); empty: generated into
    #: ``var/`` once (:mod:`loanflow.staff`).
    admin_password: str = ""

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> EmbeddedSettings:
        env = Environment(environ)
        services = {name: Settings.from_env(name, env.environ) for name in SERVICES}
        return cls(
            services=services,
            var_dir=env.var_dir(),
            http_threads=env.integer("LOANFLOW_HTTP_THREADS", 32),
            worker_threads=env.integer("LOANFLOW_WORKER_THREADS", 8),
            catch_mail=not env.raw("SMTP_HOST"),
            mail_port=env.integer("LOANFLOW_MAIL_PORT", 8025),
            bureau_latency_ms=env.raw("BUREAU_LATENCY_MS", "300"),
            valuation_delay_ms=env.integer("VALUATION_DELAY_MS", 400),
            metrics_port=env.integer("LOANFLOW_METRICS_PORT", 9190),
            metrics_host=env.text("LOANFLOW_METRICS_HOST", "127.0.0.1"),
            log_level=env.log_level(),
            admin_password=env.raw("LOANFLOW_ADMIN_PASSWORD"),
        )
