"""deploy/k8s: ``kubectl kustomize`` renders each overlay, ``kubernetes-validate`` checks every object
against the 1.30 schemas (strict); probes, security and commands are checked too."""

from __future__ import annotations

import re
import shutil
from typing import Any

import pytest
import yaml

from common.kernel.settings import SERVICES
from loanflow.gateway import DEFAULT_PORTS, routes
from tests.support.deployment import (
    DEPLOY,
    K8S,
    ROOT,
    container_command,
    container_name,
    loanflow_processes,
    need,
    pod_command,
    run,
)

OVERLAYS = ("demo", "production")
KUBERNETES_VERSION = "1.30.0"


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
        assert container["command"] + container["args"] == pod_command(process)
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
    # Each worker hosts its service's outbox relay: no relay Deployment.
    assert not [o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].endswith("-relay")]

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


def _containers(obj: dict[str, Any]) -> list[dict[str, Any]]:
    pod = obj["spec"]["template"]["spec"]
    return [*pod.get("initContainers", []), *pod["containers"]]


def _workloads(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [o for o in objects if o["kind"] in ("Deployment", "StatefulSet", "Job")]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_first_admin_job_runs_after_the_migrations_with_the_loan_environment(
        rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    objects = rendered[overlay]
    job, migrate = find(objects, "Job", "loanflow-first-admin"), find(objects, "Job", "loanflow-migrate")
    for key in ("backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished"):
        assert job["spec"][key] == migrate["spec"][key], key
    pod, migrate_pod = job["spec"]["template"]["spec"], migrate["spec"]["template"]["spec"]
    for key in ("restartPolicy", "securityContext", "volumes", "enableServiceLinks"):
        assert pod[key] == migrate_pod[key], key
    _assert_hardened(job)
    container = _container(job)
    assert container["command"] + container["args"] == ["python", "-m", "loanflow.cli", "staff", "ensure-admin"]
    # Ordering (no depends_on in Kubernetes): its init container brings loan's schema up to date
    # first, serialised with loanflow-migrate by the migrations' advisory lock.
    [init] = pod["initContainers"]
    assert init["command"] + init["args"] == ["python", "-m", "loanflow.cli", "migrate", "loan"]
    migrate_container = _container(migrate)
    for key in ("image", "securityContext", "resources", "volumeMounts", "envFrom"):
        assert init[key] == container[key] == migrate_container[key], key
    init_env = {e["name"]: e for e in init["env"]}
    assert init_env == {"LOAN_DATABASE_URL": {e["name"]: e for e in migrate_container["env"]}["LOAN_DATABASE_URL"]}
    # loan-web's environment, plus the first password, required (the pod does not start without it).
    env = {e["name"]: e for e in container["env"]}
    password = env.pop("LOANFLOW_ADMIN_PASSWORD")["valueFrom"]["secretKeyRef"]
    assert password["name"].startswith("loanflow-secrets-") and password["key"] == "LOANFLOW_ADMIN_PASSWORD"
    assert not password.get("optional")
    assert env == {e["name"]: e for e in _container(find(objects, "Deployment", "loan-web"))["env"]}
    assert [o["metadata"]["name"] for o in _workloads(objects) for c in _containers(o)
            if "LOANFLOW_ADMIN_PASSWORD" in {e["name"] for e in c.get("env", [])}] == ["loanflow-first-admin"]


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_staff_sign_in_keys_and_route(rendered: dict[str, list[dict[str, Any]]], overlay: str) -> None:
    """No shared staff token; the optional signing keys wherever the secret key goes; /auth/ to loan."""
    objects = rendered[overlay]
    secret = next(o for o in objects if o["kind"] == "Secret")
    assert "LOANFLOW_STAFF_TOKEN" not in secret["data"]
    assert {"LOANFLOW_SECRET_KEY", "LOANFLOW_ADMIN_PASSWORD"} <= set(secret["data"])
    for workload in _workloads(objects):
        for container in _containers(workload):
            env = {e["name"]: e for e in container.get("env", [])}
            name = f"{workload['metadata']['name']}/{container['name']}"
            assert "LOANFLOW_STAFF_TOKEN" not in env, name
            if "LOANFLOW_SECRET_KEY" not in env:
                continue
            for key in ("LOANFLOW_STAFF_SIGNING_KEY", "LOANFLOW_STAFF_PREVIOUS_SIGNING_KEYS"):
                ref = env[key]["valueFrom"]["secretKeyRef"]
                assert ref["name"] == env["LOANFLOW_SECRET_KEY"]["valueFrom"]["secretKeyRef"]["name"], name
                assert ref["key"] == key and ref["optional"] is True, name
    # Every web process verifies staff tokens itself, so every one gets the keys.
    for svc in SERVICES:
        web = _container(find(objects, "Deployment", f"{svc}-web"))
        assert "LOANFLOW_SECRET_KEY" in {e["name"] for e in web["env"]}, svc
    # /auth/ takes the way of /loan/: the Ingress sends every path to the gateway, which routes it.
    ingress = find(objects, "Ingress", "loanflow")
    for rule in ingress["spec"]["rules"]:
        assert rule["http"]["paths"] == [{"path": "/", "pathType": "Prefix",
                                          "backend": {"service": {"name": "gateway", "port": {"name": "http"}}}}]
    config = next(o for o in objects if o["kind"] == "ConfigMap")["data"]
    table = routes({svc: config[f"LOANFLOW_UPSTREAM_{svc.upper()}"] for svc in SERVICES})
    assert table.get("auth") == table["loan"] == "http://loan-web:8001", \
        "loanflow.gateway.EXTRA_ROUTES must route /auth/ to loan"


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
