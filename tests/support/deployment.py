"""The deployment files as the checks read them, and the validators that check them.

``deploy/`` and the ``Procfile`` say the same things several times (the Procfile's commands are
the compose file's and the Kubernetes manifests' commands, bound to every interface): these
helpers read the Procfile once, as the reference the other files are compared with.
"""

from __future__ import annotations

import functools
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.kernel.settings import SERVICES

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
K8S = DEPLOY / "k8s"
VENV_BIN = Path(sys.executable).parent


# --- the validators -----------------------------------------------------------------------------


def _kustomize_major(kubectl: str) -> int:
    out = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True).stdout
    match = re.search(r"Kustomize Version: v(\d+)", out)
    return int(match.group(1)) if match else 0


def _rabbitmq_server() -> str | None:
    return shutil.which("rabbitmq-server") or next(
        (p for p in ("/usr/sbin/rabbitmq-server", "/usr/lib/rabbitmq/bin/rabbitmq-server") if os.path.exists(p)), None)


def system_tools() -> dict[str, str | None]:
    """Paths of the validators PyPI does not provide (None: not installed)."""
    kubectl = shutil.which("kubectl")
    return {
        "docker-compose": shutil.which("docker-compose"),
        "kubectl": kubectl if kubectl and _kustomize_major(kubectl) >= 4 else None,
        "promtool": shutil.which("promtool"),
        "rabbitmq-server": _rabbitmq_server(),
    }


def need(tools: dict[str, Any], name: str) -> str:
    """The path of a system validator, or the test skipped when it could not be installed."""
    path = tools["paths"][name]
    if path is None:  # only when deploy/local/ensure_tools.sh could not install it
        pytest.skip(f"{name} could not be installed by deploy/local/ensure_tools.sh: {tools['note']}")
    return path


def venv_tool(name: str) -> str:
    """A validator installed from PyPI next to this interpreter (requirements-dev.txt)."""
    path = VENV_BIN / name
    assert path.exists(), f"{name} is missing: pip install -r requirements-dev.txt"
    return str(path)


def run(args: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, capture_output=True, text=True, timeout=300, **kwargs)


# --- the Procfile, the reference of every command ----------------------------------------------


@functools.cache
def procfile() -> dict[str, list[str]]:
    """``{process: argv}`` of the Procfile, without its ``env VAR=value`` prefix."""
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, command = line.split(":", 1)
        argv = shlex.split(command)
        if argv[0] == "env":
            argv = argv[1:]
            while "=" in argv[0]:
                argv = argv[1:]
        entries[name.strip()] = argv
    return entries


def loanflow_processes() -> dict[str, tuple[str, str]]:
    """``{Procfile name: (service, kind)}`` of the web, worker and relay processes.

    ``notify_documents_worker`` is a worker of notify: a service may have several of a kind,
    and its container is named like the process (``notify-documents-worker``).
    """
    processes = {}
    for name in procfile():
        service, kind = name.split("_", 1)[0], name.rsplit("_", 1)[-1]
        if service in SERVICES and kind in ("web", "worker", "relay"):
            processes[name] = (service, kind)
    return processes


def container_name(process: str) -> str:
    return process.replace("_", "-")


def container_command(process: str) -> list[str]:
    """The Procfile's command of ``process`` as a container runs it: listening on every interface."""
    argv = [arg.replace("127.0.0.1:", "0.0.0.0:") for arg in procfile()[process]]
    if process == "gateway":
        argv[argv.index("gateway") + 1:argv.index("gateway") + 1] = ["--host", "0.0.0.0"]
    return argv


def pod_command(process: str) -> list[str]:
    """The Procfile's command as a Kubernetes pod runs it: without ``nice``, since a pod gets its CPU
    share from its own ``resources.requests.cpu`` (a niceness would only rank it within its pod)."""
    argv = container_command(process)
    return argv[3:] if argv[:2] == ["nice", "-n"] else argv


@functools.cache
def compose() -> dict[str, Any]:
    """deploy/docker-compose.yml, parsed."""
    return yaml.safe_load(COMPOSE.read_text())
