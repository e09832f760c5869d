"""The real system as separate processes, for end-to-end and fault tests.

Runs the very command lines of the ``Procfile`` (so what is tested is what ``make run-services``
runs), on the test PostgreSQL databases and a dedicated RabbitMQ virtual host, with ports moved
by an offset so a developer's running system is left alone.
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import requests

from tests.support import servers

ROOT = Path(__file__).resolve().parents[2]
PORT_OFFSET = 10_000
SERVICES = ("loan", "credit", "property", "decision", "notify")


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """``{process name: command}`` from a Procfile."""
    entries: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


def shift_ports(command: str, offset: int = PORT_OFFSET) -> str:
    """Move every port of a command line (``80xx`` services, ``91xx``–``93xx`` metrics) by ``offset``."""
    return re.sub(r"(?<=[:= ])(80\d\d|9[123]\d\d)\b", lambda m: str(int(m.group(1)) + offset), command)


def reset_vhost(vhost: str) -> None:
    """An empty RabbitMQ virtual host on the session's node (queues of a previous run gone)."""
    servers.current.rabbitmq.reset_vhost(vhost)


class Stack:
    """Start, stop, kill and restart the processes of the Procfile."""

    def __init__(self, env: dict[str, str], log_dir: Path, offset: int = PORT_OFFSET) -> None:
        self.offset = offset
        # Ports moved; the run's files (metrics) under the log folder instead of the checkout's var/.
        self.commands = {name: shift_ports(cmd, offset).replace("=var/", f"={log_dir}/var/")
                         for name, cmd in procfile().items()}
        self.env = {**os.environ, **env, "PATH": f"{ROOT / '.venv/bin'}:{os.environ.get('PATH', '')}"}
        for service in SERVICES:
            self.env[f"LOANFLOW_UPSTREAM_{service.upper()}"] = (
                f"http://127.0.0.1:{8001 + SERVICES.index(service) + offset}"
            )
        self.env["BUREAU_URL"] = f"http://127.0.0.1:{8090 + offset}"
        self.log_dir = log_dir
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        #: The services' database URLs (set by :func:`launched`).
        self.urls: dict[str, str] = {}
        #: The proxy every process reaches RabbitMQ through, if launched with one.
        self.broker_link: servers.NetProxy | None = None
        #: The RabbitMQ virtual host of this system.
        self.vhost = ""

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{8000 + self.offset}"

    def service(self, name: str) -> str:
        """The base URL of service ``name``'s own port, where its ``/<name>/metrics`` is scraped
        (the gateway refuses them)."""
        return self.env[f"LOANFLOW_UPSTREAM_{name.upper()}"]

    @property
    def maildir(self) -> Path:
        """Where the stack's mail catcher keeps the e-mails it received."""
        return Path(self.env["LOANFLOW_MAIL_DIR"])

    @property
    def bureau(self) -> str:
        return self.env["BUREAU_URL"]

    def start(self, *names: str) -> None:
        for name in names or tuple(self.commands):
            log = open(self.log_dir / f"{name}.log", "ab")  # noqa: SIM115 - lives as long as the process
            self.processes[name] = subprocess.Popen(
                shlex.split(self.commands[name]), cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def signal(self, name: str, sig: int) -> None:
        os.killpg(self.processes[name].pid, sig)

    def stop(self, *names: str, timeout: float = 15) -> None:
        targets = [n for n in (names or tuple(self.processes)) if n in self.processes]
        for name in targets:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.processes[name].pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for name in targets:
            process = self.processes.pop(name)
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

    def kill(self, name: str) -> None:
        """``kill -9`` the whole process group of ``name``."""
        self.signal(name, signal.SIGKILL)
        self.processes.pop(name).wait()

    def wait_ready(self, timeout: float = 60) -> None:
        """Every service answers ``/ready`` through the gateway, and the bureau answers."""
        deadline = time.monotonic() + timeout
        pending = [f"{self.gateway}/{s}/ready" for s in SERVICES] + [f"{self.bureau}/health"]
        while pending:
            url = pending[0]
            try:
                if requests.get(url, timeout=2).status_code == 200:
                    pending.pop(0)
                    continue
            except requests.RequestException:
                pass
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}; see {self.log_dir}/{name}.log")
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready: {url}")
            time.sleep(0.3)


@contextlib.contextmanager
def launched(prefix: str, vhost: str, offset: int, log_dir: Path, *, broker_link: bool = False,
             **env: str) -> Iterator[tuple[Stack, dict[str, str]]]:
    """A fresh system: new databases ``<prefix>_<service>``, an empty vhost, every Procfile process.

    With ``broker_link`` every process reaches RabbitMQ through a :class:`~tests.support.servers.NetProxy`
    (``stack.broker_link``) that fault tests can black-hole or degrade, and with a 5 s AMQP
    heartbeat (production: the broker's 30 s) so that a silent link is noticed within a test's
    patience. Yields the stack and the database URLs; stops every process on exit, whatever happened.
    """
    from loanflow.staff import ensure_admin
    from tests.conftest import ADMIN_PASSWORD, SECRET_KEY, make_settings
    from tests.support.databases import reset_database

    urls = {name: reset_database(name, prefix=prefix) for name in SERVICES}
    # The first account, as ``make run-services`` makes it (``staff ensure-admin``).
    ensure_admin(make_settings("loan", urls["loan"]), ADMIN_PASSWORD, log_dir, "")
    reset_vhost(vhost)
    rabbitmq = servers.current.rabbitmq
    link = servers.NetProxy(rabbitmq.amqp_port, log_dir / "broker-link.log") if broker_link else None
    broker_url = (f"amqp://guest:guest@127.0.0.1:{link.port}/{vhost}?heartbeat=5" if link
                  else rabbitmq.amqp_url(vhost))
    base = {f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()}
    base.update(
        BROKER_URL=broker_url,
        LOANFLOW_SECRET_KEY=SECRET_KEY,
        LOANFLOW_STEP_MAX_RETRIES="3",
        LOANFLOW_MIN_BACKOFF_MS="100",
        LOANFLOW_MAX_BACKOFF_MS="1000",
        LOANFLOW_RELAY_POLL_SECONDS="0.05",
        BUREAU_LATENCY_MS="20",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(8025 + offset),
        LOANFLOW_MAIL_DIR=str(log_dir / "mail"),
        RABBITMQ_MANAGEMENT_URL=servers.current.rabbitmq.management_url,
        # The tests and benchmarks submit everything from one address: no submission limit,
        # unless a caller sets one (tests/e2e/test_abuse_limits.py restarts loan_web with one).
        LOANFLOW_SUBMIT_RATE_LIMIT="0",
        LOANFLOW_REISSUE_RATE_LIMIT="0",
    )
    running = Stack({**base, **env}, log_dir, offset=offset)
    running.urls = urls
    running.broker_link = link
    running.vhost = vhost
    try:
        running.start()
        running.wait_ready()
        yield running, urls
    finally:
        running.stop()
        if link:
            link.stop()
