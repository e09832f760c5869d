"""The benchmark's command line (``python -m bench.run --help``) and the defaults it fills in.

A full run and ``--smoke`` (every part with tiny numbers) differ only in these defaults, so the
smoke test exercises the very code of a real run.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Where the JSON result and the py-spy profiles land.
RESULTS = ROOT / "bench" / "results"
#: The configuration the services run with by default here: the Settings defaults of production
#: (relay poll, retries, backoff) and the simulated bureau latency and valuation delay that
#: ``make run-services`` uses (deploy/local/services.env): a bench without them measured a
#: pipeline no one runs (the work waiting on the bureau holds worker threads and connections).
DEFAULT_ENV = {
    "BUREAU_LATENCY_MS": "300",
    "VALUATION_DELAY_MS": "400",
    "LOANFLOW_RELAY_POLL_SECONDS": "0.2",
    "LOANFLOW_STEP_MAX_RETRIES": "6",
    "LOANFLOW_MIN_BACKOFF_MS": "500",
    "LOANFLOW_MAX_BACKOFF_MS": "15000",
}


def parse_args(argv: list[str] | None = None, description: str | None = None) -> argparse.Namespace:
    """The options, every default filled in (``--smoke`` changes them) and lists parsed."""
    parser = _parser(description)
    args = parser.parse_args(argv)
    for key, value in _defaults(args.smoke).items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    suffix = "" if args.offset == 14_000 else f"_{args.offset}"
    args.prefix = args.prefix or f"loanflow_bench{suffix}"
    args.vhost = args.vhost or f"loanflow_bench{suffix}"
    args.rates = [float(r) for r in args.rates.split(",")]
    args.api_rates = [float(r) for r in args.api_rates.split(",")]
    args.live_levels = sorted(int(n) for n in args.live_levels.split(","))
    args.skip = {part.strip() for part in args.skip.split(",") if part.strip()}
    if args.skip - {"live", "api"}:
        parser.error("--skip takes live and/or api")
    return args


def _defaults(smoke: bool) -> dict[str, object]:
    return {
        "rates": "4" if smoke else "10,20,30,40,50,60",
        "step_seconds": 2.0 if smoke else 60.0,
        "repeat_knee": 1 if smoke else 3,
        "api_rates": "20" if smoke else "250,500,1000,1500,2000,3000",
        "grace": 20.0 if smoke else 15.0,
        "ceiling_seconds": 0.5 if smoke else 4.0,
        "api_seconds": 1.0 if smoke else 10.0,
        "live_levels": "5" if smoke else "100,200,400,800",
        "live_apps": 2 if smoke else 10,
        "profile": not smoke,
    }


def _parser(description: str | None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=description,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="every part with tiny numbers (well under a minute)")
    parser.add_argument("--offset", type=int, default=14_000, help="port offset of the stack (default 14000)")
    parser.add_argument("--prefix", help="database prefix (default loanflow_bench[_<offset>])")
    parser.add_argument("--vhost", help="RabbitMQ vhost (default loanflow_bench[_<offset>])")
    parser.add_argument("--rates", help="offered applications/s, stepped up (default 10,20,30,40,50,60)")
    parser.add_argument("--step-seconds", type=float, help="seconds per step (default 60)")
    parser.add_argument("--repeat-knee", type=int, help="runs at the highest rate held, counting the step "
                        "that found it; their spread is reported (default 3)")
    parser.add_argument("--grace", type=float, help="seconds to wait for a step's stragglers (default 15)")
    parser.add_argument("--keep-going", action="store_true", help="run every rate even after one is not held")
    parser.add_argument("--ceiling-seconds", type=float, help="seconds per ceiling measurement (default 4)")
    parser.add_argument("--api-seconds", type=float, help="seconds per wrk run and per constant-rate step (default 10)")
    parser.add_argument("--api-rates", help="constant request rates tried for bare Flask and POST, stepped up "
                        "until p99 ≥ 100 ms (default 250,500,1000,1500,2000,3000)")
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
    return parser
