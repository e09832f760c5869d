"""A surge on the real stack: the held rate, then 2×, then 4×, then back, and the drain after it.

``python -m bench.surge --held R`` (R: the highest rate ``python -m bench.run`` held) starts the
Procfile stack on fresh databases like ``bench.run`` does (``LOANFLOW_MAX_IN_EVALUATION`` set by
``--max-in-evaluation``, default 10 s of the held rate; ``LOANFLOW_ADMISSION_RATE`` by
``--admission-rate``, default the held rate; ``0`` for both runs it unbounded, as before issue
17), warms it up, then offers R, 2R, 4R and R applications/s open loop, ``--phase-seconds`` each
(60), without pause between phases, and waits for every accepted application to end.

Every ``--bucket-seconds`` (10) it prints: the offered and accepted POSTs, the 503s (and whether
each carried ``Retry-After``), the **goodput** (applications of this run reaching a terminal state,
per second), the backlog (applications in evaluation in loan_app's database, and messages not yet
applied in the five databases). Per phase: the latency to the decision of the applications
admitted in it (from the intended send time, so a refused or slow POST hides nothing), their
outcomes, the stack's CPU. Then the time to drain: from the end of the 4× phase until the backlog
is back to its level of the first held phase, until the last accepted application ended, and until
no message is left anywhere (the e-mail lane, at a lower CPU share, drains last).
Writes it all as JSON (``bench/results/surge-latest.json``). ``--smoke``: tiny numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from bench import counts, load, procs
from bench.launch import launch, override_commands
from bench.options import DEFAULT_ENV, RESULTS
from bench.progress import git_state, log, machine, uptime
from bench.surge_report import analyse, render
from tests.support.payloads import application

#: The phases: name and multiple of the held rate.
PHASES = (("held", 1.0), ("2x", 2.0), ("4x", 4.0), ("back", 1.0))


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.surge", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--held", type=float, help="the highest rate held, applications/s (smoke: 2)")
    parser.add_argument("--held-from", type=Path, metavar="RESULT_JSON",
                        help="take --held from a python -m bench.run result (its highest rate held end to end); "
                             "make bench passes bench/results/latest.json")
    parser.add_argument("--max-in-evaluation", type=int,
                        help="LOANFLOW_MAX_IN_EVALUATION of the stack (default: 10 s of --held; 0: unbounded)")
    parser.add_argument("--admission-rate", type=float,
                        help="LOANFLOW_ADMISSION_RATE of the stack, applications/s (default: --held; 0: no pacing)")
    parser.add_argument("--phase-seconds", type=float, help="seconds per phase (default 60)")
    parser.add_argument("--bucket-seconds", type=float, help="seconds per printed row (default 10)")
    parser.add_argument("--drain-timeout", type=float, help="seconds to wait for the last application (default 900)")
    parser.add_argument("--smoke", action="store_true", help="tiny numbers (well under a minute of load)")
    parser.add_argument("--offset", type=int, default=14_000, help="port offset of the stack (default 14000)")
    parser.add_argument("--prefix", help="database prefix (default loanflow_surge[_<offset>])")
    parser.add_argument("--vhost", help="RabbitMQ vhost (default loanflow_surge[_<offset>])")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                        help="environment of every service process; repeatable")
    parser.add_argument("--threads", action="append", default=[], metavar="ENTRY=N")
    parser.add_argument("--nice", action="append", default=[], metavar="ENTRY=N")
    parser.add_argument("--output", type=Path, default=RESULTS / "surge-latest.json")
    parser.add_argument("--log-dir", type=Path, help="process logs (default: a new temporary folder)")
    args = parser.parse_args(argv)
    if args.held is None and args.held_from is not None:
        args.held = held_rate(args.held_from)
        if not args.held:
            parser.error(f"{args.held_from} holds no rate held end to end: nothing to surge from")
    if args.held is None and not args.smoke:
        parser.error("--held is required (the highest rate python -m bench.run held)")
    defaults = {"held": 2.0, "phase_seconds": 4.0, "bucket_seconds": 2.0, "drain_timeout": 90.0} if args.smoke \
        else {"phase_seconds": 60.0, "bucket_seconds": 10.0, "drain_timeout": 900.0}
    for key, value in defaults.items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    if args.max_in_evaluation is None:
        args.max_in_evaluation = 4 if args.smoke else math.ceil(10 * args.held)
    if args.admission_rate is None:
        args.admission_rate = args.held
    suffix = "" if args.offset == 14_000 else f"_{args.offset}"
    args.prefix = args.prefix or f"loanflow_surge{suffix}"
    args.vhost = args.vhost or f"loanflow_surge{suffix}"
    return args


def held_rate(result: Path) -> float:
    """The highest end-to-end rate a ``bench.run`` result held (0 if none)."""
    steps = json.loads(result.read_text()).get("e2e", {}).get("steps", [])
    return max((float(step["offered_per_s"]) for step in steps if step.get("held")), default=0.0)


def backlog(urls: dict[str, str]) -> dict[str, int]:
    """Applications in evaluation (loan_app's database) and messages not yet applied (all five)."""
    with psycopg.connect(urls["loan"].replace("postgresql+psycopg://", "postgresql://")) as connection:
        row = connection.execute("SELECT count(*) FILTER (WHERE status IN ('SUBMITTED', 'EVALUATING', 'DECIDING')), "
                                 "count(*) FILTER (WHERE status = 'FAILED') FROM applications").fetchone()
    return {"in_evaluation": int(row[0]), "failed": int(row[1]), "pending_messages": counts.pending(urls)}  # type: ignore[index]


async def _sample(urls: dict[str, str], t0: float, every: float, into: list[dict[str, Any]]) -> None:
    """The backlog at the end of each bucket, until cancelled (a failed reading is a gap, not the end)."""
    while True:
        await asyncio.sleep(max(0.0, t0 + (len(into) + 1) * every - time.time()))
        try:
            reading = await asyncio.to_thread(backlog, urls)
        except psycopg.Error as error:
            log(f"surge: backlog not read ({error})")
            reading = {"in_evaluation": None, "failed": None, "pending_messages": None}
        into.append({"t": round(time.time() - t0, 1), **reading})


async def _drive(stack: Any, urls: dict[str, str], args: argparse.Namespace,
                 sampler: procs.Sampler) -> dict[str, Any]:
    """Warm up, run the phases back to back, wait for the drain; returns the raw observations."""
    from tests.conftest import STAFF_TOKEN

    async with load.OpenLoop(stack.gateway, STAFF_TOKEN, application()) as generator:
        await load.warm_up(generator, 2 if args.smoke else 6)
        await asyncio.to_thread(counts.quiesce, urls, 60)
        t0 = time.time() + 0.1
        samples: list[dict[str, Any]] = []
        sampling = asyncio.create_task(_sample(urls, t0, args.bucket_seconds, samples))
        phases, start = [], t0
        for name, multiple in PHASES:
            rate = args.held * multiple
            log(f"surge: {name}, {rate:g} applications/s for {args.phase_seconds:g} s")
            before = sampler.snapshot()
            subs = await generator.offer(rate, args.phase_seconds, start)
            start += len(subs) / rate
            await asyncio.sleep(max(0.0, start - time.time()))
            phases.append({"name": name, "rate": rate, "start": subs[0].intended - t0, "end": start - t0,
                           "subs": subs, "cpu_s": round(sum(sampler.cpu_between(before, sampler.snapshot()).values()),
                                                        2)})
        load_end = time.time()
        await _until_all_ended([s for p in phases for s in p["subs"]], load_end + args.drain_timeout)
        ended_after = time.time() - load_end
        # The e-mail lane runs at a lower CPU share (Procfile): its backlog drains after the decisions.
        await asyncio.to_thread(counts.quiesce, urls, max(0.0, load_end + args.drain_timeout - time.time()))
        quiet_after = time.time() - load_end
        await asyncio.sleep(args.bucket_seconds)  # one more sample of the quiet backlog
        sampling.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sampling
    return {"t0": t0, "phases": phases, "samples": samples, "all_ended_after_load_s": round(ended_after, 1),
            "messages_drained_after_load_s": round(quiet_after, 1)}


async def _until_all_ended(subs: list[load.Submission], deadline: float) -> None:
    """Until every POST is answered and every accepted application reached a terminal state."""
    while time.time() < deadline:
        if all(s.code is not None and (s.code != 202 or s.terminal) for s in subs):
            return
        await asyncio.sleep(0.5)


def run(args: argparse.Namespace) -> dict[str, Any]:
    """The surge on a fresh stack; the analysed result (see :mod:`bench.surge_report`)."""
    log_dir = args.log_dir or Path(tempfile.mkdtemp(prefix="loanflow-surge-"))
    log_dir.mkdir(parents=True, exist_ok=True)
    env = {**DEFAULT_ENV, "LOANFLOW_MAX_IN_EVALUATION": str(args.max_in_evaluation),
           "LOANFLOW_ADMISSION_RATE": f"{args.admission_rate:g}",
           **dict(e.partition("=")[::2] for e in args.env)}
    meta = {"date": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "command": "python -m bench.surge " + " ".join(sys.argv[1:]),
            "smoke": args.smoke, "machine": machine(), "git": git_state(), "uptime_before": uptime(), "env": env,
            "procfile_overrides": override_commands(args.threads, args.nice), "log_dir": str(log_dir),
            "held": args.held, "max_in_evaluation": args.max_in_evaluation,
            "admission_rate": args.admission_rate, "phase_seconds": args.phase_seconds,
            "bucket_seconds": args.bucket_seconds}
    log(f"logs in {log_dir}; bound {args.max_in_evaluation or 'none'}, "
        f"rate {args.admission_rate or 'none'}/s; {meta['uptime_before']}")
    with contextlib.ExitStack() as exits:
        log("starting the stack (Procfile processes)")
        stack, urls = launch(exits, args, log_dir, env)
        sampler = procs.Sampler({name: p.pid for name, p in stack.processes.items()})
        observed = asyncio.run(_drive(stack, urls, args, sampler))
        log("stopping the stack")
        stack.stop(timeout=5)
    meta["uptime_after"] = uptime()
    return {"meta": meta, **analyse(observed, args.held, args.bucket_seconds)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = run(args)
    print(render(result))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str) + "\n")
    log(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
