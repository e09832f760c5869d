"""Container health checks of loanflow's processes that serve no HTTP health endpoint.

``python deploy/healthcheck.py PATTERN…``: exits 0 when a process other than this one runs with a
command line containing every PATTERN (e.g. ``dramatiq loan_app.worker``, or
``loanflow.cli relay loan``), 1 otherwise. It reads ``/proc`` only, because the slim image has no
``pgrep``. Compose uses it as the ``healthcheck`` of workers and relays, Kubernetes as their
liveness probe.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path


def command_lines(proc: Path = Path("/proc")) -> list[str]:
    """The command lines of the other processes visible here, arguments joined by spaces."""
    lines = []
    own = {os.getpid(), os.getppid()}  # this check, and the shell that may have started it
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) in own:
            continue
        try:
            raw = (entry / "cmdline").read_bytes()
        except OSError:  # the process ended meanwhile, or is not ours to read
            continue
        if raw:
            lines.append(raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace"))
    return lines


def running(patterns: list[str], proc: Path = Path("/proc")) -> bool:
    """True when one process's command line contains every pattern."""
    return any(all(p in line for p in patterns) for line in command_lines(proc))


def main(argv: list[str]) -> int:
    if not argv:
        print("usage: python deploy/healthcheck.py PATTERN…", file=sys.stderr)
        return 2
    if running(argv):
        return 0
    print(f"no process matches {' '.join(argv)!r}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
