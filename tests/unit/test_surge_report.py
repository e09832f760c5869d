"""The surge's arithmetic (bench/surge_report.py) on made-up observations: buckets, phases, drain, floor."""

from __future__ import annotations

from bench.load import Submission
from bench.surge_report import analyse, render

T0 = 1000.0


def _subs(start: float, rate: float, seconds: float, *, refused_every: int = 0,
          latency: float = 1.0) -> list[Submission]:
    subs = []
    for i in range(int(rate * seconds)):
        sub = Submission(intended=T0 + start + i / rate, sent=T0 + start + i / rate)
        if refused_every and i % refused_every == 0:
            sub.code, sub.retry_after = 503, "5"
        else:
            sub.code, sub.terminal, sub.arrived = 202, "APPROVED", sub.intended + latency
        sub.answered = sub.intended + 0.01
        subs.append(sub)
    return subs


def _observed() -> dict:
    def phase(name: str, rate: float, start: float, refused_every: int = 0) -> dict:
        return {"name": name, "rate": rate, "start": start, "end": start + 10, "cpu_s": 1.0,
                "subs": _subs(start, rate, 10, refused_every=refused_every)}

    phases = [phase("held", 2, 0), phase("2x", 4, 10, 2), phase("4x", 8, 20, 1), phase("back", 2, 30)]
    samples = [{"t": t, "in_evaluation": n, "failed": 0, "pending_messages": 0}
               for t, n in ((10, 3), (20, 4), (30, 9), (40, 2), (50, 0))]
    return {"t0": T0, "phases": phases, "samples": samples, "all_ended_after_load_s": 1.5}


def test_buckets_phases_and_totals() -> None:
    result = analyse(_observed(), held=2.0, bucket=10.0)
    assert [b["phase"] for b in result["buckets"]] == ["held", "2x", "4x", "back", "drain"]
    assert [b["refused_503"] for b in result["buckets"]] == [0, 20, 80, 0, 0]
    assert result["buckets"][0]["goodput_per_s"] == 1.8  # sent at 0…9.5 s, ended 1 s later: 18 before 10 s
    totals = result["totals"]
    assert totals["refused_503"] == totals["refused_503_with_retry_after"] == 100
    assert totals["accepted"] == 60 and totals["failed"] == 0 and totals["not_ended"] == 0
    held = result["phases"][0]
    assert held["accepted"] == 20 and held["latency_admitted_s"]["p99"] == 1.0


def test_drain_is_measured_from_the_end_of_the_4x_phase_to_the_held_level() -> None:
    result = analyse(_observed(), held=2.0, bucket=10.0)
    assert result["drain"]["backlog_level_held"] == 3
    assert result["drain"]["backlog_drained_after_4x_s"] == 10.0  # back to ≤ 3 at t = 40
    assert result["goodput_floor_per_s"] is not None and result["goodput_floor_ratio"] is not None
    assert "goodput floor" in render({"meta": {"held": 2.0, "max_in_evaluation": 4}, **result})
