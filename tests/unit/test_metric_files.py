"""Live gauges of killed processes are retired when a worker starts (common.kernel.metrics)."""

from __future__ import annotations

import os
from pathlib import Path

from common.kernel.metrics import forget_dead_processes

#: Above Linux's largest possible pid_max (2**22): no process can have it, so it is always dead.
DEAD_PID = 2**22 + 1


def test_only_the_live_gauges_of_dead_processes_go(tmp_path: Path) -> None:
    dead, alive = DEAD_PID, os.getpid()
    names = [f"gauge_livesum_{dead}.db", f"gauge_liveall_{dead}.db", f"counter_{dead}.db",
             f"histogram_{dead}.db", f"gauge_livesum_{alive}.db", f"counter_{alive}.db", "notes.txt"]
    for name in names:
        (tmp_path / name).write_bytes(b"")
    assert forget_dead_processes(tmp_path) == [dead]
    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([f"counter_{dead}.db", f"histogram_{dead}.db", f"gauge_livesum_{alive}.db",
                           f"counter_{alive}.db", "notes.txt"])


def test_a_missing_directory_is_nothing_to_do(tmp_path: Path) -> None:
    assert forget_dead_processes(tmp_path / "absent") == []
