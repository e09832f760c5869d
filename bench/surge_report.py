"""The surge's figures (``python -m bench.surge``): per bucket, per phase, the drain; and its table.

Goodput is what the applicants see: applications of the run reaching a terminal state per second
(APPROVED, REJECTED… by the staff SSE stream's arrival time). The issue's target: during the
surge and after it, until the backlog is gone, at least 80 % of the held rate
(``goodput_floor_ratio``); none FAILED because of it; the latency of the admitted bounded.
"""

from __future__ import annotations

import math
from typing import Any

from bench.load import Submission, summary

#: The issue's floor: goodput during and after the surge, as a share of the held rate.
GOODPUT_TARGET = 0.8


def analyse(observed: dict[str, Any], held: float, bucket: float) -> dict[str, Any]:
    """Buckets, phases and drain from the raw observations of :func:`bench.surge._drive`."""
    t0, phases, samples = observed["t0"], observed["phases"], observed["samples"]
    subs: list[Submission] = [s for p in phases for s in p["subs"]]
    buckets = _buckets(t0, phases, samples, subs, bucket)
    surge_start, surge_end = phases[1]["start"], phases[2]["end"]
    read = [s for s in samples if s["in_evaluation"] is not None]
    level = max((s["in_evaluation"] for s in read if s["t"] <= phases[0]["end"]), default=0)
    drained_at = next((s["t"] for s in read if s["t"] >= surge_end and s["in_evaluation"] <= level), None)
    window = [b for b in buckets if b["t"] >= surge_start and b["t"] + bucket <= (drained_at or surge_end)]
    floor = min((b["goodput_per_s"] for b in window), default=None)
    accepted = [s for s in subs if s.code == 202]
    refused = [s for s in subs if s.code == 503]
    return {
        "buckets": buckets,
        "phases": [_phase(p, t0) for p in phases],
        "drain": {
            "backlog_level_held": level,
            "backlog_drained_after_4x_s": None if drained_at is None else round(drained_at - surge_end, 1),
            "all_ended_after_load_s": observed["all_ended_after_load_s"],
            "messages_drained_after_load_s": observed.get("messages_drained_after_load_s"),
        },
        "totals": {
            "offered": len(subs), "accepted": len(accepted), "refused_503": len(refused),
            "refused_503_with_retry_after": sum(1 for s in refused if s.retry_after),
            "other_http_errors": sum(1 for s in subs if s.code not in (202, 503)),
            "other_answers": _others(subs),
            "ended": sum(1 for s in accepted if s.terminal), "outcomes": _outcomes(accepted),
            "failed": sum(1 for s in accepted if s.terminal == "FAILED"),
            "not_ended": sum(1 for s in accepted if not s.terminal),
        },
        "goodput_floor_per_s": floor,
        "goodput_floor_ratio": None if floor is None else round(floor / held, 3),
        "goodput_target_ratio": GOODPUT_TARGET,
    }


def _buckets(t0: float, phases: list[dict[str, Any]], samples: list[dict[str, Any]], subs: list[Submission],
             bucket: float) -> list[dict[str, Any]]:
    ended = [s.arrived - t0 for s in subs if s.arrived is not None]
    last = max([samples[-1]["t"] if samples else 0.0, *ended, phases[-1]["end"]])
    rows = []
    for index in range(math.ceil(last / bucket)):
        start, end = index * bucket, (index + 1) * bucket
        sent = [s for s in subs if start <= s.intended - t0 < end]
        sample = next((s for s in samples if s["t"] >= end - 0.5), samples[-1] if samples else {})
        rows.append({
            "t": start,
            "phase": next((p["name"] for p in phases if p["start"] <= start < p["end"]), "drain"),
            "offered": len(sent),
            "accepted": sum(1 for s in sent if s.code == 202),
            "refused_503": sum(1 for s in sent if s.code == 503),
            "goodput_per_s": round(sum(1 for e in ended if start <= e < end) / bucket, 2),
            "in_evaluation": sample.get("in_evaluation"),
            "failed_total": sample.get("failed"),
            "pending_messages": sample.get("pending_messages"),
        })
    return rows


def _phase(phase: dict[str, Any], t0: float) -> dict[str, Any]:
    subs: list[Submission] = phase["subs"]
    accepted = [s for s in subs if s.code == 202]
    ended = [s for s in accepted if s.arrived is not None]
    in_phase = [s for s in ended if phase["start"] <= s.arrived - t0 < phase["end"]]  # type: ignore[operator]
    seconds = phase["end"] - phase["start"]
    return {
        "name": phase["name"], "offered_per_s": phase["rate"], "seconds": round(seconds, 1),
        "offered": len(subs), "accepted": len(accepted), "refused_503": sum(1 for s in subs if s.code == 503),
        "outcomes": _outcomes(accepted),
        "latency_admitted_s": summary([(s.arrived - s.intended) if s.arrived else math.inf for s in accepted]),
        "latency_post_answer_s": summary([(s.answered - s.intended) if s.answered else math.inf for s in subs]),
        "ended_in_phase_per_s": round(len(in_phase) / max(1e-9, seconds), 2),
        "cpu_s": phase["cpu_s"],
    }


def _others(subs: list[Submission]) -> dict[str, int]:
    """Answers other than 202 and 503, by status code, or by exception when there was none."""
    found: dict[str, int] = {}
    for s in subs:
        if s.code not in (202, 503):
            key = s.error or str(s.code)
            found[key] = found.get(key, 0) + 1
    return found


def _outcomes(subs: list[Submission]) -> dict[str, int]:
    found: dict[str, int] = {}
    for s in subs:
        key = s.terminal or "not ended"
        found[key] = found.get(key, 0) + 1
    return found


def render(result: dict[str, Any]) -> str:
    """The table: one line per bucket, one per phase, then the drain and the verdict figures."""
    meta = result["meta"]
    lines = [f"surge at held {meta['held']:g}/s, bound {meta['max_in_evaluation'] or 'none'} in evaluation, "
             f"admission rate {meta.get('admission_rate') or 'none'}/s",
             f"{'t s':>6} {'phase':<6} {'offered':>7} {'accepted':>8} {'503':>5} {'goodput/s':>9} "
             f"{'in eval':>7} {'pending msgs':>12} {'FAILED':>6}"]
    for b in result["buckets"]:
        lines.append(f"{b['t']:>6g} {b['phase']:<6} {b['offered']:>7} {b['accepted']:>8} {b['refused_503']:>5} "
                     f"{b['goodput_per_s']:>9} {b['in_evaluation']!s:>7} {b['pending_messages']!s:>12} "
                     f"{b['failed_total']!s:>6}")
    lines.append(f"{'phase':<6} {'rate':>5} {'accepted':>8} {'503':>5} {'ended/s':>7} {'p50 s':>6} {'p99 s':>6} "
                 f"{'max s':>6} {'CPU s':>6}  outcomes")
    for p in result["phases"]:
        lat = p["latency_admitted_s"]
        lines.append(f"{p['name']:<6} {p['offered_per_s']:>5g} {p['accepted']:>8} {p['refused_503']:>5} "
                     f"{p['ended_in_phase_per_s']:>7} {lat['p50']!s:>6} {lat['p99']!s:>6} {lat['max']!s:>6} "
                     f"{p['cpu_s']:>6}  {p['outcomes']}")
    totals, drain = result["totals"], result["drain"]
    lines += [
        f"totals: {totals}",
        f"backlog back to its held level {drain['backlog_drained_after_4x_s']} s after the 4x phase; "
        f"last accepted application ended {drain['all_ended_after_load_s']} s after the load, "
        f"last message (e-mails) {drain['messages_drained_after_load_s']} s after it",
        f"goodput floor during and after the surge: {result['goodput_floor_per_s']}/s "
        f"= {result['goodput_floor_ratio']} of held (target {result['goodput_target_ratio']})",
    ]
    return "\n".join(lines)
