"""loanflow's benchmark: applications per second end to end, next to the machine's own ceiling.

``python -m bench.run`` (``make bench``) on a machine with RabbitMQ and PostgreSQL on loopback:

1. ceilings: raw RabbitMQ (persistent messages, durable queue, confirms, acks) and raw PostgreSQL
   (INSERT+COMMIT, 1 and 8 clients), measured first, with nothing of loanflow running; then the
   outbox relay alone (``bench.relay``: confirmed messages/s, outbox lag at 1,000 rows/s);
2. the whole system as its Procfile processes (``tests.support.stack.launched``) on fresh
   databases, a fresh vhost and shifted ports; open-loop load stepped up until it no longer keeps
   up, with CPU and RSS of every process; messages and commits per application counted in the
   services' tables, and the bound they imply;
3. a py-spy profile of the hottest process under load (not in ``--smoke``);
4. concurrent SSE connections on one extra notify process, delivery latency;
5. the HTTP API under wrk next to a bare Flask endpoint with the same gunicorn flags.

Prints one table and writes it, with every detail, as JSON (``bench/results/latest.json``).
``--smoke`` runs every part with tiny numbers. See docs/benchmarks.md.

This module runs the parts in order; the command line is ``bench.options``, the phases on the
stack ``bench.phases``, the table ``bench.report``.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench import api, ceilings, counts, procs, relay, report
from bench.launch import launch, override_commands
from bench.options import DEFAULT_ENV, RESULTS, parse_args
from bench.phases import end_to_end, live_channels, others, profile_hottest
from bench.progress import PHASES, git_state, log, machine, uptime
from tests.support.payloads import application


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv, __doc__)
    started = dt.datetime.now(dt.UTC)
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="loanflow-bench-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    RESULTS.mkdir(parents=True, exist_ok=True)  # the profiles land there before the JSON does
    env = {**DEFAULT_ENV, **dict(e.partition("=")[::2] for e in args.env)}
    result: dict[str, Any] = {"meta": {
        "date": started.isoformat(timespec="seconds"),
        "command": "python -m bench.run " + " ".join(argv if argv is not None else sys.argv[1:]),
        "smoke": args.smoke,
        "machine": machine(),
        "git": git_state(),
        "uptime_before": uptime(),
        "env": env,
        "procfile_overrides": override_commands(args.threads, args.nice),
        "offset": args.offset,
        "log_dir": str(log_dir),
    }}
    log(f"logs in {log_dir}; {result['meta']['uptime_before']}")
    log("ceilings: RabbitMQ", "ceilings_rabbitmq")
    result["ceilings"] = {"rabbitmq": ceilings.rabbitmq(f"{args.vhost}_ceiling", args.ceiling_seconds,
                                                          fill=2_000 if args.smoke else 30_000)}
    log("ceilings: PostgreSQL", "ceilings_postgres")
    result["ceilings"]["postgres"] = ceilings.postgres(f"{args.prefix}_scratch", args.ceiling_seconds)
    log("the outbox relay alone (bench.relay)", "relay")
    result["relay"] = relay.run(rows=300 if args.smoke else 20_000, rate=100.0 if args.smoke else 1000.0,
                                seconds=1.0 if args.smoke else 10.0, prefix=f"{args.prefix}_relay",
                                vhost=f"{args.vhost}_relay")
    with contextlib.ExitStack() as exits:
        log("starting the stack (Procfile processes)", "launch")
        on_the_stack(result, args, launch(exits, args, log_dir, env))
    log("stack stopped", "report")
    result["bound"] = report.bound(result)
    write(result, args, started)
    return 0


def on_the_stack(result: dict[str, Any], args: argparse.Namespace, launched: tuple[Any, dict[str, str]]) -> None:
    """Every phase that needs the running stack, in order; the stack is stopped at the end."""
    stack, urls = launched
    body = application()
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
        # The extra notify process, reaped by this harness, is in its children's CPU (Snapshot.me).
        result["live"] = with_others(sampler, stack, lambda: live_channels(stack, args, body))
    if "api" not in args.skip:
        counts.quiesce(urls, 120)  # the live phase's applications done: the API runs on a quiet stack
        log("API: wrk", "api")
        result["api"] = with_others(sampler, stack, lambda: api.run(
            stack, body, seconds=args.api_seconds, threads=args.wrk_threads, connections=args.wrk_connections,
            bare_port=8080 + args.offset, work_dir=stack.log_dir, rates=args.api_rates,
            profile_svg=RESULTS / "profile-loan_web-post.svg" if args.profile else None))
    log("stopping the stack", "stop")
    stack.stop(timeout=5)  # SSE threads notice a closed client only at their next heartbeat (15 s)


def with_others(sampler: procs.Sampler, stack: Any, phase: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``phase()``'s result with ``others_cpu_s``: the machine's CPU outside the stack meanwhile."""
    before = sampler.snapshot()
    outcome = phase()
    sampler.leaders = {name: p.pid for name, p in stack.processes.items()}  # the phase's extra process is gone
    after = sampler.snapshot()
    outcome["others_cpu_s"] = others(before, after, sum(sampler.cpu_between(before, after).values()))
    return outcome


def write(result: dict[str, Any], args: argparse.Namespace, started: dt.datetime) -> None:
    """Print the table and write the whole result as JSON (``--output``)."""
    result["meta"]["uptime_after"] = uptime()
    result["meta"]["phase_seconds"] = PHASES
    result["meta"]["seconds"] = round((dt.datetime.now(dt.UTC) - started).total_seconds(), 1)
    rows = report.figures(result)
    result["figures"] = rows
    print(report.render(rows))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    log(f"wrote {args.output} in {result['meta']['seconds']} s; {result['meta']['uptime_after']}")


if __name__ == "__main__":
    sys.exit(main())
