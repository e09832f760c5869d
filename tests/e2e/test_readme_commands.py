"""The README's own command lines, run as a new user runs them, answer.

The lines are read from README.md (not copied here), so a README that names a command the
Makefile cannot run fails this test. ``make run-services`` runs on the session's own PostgreSQL
and RabbitMQ, given through the environment as a user with servers elsewhere would
(deploy/local/services.env only fills in what is unset); ``make run`` on a free port and a
temporary data folder. Each then takes an application from submission to its decision.
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

import pytest
import requests

from tests.support.embedded import embedded_env
from tests.support.payloads import application
from tests.support.polling import TERMINAL, eventually
from tests.support.servers import Servers, free_port, port_open
from tests.support.stack import SERVICES, procfile

pytestmark = [pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]


def readme_commands() -> list[str]:
    """Every command line of the README's shell blocks (comments and continuations dropped)."""
    blocks = re.findall(r"```(?:bash|sh|shell)\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)
    lines = []
    for block in blocks:
        for line in block.splitlines():
            command = line.split(" #", 1)[0].strip()
            if command.startswith("make "):
                lines.append(command)
    return lines


def readme_command(target: str) -> list[str]:
    """The README's line that runs ``make <target>``, as argv."""
    for command in readme_commands():
        argv = shlex.split(command)
        if argv[:2] == ["make", target]:
            return argv
    raise AssertionError(f"the README gives no `make {target}` command")


def test_the_readme_gives_the_two_commands_and_the_services_one() -> None:
    commands = [shlex.split(c)[:2] for c in readme_commands()]
    for target in ("run", "test", "run-services"):
        assert ["make", target] in commands, target


@contextlib.contextmanager
def running(argv: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``argv`` in its own process group, ended (TERM, then KILL) however the test ends."""
    with log.open("ab") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def assert_signs_in(base: str, username: str, password: str) -> None:
    """``POST /auth/token`` with these credentials gives a staff token that opens a staff view."""
    answer = requests.post(f"{base}/auth/token", json={"username": username, "password": password}, timeout=10)
    assert answer.status_code == 200, answer.text
    token = answer.json()["access_token"]
    me = requests.get(f"{base}/auth/me", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert me.json() == {"username": username, "role": "admin"}, me.text


def decide_one(base: str, log: Path, process: subprocess.Popen[bytes]) -> dict:
    """Wait for every service to be ready behind ``base``, submit one application, wait for its end."""
    def ready() -> bool:
        assert process.poll() is None, f"exited with {process.returncode}:\n{log.read_text()[-3000:]}"
        try:
            return all(requests.get(f"{base}/{s}/ready", timeout=2).status_code == 200 for s in SERVICES)
        except requests.RequestException:
            return False

    assert eventually(ready, bool, timeout=180, interval=1), log.read_text()[-3000:]
    accepted = requests.post(f"{base}/loan/applications", json=application(), timeout=10)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    headers = {"Authorization": f"Bearer {body['access_token']}"}

    def current() -> dict:
        return requests.get(f"{base}/loan/applications/{body['id']}", headers=headers, timeout=10).json()

    return eventually(current, lambda state: state["status"] in TERMINAL, timeout=60, interval=0.5)


def _procfile_ports() -> list[int]:
    found = re.findall(r"(?<=[:= ])(80\d\d|9[123]\d\d)\b", " ".join(procfile().values()))
    return sorted({int(port) for port in found})


def test_make_run_services_as_the_readme_gives_it(servers: Servers, tmp_path: Path) -> None:
    busy = [port for port in _procfile_ports() if port_open(port)]
    if busy and not os.environ.get("CI"):
        pytest.skip(f"ports {busy} are taken (a running loanflow?): make run-services needs them")
    assert not busy, f"ports {busy} are taken: make run-services needs them"
    from tests.support.databases import ensure_database

    urls = {service: ensure_database(service, prefix="loanflow_readme") for service in SERVICES}
    servers.rabbitmq.reset_vhost("loanflow_readme")
    # No LOANFLOW_SECRET_KEY: the README's command must make one itself, as on a fresh machine.
    env = {**{k: v for k, v in os.environ.items() if k != "LOANFLOW_SECRET_KEY"},
           **{f"{service.upper()}_DATABASE_URL": url for service, url in urls.items()},
           "BROKER_URL": servers.rabbitmq.amqp_url("loanflow_readme"),
           "RABBITMQ_MANAGEMENT_URL": servers.rabbitmq.management_url,
           "LOANFLOW_ADMIN_PASSWORD": "readme-admin-password",
           "LOANFLOW_MAIL_DIR": str(tmp_path / "mail")}
    log = tmp_path / "make-run-services.log"
    with running(readme_command("run-services"), env, log) as process:
        outcome = decide_one("http://127.0.0.1:8000", log, process)
        # It made the first account with the password of the environment, and said how to sign in.
        assert_signs_in("http://127.0.0.1:8000", "admin", "readme-admin-password")
    assert outcome["status"] == "APPROVED", outcome
    told = log.read_text()
    assert ("Staff sign-in: http://127.0.0.1:8000/notify/dashboard as 'admin', password the value of "
            "$LOANFLOW_ADMIN_PASSWORD") in told, told[-2000:]


def test_make_run_as_the_readme_gives_it(tmp_path: Path) -> None:
    port = free_port()
    env = embedded_env(tmp_path / "var", PORT=str(port), LOANFLOW_ADMIN_PASSWORD="")
    log = tmp_path / "make-run.log"
    with running(readme_command("run"), env, log) as process:
        started = time.monotonic()
        outcome = decide_one(f"http://127.0.0.1:{port}", log, process)
        # No LOANFLOW_ADMIN_PASSWORD, as on a fresh machine: one was generated into var/ and
        # printed with how to sign in; it signs in.
        told = re.search(r"as 'admin', password (\S+) \(kept in (\S+)\)", log.read_text())
        assert told, log.read_text()[-2000:]
        assert Path(told.group(2)).read_text().strip() == told.group(1)
        assert_signs_in(f"http://127.0.0.1:{port}", "admin", told.group(1))
    assert outcome["status"] == "APPROVED", (outcome, time.monotonic() - started)
