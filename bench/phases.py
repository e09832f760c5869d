"""The measured phases that run on the stack: end to end (stepped open-loop load), the profile of
the hottest processes, and the live channels on one extra notify process.

Each returns a JSON-ready dict for ``bench/results/latest.json``; CPU is sampled per process
(``bench.procs``), and what the rest of the machine did meanwhile is reported next to it
(:func:`others`): on a shared machine it inflates every figure it overlaps.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from bench import api, counts, live, load, procs
from bench import profile as profiling
from bench.options import RESULTS
from bench.progress import log


def others(first: procs.Snapshot, last: procs.Snapshot, stack_cpu: float) -> float:
    """CPU seconds the machine spent outside the stack, PostgreSQL, RabbitMQ and this harness
    (other people's work on a shared machine: it inflates every figure it overlaps)."""
    hz = os.sysconf("SC_CLK_TCK")
    busy = (last.busy - first.busy) / hz
    return round(busy - stack_cpu - (last.infra - first.infra) - (last.me - first.me), 2)


def end_to_end(stack: Any, urls: dict[str, str], args: argparse.Namespace, body: dict[str, Any],
               sampler: procs.Sampler) -> dict[str, Any]:
    """Warm up, then step the offered rate up until a step is not held (``--keep-going``: every rate)."""
    from tests.conftest import STAFF_TOKEN

    xid = counts.current_xid(urls)
    commits_before = counts.xact_commits(urls)
    steps: list[dict[str, Any]] = []
    knee: list[dict[str, Any]] = []
    rest: dict[str, Any] = {}

    async def drive() -> tuple[procs.Snapshot, procs.Snapshot]:
        async with load.OpenLoop(stack.gateway, STAFF_TOKEN, body) as generator:
            await load.warm_up(generator, 2 if args.smoke else 6)
            await asyncio.to_thread(counts.quiesce, urls, 30)
            await asyncio.sleep(1)
            rest["rss"] = sampler.rss_now()
            rest["pss"] = sampler.pss_now()
            sampler.reset_peaks()
            sampler.start()
            first = sampler.snapshot()
            for rate in args.rates:
                step = await _step(generator, rate, args, urls, sampler)
                steps.append(step)
                if not step["held"] and not args.keep_going:
                    break
            knee.extend(await _repeat_knee(generator, steps, args, urls, sampler))
            last = sampler.snapshot()
            sampler.stop()
            return first, last

    first, last = asyncio.run(drive())
    completed = sum(s["completed"] for s in steps + knee)
    per_pid = sampler.cpu_between(first, last)
    hottest = procs.hottest(sampler, per_pid)
    return {
        "steps": steps,
        "knee_runs": knee,
        "since_xid": xid,
        "commits_before": commits_before,
        "completed": completed,
        "cpu": _cpu(sampler, first, last, per_pid, completed),
        "hottest": {"pid": hottest[0], "entry": hottest[1], "cpu_s": round(hottest[2], 2)} if hottest else None,
        "rss_rest": sampler.rss_table(rest.get("rss", {})),
        "pss_rest": sampler.rss_table(rest.get("pss", {}), key="pss_mib"),
        "rss_load": sampler.rss_table(dict(sampler.peak_rss)),
    }


async def _repeat_knee(generator: load.OpenLoop, steps: list[dict[str, Any]], args: argparse.Namespace,
                       urls: dict[str, str], sampler: procs.Sampler) -> list[dict[str, Any]]:
    """The highest rate held, run again until it has run ``--repeat-knee`` times in all (its
    first run is the step that found it): one run holding a rate can be luck, three are a figure."""
    held = [s for s in steps if s["held"]]
    if not held or args.repeat_knee <= 1:
        return []
    rate = held[-1]["offered_per_s"]
    await asyncio.to_thread(counts.quiesce, urls, 300)  # the step that broke leaves a backlog
    runs = []
    for n in range(2, args.repeat_knee + 1):
        log(f"end to end: the knee again, run {n} of {args.repeat_knee}")
        runs.append(await _step(generator, rate, args, urls, sampler))
    return runs


async def _step(generator: load.OpenLoop, rate: float, args: argparse.Namespace, urls: dict[str, str],
                sampler: procs.Sampler) -> dict[str, Any]:
    """One step at ``rate``: the load's figures, how long the backlog took to drain, the CPU it cost."""
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
    log(f"  sustained {step['sustained_per_s']}/s, completed {step['completed']}/{step['submitted']}, "
        f"p99 {step['latency_notified_s']['p99']} s, machine {step['machine_busy_pct']} % busy, "
        f"{left} messages still pending {waited} s after the step")
    return step


def _cpu(sampler: procs.Sampler, first: procs.Snapshot, last: procs.Snapshot, per_pid: dict[int, float],
         completed: int) -> dict[str, Any]:
    """Where the CPU of the whole end-to-end phase went: stack, infrastructure, harness, per entry."""
    stack_cpu = sum(per_pid.values())
    by_entry = sampler.by_entry(per_pid)
    return {
        "stack_s": round(stack_cpu, 2),
        "infra_s": round(last.infra - first.infra, 2),
        "harness_s": round(last.me - first.me, 2),
        "seconds": round(last.at - first.at, 1),
        "machine_busy_pct": round(100 * (last.busy - first.busy) / max(1, last.total - first.total), 1),
        "others_cpu_s": others(first, last, stack_cpu),
        "per_entry_s": {k: round(v, 2) for k, v in sorted(by_entry.items(), key=lambda kv: -kv[1])},
        "per_app_per_entry_s": {k: round(v / max(1, completed), 4) for k, v in by_entry.items()},
        "per_process_s": sorted(({"entry": sampler.names.get(pid), "pid": pid, "command": sampler.labels.get(pid),
                                  "cpu_s": round(v, 2)} for pid, v in per_pid.items()),
                                key=lambda r: -r["cpu_s"]),
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
