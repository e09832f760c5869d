"""The whole system in one process: ``make run`` on a machine with no servers installed.

Five SQLite databases, Dramatiq's in-process stub broker with worker threads, the five outbox
relays as threads, the bureau simulator on its own port, and every service's HTTP API behind
one gunicorn server on ``http://127.0.0.1:8000``, routed by path prefix exactly like the
gateway routes separate processes (and, like the gateway, refusing ``/<svc>/metrics``: those are
served on the metrics port, ``127.0.0.1:9190`` by default). The code paths are the production
ones; only the broker and the database engine differ. The stub broker keeps nothing across a restart: at start-up the
outboxes send again whatever their consumers had not applied (``common.messaging.redelivery``).

Its configuration is :class:`loanflow.settings.EmbeddedSettings`, read once by the command line;
what differs from separate processes (generated secrets, the in-process mail catcher, a slower
demo pace, a smaller live-stream cap) is set on copies of the services' ``Settings``
(:func:`in_process_settings`), never in ``os.environ``.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import dramatiq
from gunicorn.app.base import BaseApplication
from werkzeug.serving import make_server

from common.kernel.logs import configure_logging
from common.kernel.settings import SERVICES, Settings, SmtpSettings
from common.messaging.broker import build_broker
from common.messaging.consumers import register_actors
from common.messaging.redelivery import requeue_unapplied
from common.service.background import start_background
from common.service.entrypoints import load_definition, migrate, web_app
from common.service.runtime import Runtime
from common.web import gunicorn_errors
from common.web.security_headers import security_headers
from loanflow.gateway import EXTRA_ROUTES, HOME, NO_SERVICE, health, internal_only
from loanflow.local_secrets import ensure_secret
from loanflow.settings import EmbeddedSettings
from loanflow.staff import ensure_admin

log = logging.getLogger(__name__)

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def embedded_notify(settings: Settings, threads: int) -> Settings:
    """notify's settings in the embedded process, whose threads serve all five APIs.

    Each live stream holds one of those threads until it ends: with the services' own cap (48)
    above the thread count, a few dozen open dashboards took every thread and no request of any
    service was answered. Live streams get at most half the threads; beyond that they are
    refused (503, they retry) and the APIs keep the rest. No proxy stands in front of this
    process, so no ``X-Forwarded-For`` is trusted: the peer is the client.
    """
    cap = max(1, min(settings.max_live_connections, threads // 2))
    return settings.with_overrides(max_live_connections=cap, trusted_proxies=())


def with_secrets(config: EmbeddedSettings) -> EmbeddedSettings:
    """``config`` whose services share the secret key of the environment, else a generated one
    (every service must check the tokens the others issue: applicants' and staff's)."""
    given = config.services["loan"]
    key = ensure_secret("LOANFLOW_SECRET_KEY", given.secret_key, config.var_dir)
    services = {name: s.with_overrides(secret_key=key) for name, s in config.services.items()}
    return replace(config, services=services)


def in_process_settings(config: EmbeddedSettings, smtp: SmtpSettings | None = None) -> dict[str, Settings]:
    """What each service gets in this process: its settings from the environment, with the demo's
    valuation pace, ``smtp`` (the in-process catcher) when given, and notify's live-stream cap."""
    settings = {}
    for name in SERVICES:
        changes: dict[str, Any] = {"valuation_delay_ms": config.valuation_delay_ms}
        if smtp is not None:
            changes["smtp"] = smtp
        settings[name] = config.services[name].with_overrides(**changes)
    settings["notify"] = embedded_notify(settings["notify"], config.http_threads)
    return settings


class PrefixDispatcher:
    """Routes ``/<service>/…`` to that service's app without rewriting the path (as the gateway)."""

    def __init__(self, apps: dict[str, WSGIApp], fallback: WSGIApp) -> None:
        self.apps = apps
        self.fallback = fallback

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        if path == "/health":  # what the gateway answers, so probes and docs hold in both modes
            return _json(start_response, "200 OK", health(self.apps))
        if internal_only(path):  # served on the metrics port only (MetricsDispatcher)
            return _json(start_response, "404 Not Found", NO_SERVICE)
        prefix = path.lstrip("/").split("/", 1)[0]
        return self.apps.get(prefix, self.fallback)(environ, start_response)


class MetricsDispatcher:
    """The embedded mode's metrics port: ``/<service>/metrics`` of each app, and nothing else,
    as each service's own port serves Prometheus when the services run apart."""

    def __init__(self, apps: dict[str, WSGIApp]) -> None:
        self.apps = apps

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        app = self.apps.get(path.lstrip("/").split("/", 1)[0])
        if app is None or not internal_only(path):
            return _json(start_response, "404 Not Found", NO_SERVICE)
        return app(environ, start_response)


def _index(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    if environ.get("PATH_INFO", "/") in ("", "/"):
        start_response("302 Found", [("Location", HOME), *security_headers("").items()])
        return [b""]
    return _json(start_response, "404 Not Found", NO_SERVICE)


def _json(start_response: Callable[..., Any], status: str, document: dict[str, Any]) -> Iterable[bytes]:
    body = json.dumps(document).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                            *security_headers("application/json").items()])
    return [body]


class EmbeddedSystem:
    """Everything of the embedded mode, built and started inside the serving process."""

    def __init__(self, config: EmbeddedSettings) -> None:
        self.config = config
        self.stop = threading.Event()
        self.threads: list[threading.Thread] = []
        self.worker: dramatiq.Worker | None = None
        self.bureau_server: Any = None
        self.metrics_server: Any = None
        self.mailcatcher: Any = None

    def build(self) -> WSGIApp:
        settings = in_process_settings(self.config, self._start_mailcatcher())
        for name in SERVICES:
            migrate(name, settings[name])
        broker = build_broker(settings["loan"])
        runtimes = {name: Runtime(load_definition(name), settings[name]) for name in SERVICES}
        requeue_unapplied(runtimes)  # what the in-memory broker of a previous run lost
        for rt in runtimes.values():
            register_actors(rt, broker)
        self._start_bureau(settings["credit"].bureau_url)
        self.worker = dramatiq.Worker(broker, worker_threads=self.config.worker_threads)
        self.worker.start()
        for rt in runtimes.values():
            self.threads += start_background(rt, broker, self.stop)
        apps = {name: web_app(name, settings[name], rt=runtimes[name]) for name in SERVICES}
        for prefix, service in EXTRA_ROUTES.items():
            apps[prefix] = apps[service]
        self.metrics_server = _serve_in_thread(self.config.metrics_host, self.config.metrics_port,
                                               MetricsDispatcher(apps), "metrics")
        return PrefixDispatcher(apps, _index)

    def _start_mailcatcher(self) -> SmtpSettings | None:
        """Without an SMTP server configured, catch e-mails in ``var/mail``; the SMTP settings
        that reach the catcher, or None to keep the configured server."""
        if not self.config.catch_mail:
            return None
        from loanflow.mailcatcher import start as start_mailcatcher

        port = self.config.mail_port
        self.mailcatcher = start_mailcatcher(str(self.config.var_dir / "mail"), port=port)
        return replace(self.config.services["notify"].smtp, host="127.0.0.1", port=port)

    def _start_bureau(self, url: str) -> None:
        from urllib.parse import urlsplit

        from loanflow.bureau_simulator import create_app as bureau_app

        parts = urlsplit(url)
        if parts.hostname not in ("127.0.0.1", "localhost") or not parts.port:
            return  # a real bureau is configured elsewhere
        # The simulator reads its other BUREAU_* variables itself; the latency has a demo default.
        simulator = bureau_app({"BUREAU_LATENCY_MS": self.config.bureau_latency_ms})
        self.bureau_server = _serve_in_thread(parts.hostname, parts.port, simulator, "bureau-simulator")

    def shutdown(self) -> None:
        self.stop.set()
        if self.worker is not None:
            self.worker.stop(timeout=5000)
        for server in (self.bureau_server, self.metrics_server):
            if server is not None:
                server.shutdown()
        if self.mailcatcher is not None:
            self.mailcatcher.stop()


def _serve_in_thread(host: str, port: int, app: WSGIApp, name: str) -> Any:
    """A small threaded HTTP server for ``app`` on a daemon thread (the bureau simulator, metrics)."""
    server = make_server(host, port, app, threaded=True)
    threading.Thread(target=server.serve_forever, name=name, daemon=True).start()
    return server


class _Server(BaseApplication):
    """gunicorn, configured in code: one process (the stub broker lives in it), many threads."""

    def __init__(self, bind: str, config: EmbeddedSettings) -> None:
        self.bind = bind
        self.system = EmbeddedSystem(config)
        super().__init__()

    def load_config(self) -> None:
        system = self.system
        for key, value in {
            "bind": self.bind,
            "workers": 1,
            "threads": system.config.http_threads,
            "worker_class": "gthread",
            "timeout": 120,
            "graceful_timeout": 10,
            "accesslog": None,
            "worker_exit": lambda _server, _worker: system.shutdown(),
            "post_worker_init": lambda _worker: gunicorn_errors.install(),
            **gunicorn_errors.LIMITS,
        }.items():
            self.cfg.set(key, value)

    def load(self) -> WSGIApp:
        return self.system.build()


def serve(config: EmbeddedSettings, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Run the embedded system until interrupted (``make run``)."""
    configure_logging("embedded", config.log_level)
    config = with_secrets(config)
    base, var_dir = f"http://{host}:{port}", config.var_dir
    migrate("loan", config.services["loan"])  # the accounts table, for the first admin
    sign_in = ensure_admin(config.services["loan"], config.admin_password, var_dir, base)
    print(
        f"\nloanflow (embedded) on {base}\n"
        f"  Swagger UI:   {base}/loan/docs  (and /credit/docs, /property/docs, /decision/docs, /notify/docs)\n"
        f"  {sign_in}\n"
        f"  Dashboards:   {base}/notify/dashboard (officers), {base}/tasks (operators)\n"
        f"  Metrics:      http://{config.metrics_host}:{config.metrics_port}/<service>/metrics  (Prometheus)\n"
        f"  Data:         {var_dir}  (e-mails sent to applicants: {var_dir / 'mail'})\n",
        flush=True,
    )
    _Server(f"{host}:{port}", config).run()
