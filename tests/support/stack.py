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
    """An empty RabbitMQ virtual host (queues of a previous run gone)."""
    subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
                   check=True, capture_output=True)


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

    @property
    def gateway(self) -> str:
        return f"http://127.0.0.1:{8000 + self.offset}"

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
def launched(prefix: str, vhost: str, offset: int, log_dir: Path, **env: str) -> Iterator[tuple[Stack, dict[str, str]]]:
    """A fresh system: new databases ``<prefix>_<service>``, an empty vhost, every Procfile process.

    Yields the stack and the database URLs; stops every process on exit, whatever happened.
    """
    from tests.conftest import SECRET_KEY, STAFF_TOKEN
    from tests.support.databases import reset_database

    urls = {name: reset_database(name, prefix=prefix) for name in SERVICES}
    reset_vhost(vhost)
    base = {f"{name.upper()}_DATABASE_URL": url for name, url in urls.items()}
    base.update(
        BROKER_URL=f"amqp://guest:guest@127.0.0.1:5672/{vhost}",
        LOANFLOW_STAFF_TOKEN=STAFF_TOKEN,
        LOANFLOW_SECRET_KEY=SECRET_KEY,
        LOANFLOW_STEP_MAX_RETRIES="3",
        LOANFLOW_MIN_BACKOFF_MS="100",
        LOANFLOW_MAX_BACKOFF_MS="1000",
        LOANFLOW_RELAY_POLL_SECONDS="0.05",
        BUREAU_LATENCY_MS="20",
        SMTP_HOST="127.0.0.1",
        SMTP_PORT=str(8025 + offset),
        LOANFLOW_MAIL_DIR=str(log_dir / "mail"),
        RABBITMQ_MANAGEMENT_URL="http://guest:guest@127.0.0.1:15672",
    )
    running = Stack({**base, **env}, log_dir, offset=offset)
    running.urls = urls
    running.start()
    try:
        running.wait_ready()
        yield running, urls
    finally:
        running.stop()
