"""The benchmark's table: one row per figure, with its unit and the reference it is judged against.

Every figure a run reports is named in :data:`FIGURES` (the smoke test checks that each one is
there); per-step, per-entry and per-process rows follow them. :func:`bound` derives, from the
ceilings and the counts, the rate the broker and the database could carry at best.
"""

from __future__ import annotations

import os
from typing import Any

LATENCY_TARGET_S = 2.0
LIVE_TARGET_S = 1.0
#: Issue 10's memory targets: every process, and the whole stack at rest (PSS, not RSS).
RSS_TARGET_MIB = 90.0
PSS_TOTAL_TARGET_MIB = 1024.0
#: The relay alone, confirmed messages/s (issue 10).
RELAY_TARGET_RPS = 3000.0
#: Constant-rate API target (bench.rate): p99 from the intended send time.
API_RATE_TARGET_RPS = 1500.0
#: Figures every run reports (the smoke test checks them all); per-step and per-process rows follow.
FIGURES = (
    "rabbitmq_publish_1", "rabbitmq_publish_n", "rabbitmq_consume_1", "rabbitmq_consume_n",
    "postgres_commit_1", "postgres_commit_8", "postgres_notify_commit_8",
    "messages_per_app", "commits_per_app", "processed_per_app", "relay_batches_per_app", "other_writes_per_app",
    "all_xact_commits_per_app", "bound_broker", "bound_db", "bound", "bound_cpu",
    "e2e_held_rate", "e2e_max_sustained", "e2e_p50", "e2e_p95", "e2e_p99", "e2e_commit_p99", "e2e_read_p99",
    "cpu_s_per_app", "cpu_s_per_app_with_infra", "machine_busy_top_step",
    "api_bare_rps", "api_post_direct_rps", "api_post_direct_p99", "api_get_direct_rps", "api_get_direct_p99",
    "api_post_gateway_rps", "api_post_gateway_p99", "api_get_gateway_rps", "api_get_gateway_p99",
    "sse_connections_held", "sse_delivery_p50", "sse_delivery_p99",
    "rss_max_rest", "rss_max_load", "rss_total_rest", "rss_total_load", "pss_total_rest",
    "relay_rate", "relay_cpu_ms", "relay_lag_p99",
    "e2e_knee_runs_held", "api_bare_rate_held", "api_post_rate_held", "api_post_rate_p99",
)


def bound(result: dict[str, Any]) -> dict[str, Any]:
    """The rate the machine's broker and database allow, given what one application costs them.

    They share the cores, so their costs add: ``1 / (messages/broker_rate + commits/db_rate)``
    (the broker's and the database's own bounds are reported too).
    """
    mq, pg, c = result["ceilings"]["rabbitmq"], result["ceilings"]["postgres"], result["counts"]
    broker_rate = min(mq["publish_n"]["rate"], mq["consume_n"]["rate"])
    bound_broker = broker_rate / max(1e-9, c["messages_per_app"])
    bound_db = pg["insert_commit_n"]["rate"] / max(1e-9, c["commits_per_app"])
    cpu = result["e2e"]["cpu"]
    cpu_per_app = (cpu["stack_s"] + cpu["infra_s"]) / max(1, result["e2e"]["completed"])
    return {"broker_rate": broker_rate, "broker": round(bound_broker, 1), "db": round(bound_db, 1),
            "bound": round(1 / (1 / max(1e-9, bound_broker) + 1 / max(1e-9, bound_db)), 1),
            "cpu": round((os.cpu_count() or 1) / max(1e-9, cpu_per_app), 1)}


def row(figure: str, label: str, value: Any, unit: str, reference: Any = None, against: str = "") -> dict[str, Any]:
    ratio = None
    if isinstance(value, int | float) and isinstance(reference, int | float) and reference:
        ratio = round(value / reference, 3)
    return {"figure": figure, "label": label, "value": value, "unit": unit, "ratio": ratio, "vs": against}


def figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Every row of the table, in the order it is printed."""
    rows = ceiling_rows(result["ceilings"]) + relay_rows(result.get("relay"))
    rows += count_rows(result["counts"], result["bound"])
    rows += e2e_rows(result["e2e"], result["bound"]) + cpu_rows(result["e2e"])
    if "api" in result:
        rows += api_rows(result["api"])
    if "live" in result:
        rows += live_rows(result["live"])
    rows += rss_rows(result["e2e"])
    return rows


def ceiling_rows(ceilings: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    add = rows.append
    mq, pg = ceilings["rabbitmq"], ceilings["postgres"]
    add(row("rabbitmq_publish_1", "RabbitMQ publish, persistent + confirm, 1 publisher", mq["publish_1"]["rate"],
            "msg/s"))
    add(row("rabbitmq_publish_n", f"RabbitMQ publish, {mq['publish_n']['clients']} publishers",
            mq["publish_n"]["rate"], "msg/s"))
    add(row("rabbitmq_consume_1", "RabbitMQ consume + ack, 1 consumer", mq["consume_1"]["rate"], "msg/s"))
    add(row("rabbitmq_consume_n", f"RabbitMQ consume + ack, {mq['consume_n']['clients']} consumers",
            mq["consume_n"]["rate"], "msg/s"))
    add(row("postgres_commit_1", "PostgreSQL INSERT+COMMIT, 1 client", pg["insert_commit_1"]["rate"], "tx/s"))
    add(row("postgres_commit_8", "PostgreSQL INSERT+COMMIT, 8 clients", pg["insert_commit_n"]["rate"], "tx/s"))
    add(row("postgres_notify_commit_8", "PostgreSQL INSERT+NOTIFY+COMMIT, 8 clients",
            pg["insert_notify_commit_n"]["rate"], "tx/s", pg["insert_commit_n"]["rate"], "no NOTIFY"))
    return rows


def relay_rows(r: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The relay alone (``bench.relay``): drain rate with confirms, CPU per message, lag under load."""
    if not r:
        return []
    d, g = r["drain"], r["lag"]
    return [
        row("relay_rate", f"outbox relay alone: confirmed publishes (batch {r['batch']})", d["rate"], "msg/s",
            RELAY_TARGET_RPS, "3000 target"),
        row("relay_cpu_ms", "  relay CPU per message, draining", d["cpu_ms_per_message"], "ms"),
        row("relay_lag_p99", f"  outbox lag p99 at {g['offered_rate']:g} rows/s offered", g["lag_p99_ms"], "ms"),
    ]


def count_rows(c: dict[str, Any], bound: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    add = rows.append
    add(row("messages_per_app", "messages per application (outbox rows, 5 DBs)", c["messages_per_app"], "msg"))
    add(row("commits_per_app", "write commits per application (below + other)", c["commits_per_app"], "commit"))
    add(row("processed_per_app", "  consumer transactions (processed_messages)", c["processed_per_app"], "commit"))
    add(row("relay_batches_per_app", "  relay batches (distinct xmin of sent outbox rows)",
            c["relay_batches_per_app"], "commit"))
    add(row("other_writes_per_app", "  other writers seen (e-mail marks, jobs)", c["other_writes_per_app"], "commit"))
    add(row("all_xact_commits_per_app", "all commits incl. read-only (pg_stat_database)",
            c["all_xact_commits_per_app"], "commit"))
    add(row("bound_broker", "bound: broker rate / messages per app", bound["broker"], "app/s"))
    add(row("bound_db", "bound: PostgreSQL 8-client rate / commits per app", bound["db"], "app/s"))
    add(row("bound", "derived bound = 1 / (msgs/broker + commits/db)", bound["bound"], "app/s"))
    add(row("bound_cpu", "(not in the bound) cores / CPU-s per app incl. DB+MQ", bound["cpu"], "app/s",
            bound["bound"], "bound"))
    return rows


def e2e_rows(e2e: dict[str, Any], bound: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    add = rows.append
    steps = e2e["steps"]
    held = [s for s in steps if s["held"]]
    top = max(held, key=lambda s: s["offered_per_s"]) if held else None
    best = max(steps, key=lambda s: s["sustained_per_s"]) if steps else None
    add(row("e2e_held_rate", "end to end: highest rate held, p99 < 2 s", top["offered_per_s"] if top else 0.0,
            "app/s", bound["bound"], "bound"))
    add(row("e2e_max_sustained", "end to end: highest sustained rate (any step)",
            best["sustained_per_s"] if best else 0.0, "app/s", bound["bound"], "bound"))
    shown = top or (steps[0] if steps else None)
    at = f" at {shown['offered_per_s']:g}/s" if shown else ""
    lat = shown["latency_notified_s"] if shown else {}
    add(row("e2e_p50", f"  POST → decision on SSE, p50{at}", lat.get("p50"), "s", LATENCY_TARGET_S, "2 s target"))
    add(row("e2e_p95", f"  POST → decision on SSE, p95{at}", lat.get("p95"), "s", LATENCY_TARGET_S, "2 s target"))
    add(row("e2e_p99", f"  POST → decision on SSE, p99{at}", lat.get("p99"), "s", LATENCY_TARGET_S, "2 s target"))
    add(row("e2e_commit_p99", f"  POST → decision committed (event's at), p99{at}",
            (shown or {}).get("latency_committed_s", {}).get("p99"), "s", LATENCY_TARGET_S, "2 s target"))
    add(row("e2e_read_p99", f"  POST → decision read by GET, p99{at}",
            (shown or {}).get("latency_read_s", {}).get("p99"), "s", LATENCY_TARGET_S, "2 s target"))
    rows += knee_rows(e2e.get("knee_runs", []), top)
    for s in steps:
        rate = f"{s['offered_per_s']:g}"
        add(row(f"step_{rate}_sustained", f"  step {rate}/s: sustained ({s['completed']}/{s['submitted']} done)",
                s["sustained_per_s"], "app/s", s["offered_per_s"], "offered"))
        add(row(f"step_{rate}_p99", f"  step {rate}/s: p99 (machine {s['machine_busy_pct']} % busy)",
                s["latency_notified_s"]["p99"], "s", LATENCY_TARGET_S, "2 s target"))
        add(row(f"step_{rate}_others", f"  step {rate}/s: CPU used by other work on the machine",
                s.get("others_cpu_s"), "cpu-s"))
        add(row(f"step_{rate}_backlog", f"  step {rate}/s: messages pending {s['drained_after_s']:g} s after",
                s["pending_after_grace"], "msg"))
    return rows


def knee_rows(runs: list[dict[str, Any]], top: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The runs at the highest rate held (the step that found it first): how many held, the spread."""
    everyone = ([top] if top else []) + runs
    label = f"  runs at {top['offered_per_s']:g}/s that held" if top else "  runs at the knee"
    rows = [row("e2e_knee_runs_held", label, sum(1 for r in everyone if r["held"]), "runs", len(everyone), "runs")]
    if len(everyone) > 1:
        sustained = [r["sustained_per_s"] for r in everyone]
        p99s = [r["latency_notified_s"]["p99"] for r in everyone]
        rows.append(row("e2e_knee_sustained_spread", "  their sustained rates, min–max",
                        f"{min(sustained):g}–{max(sustained):g}", "app/s"))
        finite = [v for v in p99s if v is not None]
        rows.append(row("e2e_knee_p99_spread", "  their p99, min–max",
                        f"{min(finite):g}–{max(finite):g}" if len(finite) == len(p99s) else "not all finite", "s"))
    return rows


def cpu_rows(e2e: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    add = rows.append
    steps = e2e["steps"]
    cpu = e2e["cpu"]
    done = max(1, e2e["completed"])
    add(row("cpu_s_per_app", "CPU per application, all stack processes", round(cpu["stack_s"] / done, 4), "cpu-s"))
    add(row("cpu_s_per_app_with_infra", "  + PostgreSQL and RabbitMQ (machine-wide)",
            round((cpu["stack_s"] + cpu["infra_s"]) / done, 4), "cpu-s"))
    add(row("machine_busy_top_step", "machine CPU busy, last step", steps[-1]["machine_busy_pct"] if steps else None,
            "%", 100.0, "2 cores"))
    for entry, per_app in sorted(cpu["per_app_per_entry_s"].items(), key=lambda kv: -kv[1]):
        add(row(f"cpu_per_app[{entry}]", f"  CPU per application: {entry}", per_app, "cpu-s",
                round(cpu["stack_s"] / done, 4), "all"))
    return rows


def api_rows(a: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    add = rows.append
    bare = a["bare"]["rps"]
    add(row("api_bare_rps", "bare Flask {ok: true}, loan_web's gunicorn flags", bare, "req/s"))
    for key, label, reference, against in (
        ("post_direct", "POST /loan/applications, loan_web port", bare, "bare"),
        ("get_direct", "GET /loan/applications/{id}, loan_web port", bare, "bare"),
        ("post_gateway", "POST /loan/applications via gateway", a["post_direct"]["rps"], "direct"),
        ("get_gateway", "GET /loan/applications/{id} via gateway", a["get_direct"]["rps"], "direct"),
    ):
        add(row(f"api_{key}_rps", label, a[key]["rps"], "req/s", reference, against))
        add(row(f"api_{key}_p50", "  p50", a[key]["latency_ms"]["p50"], "ms"))
        add(row(f"api_{key}_p99", "  p99", a[key]["latency_ms"]["p99"], "ms"))
    for key, label in (("bare_rate", "bare Flask"), ("post_rate", "POST /loan/applications")):
        ladder = a.get(key) or {"held_rps": 0.0, "steps": []}
        name = "api_bare_rate_held" if key == "bare_rate" else "api_post_rate_held"
        add(row(name, f"{label}: constant rate held, p99 < 100 ms from intended send",
                ladder["held_rps"], "req/s", API_RATE_TARGET_RPS, "1500 target"))
        held = [s for s in ladder["steps"] if s["held"]]
        if key == "post_rate":
            add(row("api_post_rate_p99", "  p99 at that rate", held[-1]["latency_ms"]["p99"] if held else None, "ms"))
        for s in ladder["steps"]:
            add(row(f"api_{key}_{s['offered_rps']:g}", f"  {s['offered_rps']:g} req/s: achieved, p99 "
                    f"{s['latency_ms']['p99']} ms, errors {sum(s['errors'].values())}", s["achieved_rps"], "req/s",
                    s["offered_rps"], "offered"))
    add(row("api_others_cpu", "  CPU used by other work on the machine meanwhile", a.get("others_cpu_s"), "cpu-s"))
    return rows


def live_rows(lv: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    add = rows.append
    levels = lv["levels"]
    held_levels = [lvl for lvl in levels if lvl["held"]]
    top_live = held_levels[-1] if held_levels else (levels[0] if levels else None)
    add(row("sse_connections_held", "SSE connections on 1 notify process, p99 < 1 s",
            held_levels[-1]["connections"] if held_levels else 0, "conn", lv["threads"], "gthread threads"))
    at = f" at {top_live['connections']} conn" if top_live else ""
    add(row("sse_delivery_p50", f"  change committed → SSE client, p50{at}",
            top_live["delivery_s"]["p50"] if top_live else None, "s", LIVE_TARGET_S, "1 s target"))
    add(row("sse_delivery_p99", f"  change committed → SSE client, p99{at}",
            top_live["delivery_s"]["p99"] if top_live else None, "s", LIVE_TARGET_S, "1 s target"))
    for lvl in levels:
        add(row(f"sse_{lvl['connections']}_p99", f"  {lvl['connections']} connections: p99 "
                f"({lvl['events_missing']} of {lvl['events_expected']} missing)", lvl["delivery_s"]["p99"], "s",
                LIVE_TARGET_S, "1 s target"))
    add(row("sse_process_rss", f"  RSS of that notify process with {levels[-1]['connections'] if levels else 0} conn",
            lv.get("rss_mib"), "MiB", RSS_TARGET_MIB, "90 MiB"))
    add(row("sse_process_cpu", "  CPU used by that notify process (all levels)", lv.get("process_cpu_s"), "cpu-s"))
    add(row("sse_others_cpu", "  CPU used by other work on the machine meanwhile", lv.get("others_cpu_s"), "cpu-s"))
    return rows


def rss_rows(e2e: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    add = rows.append
    rest, busy = e2e["rss_rest"], e2e["rss_load"]
    add(row("rss_max_rest", f"largest RSS at rest ({rest[0]['entry'] if rest else '?'})",
            rest[0]["rss_mib"] if rest else None, "MiB", RSS_TARGET_MIB, "90 MiB"))
    add(row("rss_max_load", f"largest RSS under load ({busy[0]['entry'] if busy else '?'})",
            busy[0]["rss_mib"] if busy else None, "MiB", RSS_TARGET_MIB, "90 MiB"))
    add(row("rss_total_rest", f"total RSS at rest, {len(rest)} processes", round(sum(r["rss_mib"] for r in rest), 1),
            "MiB"))
    add(row("rss_total_load", f"total peak RSS under load, {len(busy)} processes",
            round(sum(r["rss_mib"] for r in busy), 1), "MiB"))
    pss = e2e.get("pss_rest", [])
    add(row("pss_total_rest", f"total PSS at rest, {len(pss)} processes", round(sum(r["pss_mib"] for r in pss), 1),
            "MiB", PSS_TOTAL_TARGET_MIB, "1 GiB"))
    largest: dict[str, float] = {}
    for r in busy:
        largest[r["entry"]] = max(largest.get(r["entry"], 0.0), r["rss_mib"])
    for entry, mib in sorted(largest.items(), key=lambda kv: -kv[1]):
        add(row(f"rss_load[{entry}]", f"  largest process under load: {entry}", mib, "MiB", RSS_TARGET_MIB, "90 MiB"))
    return rows


def render(rows: list[dict[str, Any]]) -> str:
    def fmt(value: Any) -> str:
        if value is None:
            return "—"
        if isinstance(value, float):
            return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
        return str(value)

    lines = [f"{'figure':<62} {'value':>11} {'unit':<7} {'ratio':>7}  vs"]
    lines.append("-" * len(lines[0].ljust(100)))
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(f"{r['label'][:62]:<62} {fmt(r['value']):>11} {r['unit']:<7} {ratio:>7}  {r['vs']}")
    return "\n".join(lines)
