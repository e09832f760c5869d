"""Resident memory and CPU time of the stack's processes (every process of every Procfile entry).

Each Procfile entry is a process group leader (``Stack.start`` uses ``start_new_session``); its
descendants (gunicorn workers, Dramatiq's worker and exporter processes) are found at every
sample, so a process started mid-run is counted too.
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

MIB = 1024 * 1024


def describe(process: psutil.Process) -> str:
    """A short, stable label of one process: its command without the interpreter path."""
    with contextlib.suppress(psutil.Error):
        cmdline = process.cmdline()
        words = [Path(w).name if i == 0 or w.endswith("/python3") else w for i, w in enumerate(cmdline)]
        return " ".join(words)[:120]
    return "?"


def tree(leaders: dict[str, int]) -> dict[int, str]:
    """``{pid: entry name}`` of every live process below the leaders (leaders included)."""
    found: dict[int, str] = {}
    for name, pid in leaders.items():
        with contextlib.suppress(psutil.Error):
            leader = psutil.Process(pid)
            found[pid] = name
            for child in leader.children(recursive=True):
                found[child.pid] = name
    return found


def cpu_seconds(pid: int) -> float | None:
    with contextlib.suppress(psutil.Error):
        times = psutil.Process(pid).cpu_times()
        return times.user + times.system
    return None


def rss_bytes(pid: int) -> int | None:
    with contextlib.suppress(psutil.Error):
        return psutil.Process(pid).memory_info().rss
    return None


def pss_bytes(pid: int) -> int | None:
    """Proportional set size: shared pages (libraries, a forking parent's memory) divided among
    the processes sharing them, so that the PSS of all processes adds up to what they really use."""
    with contextlib.suppress(psutil.Error, AttributeError):
        return psutil.Process(pid).memory_full_info().pss
    return None


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies of the whole machine, from /proc/stat."""
    fields = [float(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def infrastructure_cpu() -> float:
    """CPU seconds of every PostgreSQL and RabbitMQ process on the machine (shared with others)."""
    total = 0.0
    for process in psutil.process_iter(["name", "cpu_times"]):
        name = process.info["name"] or ""
        if name.startswith(("postgres", "beam.smp", "erl_child_setup", "epmd")) and process.info["cpu_times"]:
            total += process.info["cpu_times"].user + process.info["cpu_times"].system
    return total


@dataclass
class Snapshot:
    """CPU seconds per pid at one instant."""

    cpu: dict[int, float]
    busy: float
    total: float
    at: float
    infra: float
    me: float


@dataclass
class Sampler:
    """Samples the stack's processes once a second in a thread: CPU per pid, peak RSS per pid."""

    leaders: dict[str, int]
    interval: float = 1.0
    names: dict[int, str] = field(default_factory=dict)
    labels: dict[int, str] = field(default_factory=dict)
    last_cpu: dict[int, float] = field(default_factory=dict)
    peak_rss: dict[int, int] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def sample(self) -> None:
        for pid, name in tree(self.leaders).items():
            if pid not in self.names:
                self.names[pid] = name
                with contextlib.suppress(psutil.Error):
                    self.labels[pid] = describe(psutil.Process(pid))
            cpu, rss = cpu_seconds(pid), rss_bytes(pid)
            if cpu is not None:
                self.last_cpu[pid] = cpu
            if rss is not None:
                self.peak_rss[pid] = max(self.peak_rss.get(pid, 0), rss)

    def snapshot(self) -> Snapshot:
        self.sample()
        busy, total = machine_busy()
        me = psutil.Process().cpu_times()  # the harness, with the children it waited for (wrk, py-spy)
        mine = me.user + me.system + me.children_user + me.children_system
        return Snapshot(dict(self.last_cpu), busy, total, time.monotonic(), infrastructure_cpu(), mine)

    def reset_peaks(self) -> None:
        self.peak_rss.clear()

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="bench-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with contextlib.suppress(Exception):
                self.sample()

    def cpu_between(self, first: Snapshot, last: Snapshot) -> dict[int, float]:
        """CPU seconds each pid used between two snapshots (a pid born in between: all of it)."""
        return {pid: cpu - first.cpu.get(pid, 0.0) for pid, cpu in last.cpu.items()}

    def by_entry(self, per_pid: dict[int, float]) -> dict[str, float]:
        totals: dict[str, float] = {}
        for pid, value in per_pid.items():
            name = self.names.get(pid, "?")
            totals[name] = totals.get(name, 0.0) + value
        return totals

    def rss_now(self) -> dict[int, int]:
        """Current RSS of every live process of the stack."""
        found = {}
        for pid, name in tree(self.leaders).items():
            self.names.setdefault(pid, name)
            if pid not in self.labels:
                with contextlib.suppress(psutil.Error):
                    self.labels[pid] = describe(psutil.Process(pid))
            rss = rss_bytes(pid)
            if rss is not None:
                found[pid] = rss
        return found

    def pss_now(self) -> dict[int, int]:
        """Current PSS of every live process of the stack (reads smaps: at rest only, it is slow)."""
        return {pid: pss for pid in tree(self.leaders) if (pss := pss_bytes(pid)) is not None}

    def rss_table(self, per_pid: dict[int, int], key: str = "rss_mib") -> list[dict[str, object]]:
        """One row per process: entry, pid, command, the size under ``key`` in MiB; largest first."""
        rows = [{"entry": self.names.get(pid, "?"), "pid": pid, "command": self.labels.get(pid, "?"),
                 key: round(size / MIB, 1)} for pid, size in per_pid.items()]
        return sorted(rows, key=lambda r: -float(r[key]))  # type: ignore[arg-type]


def hottest(sampler: Sampler, per_pid: dict[int, float]) -> tuple[int, str, float] | None:
    """The process that used the most CPU: (pid, entry, seconds), if it still lives."""
    for pid, seconds in sorted(per_pid.items(), key=lambda kv: -kv[1]):
        if psutil.pid_exists(pid):
            return pid, sampler.names.get(pid, "?"), seconds
    return None
