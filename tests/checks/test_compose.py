"""deploy/docker-compose.yml: valid for ``docker-compose config`` (Debian's 1.29) and the compose-spec
JSON schema shipped by ``check-jsonschema``; every command is the Procfile's, bound to 0.0.0.0."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from common.kernel.settings import SERVICES
from loanflow.gateway import DEFAULT_PORTS
from tests.support.deployment import (
    COMPOSE,
    DEPLOY,
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
    "LOANFLOW_STAFF_TOKEN": "staff-test",
    "LOANFLOW_SECRET_KEY": "secret-test",
    "GRAFANA_ADMIN_PASSWORD": "grafana-test",
}


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
        else:
            assert test == ["CMD", "python", "deploy/healthcheck.py", "dramatiq", f"{svc}_app.worker"]
    # Each worker hosts its service's outbox relay: no relay container.
    assert not [name for name in services if name.endswith("-relay")]
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
