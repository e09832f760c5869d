"""loanflow's benchmark: applications per second end to end, next to the machine's own ceiling.

``python -m bench.run`` (``make bench``) on a machine with RabbitMQ and PostgreSQL on loopback:

1. ceilings: raw RabbitMQ (persistent messages, durable queue, confirms, acks) and raw PostgreSQL
   (INSERT+COMMIT, 1 and 8 clients), measured first, with nothing of loanflow running;
2. the whole system as its Procfile processes (``tests.support.stack.launched``) on fresh
   databases, a fresh vhost and shifted ports; open-loop load stepped up until it no longer keeps
   up, with CPU and RSS of every process; messages and commits per application counted in the
   services' tables, and the bound they imply;
3. a py-spy profile of the hottest process under load (not in ``--smoke``);
4. concurrent SSE connections on one extra notify process, delivery latency;
5. the HTTP API under wrk next to a bare Flask endpoint with the same gunicorn flags.

Prints one table and writes it, with every detail, as JSON (``bench/results/latest.json``).
``--smoke`` runs every part with tiny numbers. See docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import api, ceilings, counts, live, load, procs
from bench import profile as profiling
from tests.support.payloads import application

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
#: The configuration the services run with by default here: the Settings defaults of production
#: (relay poll, retries, backoff), no artificial bureau or valuation delay.
DEFAULT_ENV = {
    "BUREAU_LATENCY_MS": "0",
    "VALUATION_DELAY_MS": "0",
    "LOANFLOW_RELAY_POLL_SECONDS": "0.2",
    "LOANFLOW_STEP_MAX_RETRIES": "6",
    "LOANFLOW_MIN_BACKOFF_MS": "500",
    "LOANFLOW_MAX_BACKOFF_MS": "15000",
}
LATENCY_TARGET_S = 2.0
LIVE_TARGET_S = 1.0
RSS_TARGET_MIB = 150.0
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
    "rss_max_rest", "rss_max_load", "rss_total_rest", "rss_total_load",
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="every part with tiny numbers (well under a minute)")
    parser.add_argument("--offset", type=int, default=14_000, help="port offset of the stack (default 14000)")
    parser.add_argument("--prefix", help="database prefix (default loanflow_bench[_<offset>])")
    parser.add_argument("--vhost", help="RabbitMQ vhost (default loanflow_bench[_<offset>])")
    parser.add_argument("--rates", help="offered applications/s, stepped up (default 4,6,8,10,12,14,16,20,25,30,40,50)")
    parser.add_argument("--step-seconds", type=float, help="seconds per step (default 20)")
    parser.add_argument("--grace", type=float, help="seconds to wait for a step's stragglers (default 15)")
    parser.add_argument("--keep-going", action="store_true", help="run every rate even after one is not held")
    parser.add_argument("--ceiling-seconds", type=float, help="seconds per ceiling measurement (default 4)")
    parser.add_argument("--api-seconds", type=float, help="seconds per wrk run (default 10)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--wrk-connections", type=int, default=16)
    parser.add_argument("--live-levels", help="concurrent SSE connections, cumulative (default 100,200,400,800)")
    parser.add_argument("--live-apps", type=int, help="applications submitted at each level (default 10)")
    parser.add_argument("--profile", action=argparse.BooleanOptionalAction, default=None,
                        help="py-spy the hottest process under load (default: on, off with --smoke)")
    parser.add_argument("--profile-seconds", type=int, default=15)
    parser.add_argument("--profile-top", type=int, default=3, help="how many of the hottest processes to profile")
    parser.add_argument("--profile-rate", type=float, help="offered rate while profiling (default: highest held)")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment of every service process (e.g. LOANFLOW_PREFETCH=8); repeatable")
    parser.add_argument("--threads", action="append", default=[], metavar="ENTRY=N",
                        help="--threads of one Procfile entry (e.g. loan_worker=8); repeatable")
    parser.add_argument("--nice", action="append", default=[], metavar="ENTRY=N",
                        help="run one Procfile entry under `nice -n N` (e.g. notify_documents_worker=10); repeatable")
    parser.add_argument("--skip", default="", help="parts left out, comma-separated: live,api (for quick "
                        "before/after comparisons of the end-to-end figures; the table then lacks their rows)")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--log-dir", type=Path, help="process logs (default: a new temporary folder)")
    args = parser.parse_args(argv)
    smoke = args.smoke
    defaults = {
        "rates": "4" if smoke else "4,6,8,10,12,14,16,20,25,30,40,50",
        "step_seconds": 2.0 if smoke else 20.0,
        "grace": 20.0 if smoke else 15.0,
        "ceiling_seconds": 0.5 if smoke else 4.0,
        "api_seconds": 1.0 if smoke else 10.0,
        "live_levels": "5" if smoke else "100,200,400,800",
        "live_apps": 2 if smoke else 10,
        "profile": not smoke,
    }
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    suffix = "" if args.offset == 14_000 else f"_{args.offset}"
    args.prefix = args.prefix or f"loanflow_bench{suffix}"
    args.vhost = args.vhost or f"loanflow_bench{suffix}"
    args.rates = [float(r) for r in args.rates.split(",")]
    args.live_levels = sorted(int(n) for n in args.live_levels.split(","))
    args.skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    if args.skip - {"live", "api"}:
        parser.error("--skip takes live and/or api")
    return args


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    memory = re.search(r"^MemTotal:\s*(\d+) kB", Path("/proc/meminfo").read_text(), re.M)
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model.group(1) if model else platform.processor(),
        "memory_gib": round(int(memory.group(1)) / 1024 / 1024, 1) if memory else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


def git_state() -> str:
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout
    dirty = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    return head.strip() + (" (with uncommitted changes)" if dirty.strip() else "")


def override_commands(threads: list[str], nice: list[str]) -> dict[str, dict[str, int]]:
    """Change ``--threads`` or the niceness of Procfile entries for this run only (the Procfile is left alone)."""
    import tests.support.stack as stack_module

    wanted = {kind: {name: int(n) for name, _, n in (o.partition("=") for o in options)}
              for kind, options in (("threads", threads), ("nice", nice))}
    if not any(wanted.values()):
        return {}
    original = stack_module.procfile

    def patched(path: Path = stack_module.ROOT / "Procfile") -> dict[str, str]:
        entries = original(path)
        for name, count in wanted["threads"].items():
            if name not in entries or "--threads" not in entries[name]:
                raise SystemExit(f"--threads {name}=…: no such Procfile entry with --threads")
            entries[name] = re.sub(r"--threads \d+", f"--threads {count}", entries[name])
        for name, niceness in wanted["nice"].items():
            if name not in entries:
                raise SystemExit(f"--nice {name}=…: no such Procfile entry")
            entries[name] = f"nice -n {niceness} {entries[name]}"
        return entries

    stack_module.procfile = patched
    return wanted


def launch(exits: contextlib.ExitStack, args: argparse.Namespace, log_dir: Path, env: dict[str, str]) -> Any:
    """``launched(...)``, tried again if rabbitmqctl failed (the node busy or briefly stopped)."""
    from tests.support.stack import launched

    for attempt in range(3):
        try:
            return exits.enter_context(launched(args.prefix, args.vhost, args.offset, log_dir, **env))
        except (subprocess.CalledProcessError, RuntimeError):
            if attempt == 2:
                raise
            time.sleep(5)
    raise AssertionError("unreachable")


PHASES: dict[str, float] = {}
_phase: list[Any] = []


def log(message: str, phase: str | None = None) -> None:
    """A progress line on stderr; ``phase`` starts timing a new phase (seconds in the JSON's meta)."""
    now = time.monotonic()
    if phase:
        if _phase:
            PHASES[_phase[0]] = round(now - _phase[1], 1)
        _phase[:] = [phase, now]
    print(f"[bench {dt.datetime.now():%H:%M:%S}] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------- phases


def others(first: procs.Snapshot, last: procs.Snapshot, stack_cpu: float) -> float:
    """CPU seconds the machine spent outside the stack, PostgreSQL, RabbitMQ and this harness
    (other people's work on a shared machine: it inflates every figure it overlaps)."""
    hz = os.sysconf("SC_CLK_TCK")
    busy = (last.busy - first.busy) / hz
    return round(busy - stack_cpu - (last.infra - first.infra) - (last.me - first.me), 2)


def end_to_end(stack: Any, urls: dict[str, str], args: argparse.Namespace, body: dict[str, Any],
               sampler: procs.Sampler) -> dict[str, Any]:
    from tests.conftest import STAFF_TOKEN

    xid = counts.current_xid(urls)
    commits_before = counts.xact_commits(urls)
    steps: list[dict[str, Any]] = []
    rest: dict[str, Any] = {}

    async def drive() -> tuple[procs.Snapshot, procs.Snapshot]:
        async with load.OpenLoop(stack.gateway, STAFF_TOKEN, body) as generator:
            await load.warm_up(generator, 2 if args.smoke else 6)
            await asyncio.to_thread(counts.quiesce, urls, 30)
            await asyncio.sleep(1)
            rest["rss"] = sampler.rss_now()
            sampler.reset_peaks()
            sampler.start()
            first = sampler.snapshot()
            for rate in args.rates:
                log(f"end to end: {rate:g} applications/s for {args.step_seconds:g} s")
                before = sampler.snapshot()
                step = await generator.step(rate, args.step_seconds, args.grace)
                waited, left = await asyncio.to_thread(counts.quiesce, urls, args.grace)
                step["drained_after_s"], step["pending_after_grace"] = waited, left
                after = sampler.snapshot()
                cpu = sum(sampler.cpu_between(before, after).values())
                step["cpu_s"] = round(cpu, 2)
                step["cpu_s_per_app"] = round(cpu / max(1, step["completed"]), 4)
                busy = (after.busy - before.busy) / max(1, after.total - before.total)
                step["machine_busy_pct"] = round(100 * busy, 1)
                step["harness_cpu_s"] = round(after.me - before.me, 2)
                step["others_cpu_s"] = others(before, after, cpu)
                step.pop("window")
                steps.append(step)
                log(f"  sustained {step['sustained_per_s']}/s, completed {step['completed']}/{step['submitted']}, "
                    f"p99 {step['latency_notified_s']['p99']} s, machine {step['machine_busy_pct']} % busy, "
                    f"{left} messages still pending {waited} s after the step")
                if not step["held"] and not args.keep_going:
                    break
            last = sampler.snapshot()
            sampler.stop()
            return first, last

    first, last = asyncio.run(drive())
    per_pid = sampler.cpu_between(first, last)
    completed = sum(s["completed"] for s in steps)
    stack_cpu = sum(per_pid.values())
    infra_cpu = last.infra - first.infra
    by_entry = sampler.by_entry(per_pid)
    hottest = procs.hottest(sampler, per_pid)
    return {
        "steps": steps,
        "since_xid": xid,
        "commits_before": commits_before,
        "completed": completed,
        "cpu": {
            "stack_s": round(stack_cpu, 2),
            "infra_s": round(infra_cpu, 2),
            "harness_s": round(last.me - first.me, 2),
            "seconds": round(last.at - first.at, 1),
            "machine_busy_pct": round(100 * (last.busy - first.busy) / max(1, last.total - first.total), 1),
            "others_cpu_s": others(first, last, stack_cpu),
            "per_entry_s": {k: round(v, 2) for k, v in sorted(by_entry.items(), key=lambda kv: -kv[1])},
            "per_app_per_entry_s": {k: round(v / max(1, completed), 4) for k, v in by_entry.items()},
            "per_process_s": sorted(({"entry": sampler.names.get(pid), "pid": pid, "command": sampler.labels.get(pid),
                                      "cpu_s": round(v, 2)} for pid, v in per_pid.items()),
                                    key=lambda r: -r["cpu_s"]),
        },
        "hottest": {"pid": hottest[0], "entry": hottest[1], "cpu_s": round(hottest[2], 2)} if hottest else None,
        "rss_rest": sampler.rss_table(rest.get("rss", {})),
        "rss_load": sampler.rss_table(dict(sampler.peak_rss)),
    }


def profile_hottest(stack: Any, args: argparse.Namespace, body: dict[str, Any], e2e: dict[str, Any]) -> dict[str, Any]:
    """py-spy on the ``--profile-top`` processes that used the most CPU end to end, at once, under load."""
    from tests.conftest import STAFF_TOKEN

    alive = [p for p in e2e["cpu"]["per_process_s"] if procs.psutil.pid_exists(p["pid"])][: args.profile_top]
    if not alive:
        return {"error": "no process found"}
    held = [s["offered_per_s"] for s in e2e["steps"] if s["held"]]
    rate = args.profile_rate or (max(held) if held else args.rates[0])
    targets = [(p, RESULTS / ("profile.svg" if i == 0 else f"profile-{p['entry']}.svg")) for i, p in enumerate(alive)]
    log(f"profile: py-spy on {', '.join(p['entry'] for p, _ in targets)} at {rate:g} applications/s")

    async def drive() -> tuple[list[dict[str, Any]], dict[str, Any]]:
        async with load.OpenLoop(stack.gateway, STAFF_TOKEN, body) as generator:
            recordings = asyncio.gather(*(asyncio.to_thread(profiling.record, p["pid"], svg, args.profile_seconds)
                                          for p, svg in targets))
            step = await generator.step(rate, args.profile_seconds + 3, args.grace)
            return list(await recordings), step

    recorded, step = asyncio.run(drive())
    processes = []
    for (process, svg), outcome in zip(targets, recorded, strict=True):
        entry = {"pid": process["pid"], "entry": process["entry"], "cpu_s_end_to_end": process["cpu_s"], **outcome}
        if "svg" in outcome:
            entry["summary"] = profiling.summarize(svg)
        processes.append(entry)
    return {"rate": rate, "seconds": args.profile_seconds, "sustained_per_s": step["sustained_per_s"],
            "p99_s": step["latency_notified_s"]["p99"], "processes": processes}


def live_channels(stack: Any, args: argparse.Namespace, body: dict[str, Any]) -> dict[str, Any]:
    from tests.conftest import STAFF_TOKEN

    port = 8085 + args.offset
    top = max(args.live_levels)
    threads, cap = top + 16, top + 8
    command = api.derived_command(stack, "notify_web", "notify_app:create_app()", port,
                                  multiproc_dir=str(stack.log_dir / "var/prometheus/notify-live"),
                                  workers=1, threads=threads,
                                  # every bench client is one address: only the process cap applies
                                  env={"LOANFLOW_MAX_LIVE_CONNECTIONS": str(cap),
                                       "LOANFLOW_MAX_LIVE_PER_ADDRESS": str(cap)})
    api.start_extra(stack, "bench_notify_live", command, f"http://127.0.0.1:{port}/notify/health")
    log(f"live channels: {args.live_levels} SSE connections on one notify process ({threads} threads)")
    leader = stack.processes["bench_notify_live"].pid

    def rss() -> float | None:  # the largest process of the extra notify (its one worker), connections open
        sizes = [procs.rss_bytes(p) for p in procs.tree({"bench_notify_live": leader})]
        return round(max((s for s in sizes if s), default=0) / procs.MIB, 1)

    levels = asyncio.run(live.measure(f"http://127.0.0.1:{port}/notify/events", stack.gateway, STAFF_TOKEN, body,
                                      args.live_levels, apps_per_level=args.live_apps, rate=4.0 if args.smoke else 5.0,
                                      probe=rss))
    cpu = sum(procs.cpu_seconds(pid) or 0.0 for pid in procs.tree({"bench_notify_live": leader}))  # before it goes
    stack.stop("bench_notify_live", timeout=3)  # its threads would otherwise hold the final stop 15 s
    return {"command": command, "threads": threads, "max_live_connections": cap, "levels": levels,
            "rss_mib": levels[-1]["rss_mib"] if levels else None, "process_cpu_s": round(cpu, 2)}


# ---------------------------------------------------------------------------------------------- table


def row(figure: str, label: str, value: Any, unit: str, reference: Any = None, against: str = "") -> dict[str, Any]:
    ratio = None
    if isinstance(value, int | float) and isinstance(reference, int | float) and reference:
        ratio = round(value / reference, 3)
    return {"figure": figure, "label": label, "value": value, "unit": unit, "ratio": ratio, "vs": against}


def figures(result: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    add = rows.append
    mq, pg = result["ceilings"]["rabbitmq"], result["ceilings"]["postgres"]
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
    c = result["counts"]
    add(row("messages_per_app", "messages per application (outbox rows, 5 DBs)", c["messages_per_app"], "msg"))
    add(row("commits_per_app", "write commits per application (below + other)", c["commits_per_app"], "commit"))
    add(row("processed_per_app", "  consumer transactions (processed_messages)", c["processed_per_app"], "commit"))
    add(row("relay_batches_per_app", "  relay batches (distinct xmin of sent outbox rows)",
            c["relay_batches_per_app"], "commit"))
    add(row("other_writes_per_app", "  other writers seen (e-mail marks, jobs)", c["other_writes_per_app"], "commit"))
    add(row("all_xact_commits_per_app", "all commits incl. read-only (pg_stat_database)",
            c["all_xact_commits_per_app"], "commit"))
    bound = result["bound"]
    add(row("bound_broker", "bound: broker rate / messages per app", bound["broker"], "app/s"))
    add(row("bound_db", "bound: PostgreSQL 8-client rate / commits per app", bound["db"], "app/s"))
    add(row("bound", "derived bound = min(broker, db)", bound["bound"], "app/s"))
    add(row("bound_cpu", "(not in the bound) cores / CPU-s per app incl. DB+MQ", bound["cpu"], "app/s",
            bound["bound"], "bound"))
    e2e = result["e2e"]
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
    if "api" in result:
        rows += api_rows(result["api"])
    if "live" in result:
        rows += live_rows(result["live"])
    rows += rss_rows(e2e)
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
            lv.get("rss_mib"), "MiB", RSS_TARGET_MIB, "150 MiB"))
    add(row("sse_process_cpu", "  CPU used by that notify process (all levels)", lv.get("process_cpu_s"), "cpu-s"))
    add(row("sse_others_cpu", "  CPU used by other work on the machine meanwhile", lv.get("others_cpu_s"), "cpu-s"))
    return rows


def rss_rows(e2e: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    add = rows.append
    rest, busy = e2e["rss_rest"], e2e["rss_load"]
    add(row("rss_max_rest", f"largest RSS at rest ({rest[0]['entry'] if rest else '?'})",
            rest[0]["rss_mib"] if rest else None, "MiB", RSS_TARGET_MIB, "150 MiB"))
    add(row("rss_max_load", f"largest RSS under load ({busy[0]['entry'] if busy else '?'})",
            busy[0]["rss_mib"] if busy else None, "MiB", RSS_TARGET_MIB, "150 MiB"))
    add(row("rss_total_rest", f"total RSS at rest, {len(rest)} processes", round(sum(r["rss_mib"] for r in rest), 1),
            "MiB"))
    add(row("rss_total_load", f"total peak RSS under load, {len(busy)} processes",
            round(sum(r["rss_mib"] for r in busy), 1), "MiB"))
    largest: dict[str, float] = {}
    for r in busy:
        largest[r["entry"]] = max(largest.get(r["entry"], 0.0), r["rss_mib"])
    for entry, mib in sorted(largest.items(), key=lambda kv: -kv[1]):
        add(row(f"rss_load[{entry}]", f"  largest process under load: {entry}", mib, "MiB", RSS_TARGET_MIB, "150 MiB"))
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


# ---------------------------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = dt.datetime.now(dt.UTC)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="loanflow-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)  # the profiles land there before the JSON does
    env = {**DEFAULT_ENV, **dict(e.partition("=")[::2] for e in args.env)}
    overrides = override_commands(args.threads, args.nice)
    body = application()
    result: dict[str, Any] = {
        "meta": {
            "date": started.isoformat(timespec="seconds"),
            "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
            "smoke": args.smoke,
            "machine": machine(),
            "git": git_state(),
            "uptime_before": uptime(),
            "env": env,
            "procfile_overrides": overrides,
            "offset": args.offset,
            "log_dir": str(log_dir),
        },
    }
    log(f"logs in {log_dir}; {result['meta']['uptime_before']}")
    ceiling_seconds = args.ceiling_seconds
    log("ceilings: RabbitMQ", "ceilings_rabbitmq")
    result["ceilings"] = {"rabbitmq": ceilings.rabbitmq(f"{args.vhost}_ceiling", ceiling_seconds,
                                                          fill=2_000 if args.smoke else 30_000)}
    log("ceilings: PostgreSQL", "ceilings_postgres")
    result["ceilings"]["postgres"] = ceilings.postgres(f"{args.prefix}_scratch", ceiling_seconds)
    with contextlib.ExitStack() as exits:
        log("starting the stack (Procfile processes)", "launch")
        stack, urls = launch(exits, args, log_dir, env)
        sampler = procs.Sampler({name: p.pid for name, p in stack.processes.items()})
        log("end to end: warm-up", "end_to_end")
        result["e2e"] = end_to_end(stack, urls, args, body, sampler)
        log("counting messages and commits per application", "counts")
        drained = counts.quiesce(urls, 30 if args.smoke else 300)
        result["counts"] = counts.per_application(urls, result["e2e"]["since_xid"], result["e2e"]["commits_before"])
        result["counts"]["drained_after_s"], result["counts"]["pending_when_counted"] = drained
        if args.profile:
            log("profile", "profile")
            result["profile"] = profile_hottest(stack, args, body, result["e2e"])
            counts.quiesce(urls, 300)
        if "live" not in args.skip:
            log("live channels: extra notify process", "live")
            before = sampler.snapshot()
            result["live"] = live_channels(stack, args, body)
            sampler.leaders = {name: p.pid for name, p in stack.processes.items()}
            after = sampler.snapshot()
            # The extra notify process, reaped by this harness, is in its children's CPU (Snapshot.me).
            result["live"]["others_cpu_s"] = others(before, after, sum(sampler.cpu_between(before, after).values()))
        if "api" not in args.skip:
            counts.quiesce(urls, 120)  # the live phase's applications done: the API runs on a quiet stack
            log("API: wrk", "api")
            before = sampler.snapshot()
            result["api"] = api.run(stack, body, seconds=args.api_seconds, threads=args.wrk_threads,
                                    connections=args.wrk_connections, bare_port=8080 + args.offset, work_dir=log_dir,
                                    profile_svg=RESULTS / "profile-loan_web-post.svg" if args.profile else None)
            sampler.leaders = {name: p.pid for name, p in stack.processes.items()}
            after = sampler.snapshot()
            result["api"]["others_cpu_s"] = others(before, after, sum(sampler.cpu_between(before, after).values()))
        log("stopping the stack", "stop")
        stack.stop(timeout=5)  # SSE threads notice a closed client only at their next heartbeat (15 s)
    log("stack stopped", "report")
    mq, pg, c = result["ceilings"]["rabbitmq"], result["ceilings"]["postgres"], result["counts"]
    broker_rate = min(mq["publish_n"]["rate"], mq["consume_n"]["rate"])
    bound_broker = broker_rate / max(1e-9, c["messages_per_app"])
    bound_db = pg["insert_commit_n"]["rate"] / max(1e-9, c["commits_per_app"])
    cpu = result["e2e"]["cpu"]
    cpu_per_app = (cpu["stack_s"] + cpu["infra_s"]) / max(1, result["e2e"]["completed"])
    result["bound"] = {"broker_rate": broker_rate, "broker": round(bound_broker, 1), "db": round(bound_db, 1),
                       "bound": round(min(bound_broker, bound_db), 1),
                       "cpu": round((os.cpu_count() or 1) / max(1e-9, cpu_per_app), 1)}
    result["meta"]["uptime_after"] = uptime()
    result["meta"]["phase_seconds"] = PHASES
    result["meta"]["seconds"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
    rows = figures(result)
    result["figures"] = rows
    table = render(rows)
    print(table)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    log(f"wrote {args.output} in {result['meta']['seconds']} s; {result['meta']['uptime_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
