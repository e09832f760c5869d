"""The HTTP API under gunicorn, loaded by wrk, next to a bare Flask endpoint under the same flags.

Runs, each for the same time with the same wrk settings:

- ``bare``: ``bench.bare_app`` (``{"ok": true}``) started with loan_web's Procfile command line
  (same gunicorn config, workers, threads, worker class), on its own port;
- ``post_direct`` / ``get_direct``: ``POST /loan/applications`` and ``GET /loan/applications/{id}``
  on loan_web's own port (no gateway);
- ``post_gateway`` / ``get_gateway``: the same through the aiohttp gateway.

Before wrk, a constant-rate ladder (``bench.rate``: requests fired at a fixed rate, latency from
the intended send time) finds the highest rate ``bare`` and ``POST /loan/applications`` hold with
p99 < 100 ms.

During these runs the process publishing loan's outbox is paused (SIGSTOP, SIGCONT after): each POST still commits
its application, history and outbox rows, but the saga does not run behind it, so the figure is
the HTTP path's own and not the pipeline's CPU competing with gunicorn for the two cores.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import requests

from bench import profile as profiling
from bench import rate as constant_rate
from tests.support.stack import ROOT, Stack

LUA = ROOT / "bench" / "wrk_report.lua"


def derived_command(stack: Stack, entry: str, app_spec: str, port: int, *, multiproc_dir: str,
                    workers: int | None = None, threads: int | None = None, env: dict[str, str] | None = None) -> str:
    """``entry``'s Procfile command (ports shifted) serving ``app_spec`` on ``port`` instead."""
    command = stack.commands[entry]
    command = re.sub(r"'[\w.]+:create_app\(\)'", f"'{app_spec}'", command)
    command = re.sub(r"--bind 127\.0\.0\.1:\d+", f"--bind 127.0.0.1:{port}", command)
    command = re.sub(r"PROMETHEUS_MULTIPROC_DIR=\S+", f"PROMETHEUS_MULTIPROC_DIR={multiproc_dir}", command)
    if workers is not None:
        command = re.sub(r"--workers \d+", f"--workers {workers}", command)
    if threads is not None:
        command = re.sub(r"--threads \d+", f"--threads {threads}", command)
    if env:
        assignments = " ".join(f"{k}={v}" for k, v in env.items())
        command = command.replace("env ", f"env {assignments} ", 1)
    return command


def start_extra(stack: Stack, name: str, command: str, health_url: str, timeout: float = 60) -> None:
    """Start one more process under the stack (stopped with it) and wait until it answers."""
    stack.commands[name] = command
    stack.start(name)
    deadline = time.monotonic() + timeout
    while True:
        try:
            if requests.get(health_url, timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        if stack.processes[name].poll() is not None:
            raise RuntimeError(f"{name} exited; see {stack.log_dir}/{name}.log")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{name} not answering {health_url}")
        time.sleep(0.3)


def wrk(url: str, seconds: float, *, threads: int, connections: int, body_file: Path | None = None,
        headers: dict[str, str] | None = None) -> dict[str, Any]:
    """One wrk run; requests/s and latency percentiles in ms (from the Lua ``done`` summary)."""
    command = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s",
               "-s", str(LUA)]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    command.append(url)
    env = {"WRK_BODY_FILE": str(body_file) if body_file else "", "PATH": "/usr/bin:/bin:/usr/local/bin"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=seconds + 60, check=True)
    raw = json.loads(done.stdout.strip().splitlines()[-1])
    duration = raw["duration_us"] / 1e6
    errors = sum(raw[k] for k in ("non_2xx_3xx", "connect_errors", "read_errors", "write_errors", "timeouts"))
    return {
        "requests": raw["requests"],
        "seconds": round(duration, 2),
        "rps": round((raw["requests"] - raw["non_2xx_3xx"]) / duration, 1),
        "errors": errors,
        "latency_ms": {k: round(raw[f"{k}_us"] / 1000, 2) for k in ("p50", "p90", "p95", "p99", "max")},
        "wrk": f"wrk -t{threads} -c{connections} -d{max(1, round(seconds))}s",
    }


def paused_entry(stack: Stack) -> str:
    """The process that publishes loan's outbox: paused while the API alone is measured."""
    return "loan_relay" if "loan_relay" in stack.processes else "loan_worker"


def run(stack: Stack, body: dict[str, Any], *, seconds: float, threads: int, connections: int, bare_port: int,
        work_dir: Path, rates: list[float], profile_svg: Path | None = None) -> dict[str, Any]:
    """Every API figure (see the module docstring); ``profile_svg``: py-spy loan_web during the direct POSTs."""
    offset = stack.offset
    loan = f"http://127.0.0.1:{8001 + offset}"
    bare = f"http://127.0.0.1:{bare_port}"
    start_extra(stack, "bench_bare", derived_command(
        stack, "loan_web", "bench.bare_app:create_app()", bare_port,
        multiproc_dir=str(stack.log_dir / "var/prometheus/bare")), f"{bare}/")
    body_file = work_dir / "application.json"
    body_file.write_text(json.dumps(body))
    accepted = requests.post(f"{loan}/loan/applications", json=body, timeout=10).json()
    token = {"Authorization": f"Bearer {accepted['access_token']}"}
    item = f"/loan/applications/{accepted['id']}"
    settings = {"threads": threads, "connections": connections}
    results: dict[str, Any] = {"loan_web": stack.commands["loan_web"], "bare_web": stack.commands["bench_bare"]}
    paused = paused_entry(stack)
    stack.signal(paused, signal.SIGSTOP)
    try:
        # Constant rate first (latency from the intended send time), then wrk's closed loop.
        results["bare_rate"] = constant_rate.ladder(f"{bare}/", rates, seconds)
        results["post_rate"] = constant_rate.ladder(f"{loan}/loan/applications", rates, seconds, body_file=body_file)
        results["bare"] = wrk(f"{bare}/", seconds, **settings)
        results["get_direct"] = wrk(f"{loan}{item}", seconds, headers=token, **settings)
        results["post_direct"] = wrk(f"{loan}/loan/applications", seconds, body_file=body_file, **settings)
        if profile_svg is not None:  # again, with every loan_web worker sampled (not the measured runs)
            for kind, url, extra in (("post", f"{loan}/loan/applications", {"body_file": body_file}),
                                     ("get", f"{loan}{item}", {"headers": token})):
                svg = profile_svg.with_name(profile_svg.name.replace("post", kind))
                with ThreadPoolExecutor(1) as pool:
                    recording = pool.submit(profiling.record, stack.processes["loan_web"].pid, svg,
                                            max(1, int(seconds) - 2), subprocesses=True)
                    results[f"{kind}_direct_profiled"] = wrk(url, seconds, **extra, **settings)  # type: ignore[arg-type]
                    results[f"{kind}_direct_profile"] = recording.result()
                if "svg" in results[f"{kind}_direct_profile"]:
                    results[f"{kind}_direct_profile"]["summary"] = profiling.summarize(svg)
        results["get_gateway"] = wrk(f"{stack.gateway}{item}", seconds, headers=token, **settings)
        results["post_gateway"] = wrk(f"{stack.gateway}/loan/applications", seconds, body_file=body_file, **settings)
    finally:
        stack.signal(paused, signal.SIGCONT)
    return results
