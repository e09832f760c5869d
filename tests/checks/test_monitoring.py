"""Prometheus and Grafana: ``promtool check config``, ``check rules``, ``test rules`` (promtool from
Debian's prometheus package), the structure and the runbook anchors in docs/operations.md, the
provisioning and the dashboard (every panel has queries; promtool parses them)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from common.kernel.settings import SERVICES
from loanflow.gateway import DEFAULT_PORTS
from tests.support.deployment import DEPLOY, ROOT, compose, container_name, loanflow_processes, need, run

RUNBOOK_ANCHORS = {"dead-letters", "outbox-lag", "outbox-parked", "error-rate", "no-consumers", "target-down",
                   "reviews-overdue"}


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
    expected: dict[str, set[tuple[str, str]]] = {"web": set(), "worker": set()}
    for process, (svc, kind) in loanflow_processes().items():
        port = {"web": DEFAULT_PORTS[svc], "worker": 9191}[kind]
        labels = {"service": svc, "__metrics_path__": f"/{svc}/metrics"} if kind == "web" else {"service": svc}
        expected[kind].add((f"{container_name(process)}:{port}", json.dumps(labels, sort_keys=True)))
    for kind, wanted in expected.items():
        got = {(target, json.dumps(labels, sort_keys=True)) for target, labels in targets[f"loanflow-{kind}"]}
        assert got == wanted, kind
    # The outbox relays run in the workers: their metrics come with the worker job's.
    assert "loanflow-relay" not in jobs
    for name in ("loanflow-web", "loanflow-worker", "rabbitmq", "rabbitmq-per-object"):
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
