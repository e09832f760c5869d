"""Progress lines on stderr and the time each phase took, and what the machine was when it ran.

A benchmark's figures mean little without the machine, the commit and its load before and after
(``uptime``): they go into the JSON's ``meta`` with the seconds of each phase.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from bench.options import ROOT

#: Seconds each finished phase took, by name (the JSON's ``meta.phase_seconds``).
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
