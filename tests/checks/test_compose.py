"""deploy/docker-compose.yml: valid for ``docker-compose config`` (Debian's 1.29) and the compose-spec
JSON schema shipped by ``check-jsonschema``; every command is the Procfile's, bound to 0.0.0.0."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from common.kernel.settings import SERVICES
from loanflow.gateway import DEFAULT_PORTS, routes
from tests.support.deployment import (
    COMPOSE,
    DEPLOY,
    ROOT,
    compose,
    container_command,
    container_name,
    loanflow_processes,
    need,
    run,
    venv_tool,
)

#: Dummy values of the variables the compose file requires (`${VAR:?…}`).
COMPOSE_ENV = {
    "RABBITMQ_PASSWORD": "rabbit-test",
    "POSTGRES_PASSWORD": "postgres-test",
    "LOANFLOW_SECRET_KEY": "secret-test",
    "LOANFLOW_ADMIN_PASSWORD": "admin-test",
    "GRAFANA_ADMIN_PASSWORD": "grafana-test",
}


#: Containers that run once and exit: the migrations, then the first staff account.
ONE_SHOTS = {"migrate", "first-admin"}


def compose_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in COMPOSE_ENV}
    return {**env, **COMPOSE_ENV}


def test_compose_config_is_valid_for_docker_compose(tools: dict[str, Any]) -> None:
    docker_compose = need(tools, "docker-compose")
    result = run([docker_compose, "-f", str(COMPOSE), "config", "-q"], env=compose_env())
    assert result.returncode == 0, result.stderr
    # Secrets are required from the environment: without them, compose refuses to start.
    for secret in ("LOANFLOW_SECRET_KEY", "LOANFLOW_ADMIN_PASSWORD"):
        without = {k: v for k, v in compose_env().items() if k != secret}
        result = run([docker_compose, "-f", str(COMPOSE), "config", "-q"], env=without)
        assert result.returncode != 0 and secret in result.stderr, secret


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
    for svc in SERVICES:
        assert services["gateway"]["environment"][f"LOANFLOW_UPSTREAM_{svc.upper()}"] == \
            f"http://{svc}-web:{DEFAULT_PORTS[svc]}"
    assert services["bureau"]["command"] == container_command("bureau")
    assert services["gateway"]["command"] == container_command("gateway")
    assert "http://127.0.0.1:8000/health" in " ".join(services["gateway"]["healthcheck"]["test"])
    assert services["gateway"]["ports"] == ["${LOANFLOW_HTTP_PORT:-8000}:8000"]
    assert services["migrate"]["command"] == ["python", "-m", "loanflow.cli", "migrate"]
    assert services["first-admin"]["command"] == ["python", "-m", "loanflow.cli", "staff", "ensure-admin"]


def test_compose_services_contract() -> None:
    data = compose()
    services = data["services"]
    loanflow = {name for name, s in services.items() if s.get("image", "").startswith("${LOANFLOW_IMAGE")}
    assert loanflow == {container_name(p) for p in loanflow_processes()} | ONE_SHOTS | {"bureau", "gateway"}
    for name in loanflow:
        service = services[name]
        assert service["build"] == {"context": "..", "dockerfile": "deploy/Dockerfile"}, name
        assert service["deploy"]["resources"]["limits"]["memory"], name
        assert service["read_only"] is True and service["tmpfs"] == ["/tmp"], name
        if name in ONE_SHOTS:
            assert service["restart"] == "no", name
            assert "healthcheck" not in service, name
        else:
            assert service["restart"] == "unless-stopped", name
            assert service["healthcheck"]["test"][0] == "CMD", name
        if name not in ONE_SHOTS | {"bureau", "gateway"}:
            assert service["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}, name
            assert service["depends_on"]["rabbitmq"] == {"condition": "service_healthy"}, name
            assert service["environment"]["BROKER_URL"].startswith("amqp://${RABBITMQ_USER:-loanflow}:${RABBITMQ_PASSWORD")
    for process, (svc, kind) in loanflow_processes().items():
        test = services[container_name(process)]["healthcheck"]["test"]
        if kind == "web":
            assert f"http://127.0.0.1:{DEFAULT_PORTS[svc]}/{svc}/health" in test[-1]
        else:
            assert test == ["CMD", "python", "deploy/healthcheck.py", "dramatiq", f"{svc}_app.worker"]
    # Each worker hosts its service's outbox relay: no relay container.
    assert not [name for name in services if name.endswith("-relay")]
    assert services["rabbitmq"]["image"] == "rabbitmq:3.13-management"
    assert services["rabbitmq"]["healthcheck"]["test"] == ["CMD", "rabbitmq-diagnostics", "-q", "ping"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    assert set(data["volumes"]) >= {"rabbitmq-data", "postgres-data"}
    # Secrets only ever come from the environment.
    env = data["x-loanflow-env"]
    assert env["LOANFLOW_SECRET_KEY"] == "${LOANFLOW_SECRET_KEY:?set it}"
    # The staff signing keys are optional: empty unless set (rotation), never required.
    assert env["LOANFLOW_STAFF_SIGNING_KEY"] == "${LOANFLOW_STAFF_SIGNING_KEY:-}"
    assert env["LOANFLOW_STAFF_PREVIOUS_SIGNING_KEYS"] == "${LOANFLOW_STAFF_PREVIOUS_SIGNING_KEYS:-}"
    for name, service in services.items():
        environment = service.get("environment") or {}
        for key, value in environment.items():
            if re.search(r"TOKEN|SECRET|PASSWORD|PASS$|KEYS?$", key):
                assert str(value).startswith("${"), f"{name}: {key} is hard-coded"
    # Every file the compose file mounts exists.
    for service in services.values():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), source


def test_first_admin_runs_once_after_the_migrations_with_the_loan_environment() -> None:
    services = compose()["services"]
    admin = services["first-admin"]
    assert admin["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert admin["depends_on"]["postgres"] == {"condition": "service_healthy"}
    environment = dict(admin["environment"])
    # Required from the secrets: unset, the command would write a generated password into var/.
    assert environment.pop("LOANFLOW_ADMIN_PASSWORD") == "${LOANFLOW_ADMIN_PASSWORD:?set it}"
    assert environment == services["loan-web"]["environment"]
    assert [name for name, s in services.items() if "LOANFLOW_ADMIN_PASSWORD" in (s.get("environment") or {})] \
        == ["first-admin"]
    for key in ("image", "read_only", "tmpfs", "cap_drop", "security_opt", "init"):
        assert admin[key] == services["migrate"][key], key


def test_auth_is_routed_to_loan_like_loan() -> None:
    """Staff sign in with ``POST /auth/token``: the gateway sends ``/auth/`` to loan-web as ``/loan/``."""
    gateway = compose()["services"]["gateway"]["environment"]
    upstreams = {svc: gateway[f"LOANFLOW_UPSTREAM_{svc.upper()}"] for svc in SERVICES}
    table = routes(upstreams)
    assert table.get("auth") == table["loan"] == "http://loan-web:8001", \
        "loanflow.gateway.EXTRA_ROUTES must route /auth/ to loan"


def test_no_shared_staff_token_left_in_deploy() -> None:
    """The shared staff token is gone: staff sign in as themselves (``POST /auth/token``)."""
    listed = run(["git", "ls-files", "--cached", "--others", "--exclude-standard", "deploy"], cwd=ROOT)
    assert listed.returncode == 0, listed.stderr
    files = [ROOT / f for f in listed.stdout.split()]
    assert COMPOSE in files
    stale = [str(f.relative_to(ROOT)) for f in files
             if f.is_file() and re.search(r"LOANFLOW_STAFF_TOKEN\b", f.read_text(errors="replace"))]
    assert not stale


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
