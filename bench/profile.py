"""Sampling profile of one live process with py-spy, and a text summary of where its time goes.

``py-spy record`` writes a flame graph (SVG, inferno's format). Each frame of it is a ``<g>`` with
a ``<title>function (file:line) (N samples, P%)</title>`` and a ``<rect>`` whose ``fg:x``/``fg:w``
give its position and width in samples, and ``y`` its depth. From those this module computes, per
function, the samples where it was on the stack (inclusive, counted once per stack) and where it
was the innermost frame (self), which is what docs/benchmarks.md's analysis quotes.
"""

from __future__ import annotations

import html
import re
import shutil
import subprocess
from collections import defaultdict
from pathlib import Path
from typing import Any

FRAME = re.compile(r'<g><title>(?P<title>.*?)</title><rect [^>]*?y="(?P<y>[\d.]+)"[^>]*?'
                   r'fg:x="(?P<x>\d+)" fg:w="(?P<w>\d+)"', re.S)
TITLE = re.compile(r"^(?P<name>.*) \((?P<samples>[\d,]+) samples?, [\d.]+%\)$", re.S)
LINE = re.compile(r":\d+\)$")


def py_spy() -> str | None:
    venv = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "py-spy"
    return str(venv) if venv.exists() else shutil.which("py-spy")


def record(pid: int, svg: Path, seconds: int, *, subprocesses: bool = False) -> dict[str, Any]:
    """``py-spy record`` of ``pid`` for ``seconds``.

    ``--gil``: only the thread holding the GIL is sampled, so the profile is where the CPU goes
    (threads waiting for PostgreSQL, the broker or the GIL itself are left out: in a process of
    16 threads they would otherwise fill the graph). ``--nonblocking``: the process is never paused.
    """
    tool = py_spy()
    if tool is None:
        return {"error": "py-spy not installed (bash bench/ensure_tools.sh)"}
    command = [tool, "record", "-o", str(svg), "--pid", str(pid), "--duration", str(seconds), "--rate", "100",
               "--nonblocking", "--gil", "--format", "flamegraph"]
    if subprocesses:
        command.append("--subprocesses")
    done = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    if done.returncode != 0 or not svg.exists():
        return {"error": (done.stderr or done.stdout)[-500:]}
    return {"svg": str(svg), "command": " ".join(command)}


def summarize(svg: Path, top: int = 25) -> dict[str, Any]:
    """Inclusive and self samples per function of a py-spy flame graph."""
    frames = []
    for match in FRAME.finditer(svg.read_text(errors="replace")):
        title = TITLE.match(html.unescape(match["title"]))
        if title:  # "function (file.py:123)" -> "function (file.py)": one row per function, not per line
            frames.append((float(match["y"]), int(match["x"]), int(match["w"]), LINE.sub(")", title["name"])))
    if not frames:
        return {"total_samples": 0, "inclusive": [], "self": []}
    # py-spy draws the root ("all") at the top; inferno's default puts it at the bottom: follow the root.
    root_y = next((f[0] for f in frames if f[3] == "all"), max(f[0] for f in frames))
    depths = sorted({f[0] for f in frames}, reverse=root_y == max(f[0] for f in frames))
    level = {y: i for i, y in enumerate(depths)}
    by_level: dict[int, list[tuple[int, int, str]]] = defaultdict(list)
    for y, x, w, name in frames:
        by_level[level[y]].append((x, w, name))
    total = sum(w for _, w, _ in by_level[0])
    self_samples: dict[str, int] = defaultdict(int)
    for depth, items in by_level.items():
        children = sorted(by_level.get(depth + 1, []))
        for x, w, name in items:
            covered = sum(cw for cx, cw, _ in children if x <= cx < x + w)
            self_samples[name] += w - covered
    # Inclusive: a function counted once per sample even when it recurses (intervals merged).
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for _, x, w, name in frames:
        spans[name].append((x, x + w))
    inclusive = {}
    for name, intervals in spans.items():
        merged, end = 0, -1
        for start, stop in sorted(intervals):
            if start >= end:
                merged += stop - start
                end = stop
            elif stop > end:
                merged += stop - end
                end = stop
        inclusive[name] = merged

    def rows(table: dict[str, int]) -> list[dict[str, Any]]:
        ranked = sorted(((k, v) for k, v in table.items() if k != "all"), key=lambda kv: -kv[1])[:top]
        return [{"function": name, "samples": n, "percent": round(100 * n / max(1, total), 1)} for name, n in ranked]

    return {"total_samples": total, "inclusive": rows(inclusive), "self": rows(self_samples)}
