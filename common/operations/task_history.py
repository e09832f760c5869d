"""A service's task history: what happened to each message it consumed, and per-actor figures.

A task is a message: it succeeded when its processed record exists, otherwise it is retrying or
dead according to its latest failed attempt (``task_attempts``), with its dead letter if parked.
Read by ``/<svc>/tasks…`` and, through them, by the task dashboard; each query takes the
service's :class:`Runtime` and opens one session.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from common.kernel.clock import utcnow
from common.messaging.deadletters import PARKED
from common.messaging.tasks import is_give_up_key
from common.operations.queue_stats import queue_stats
from common.service.runtime import Runtime


def search_tasks(rt: Runtime, args: dict[str, Any]) -> list[dict[str, Any]]:
    """Tasks of this service matching ``args`` (application_id, actor, state, since, message_id).

    A task is a message: succeeded when its processed record exists, otherwise retrying or dead
    according to its latest failed attempt.
    """
    t = rt.definition.tables
    limit = int(args.get("limit", 100))

    def where(model: Any, time_column: Any) -> list[Any]:
        clauses = []
        if args.get("application_id"):
            clauses.append(model.application_id == str(args["application_id"]))
        if args.get("actor"):
            clauses.append(model.actor == args["actor"])
        if args.get("message_id"):
            clauses.append(model.message_id == args["message_id"])
        if args.get("since"):
            clauses.append(time_column >= args["since"])
        return clauses

    with rt.session_factory() as session:
        processed = session.scalars(select(t.processed).where(*where(t.processed, t.processed.processed_at))
                                    .order_by(t.processed.processed_at.desc()).limit(limit)).all()
        attempts = session.scalars(select(t.attempts).where(*where(t.attempts, t.attempts.at))
                                   .order_by(t.attempts.id.desc()).limit(limit * 5)).all()
        ids = {a.message_id for a in attempts} | {p.message_id for p in processed}
        done = {p.message_id: p for p in processed}
        if attempts:  # a failed task may have succeeded later, outside the page of processed rows
            done.update({p.message_id: p for p in session.scalars(
                select(t.processed).where(t.processed.message_id.in_([a.message_id for a in attempts])))})
        letters = {d.message_id: d for d in session.scalars(
            select(t.dead_letters).where(t.dead_letters.message_id.in_(list(ids))))} if ids else {}
    tasks: dict[str, dict[str, Any]] = {}
    for attempt in reversed(attempts):
        task = tasks.setdefault(attempt.message_id, _task(attempt.message_id, attempt.actor, attempt.application_id))
        task["attempts"].append(attempt)
        task["state"] = "dead" if attempt.outcome == "dead" else "retrying"
        task["at"] = attempt.at
    for message_id, row in done.items():
        if is_give_up_key(message_id):
            continue
        task = tasks.setdefault(message_id, _task(message_id, row.actor, row.application_id))
        task.update(state="succeeded", processed_at=row.processed_at, at=row.processed_at,
                    duration_ms=row.duration_ms, latency_ms=row.latency_ms)
    for message_id, letter in letters.items():
        if message_id in tasks:
            tasks[message_id]["dead_letter"] = letter
    found = [task for task in tasks.values() if args.get("state") in (None, task["state"])]
    return sorted(found, key=lambda task: str(task["at"]), reverse=True)[:limit]


def _task(message_id: str, actor: str, application_id: str | None) -> dict[str, Any]:
    return {"message_id": message_id, "actor": actor, "application_id": application_id, "state": "retrying",
            "processed_at": None, "at": None, "duration_ms": None, "latency_ms": None, "attempts": [],
            "dead_letter": None}


def _percentile(values: list[int], share: float) -> int | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def overview(rt: Runtime, window_minutes: int = 60) -> dict[str, Any]:
    """Queues (from the broker) and, per actor over the window: throughput, failures, percentiles."""
    t = rt.definition.tables
    since = utcnow() - timedelta(minutes=window_minutes)
    with rt.session_factory() as session:
        done = session.execute(select(t.processed.actor, t.processed.duration_ms, t.processed.latency_ms)
                               .where(t.processed.processed_at >= since).limit(20_000)).all()
        failed = dict(session.execute(select(t.attempts.actor, func.count()).where(t.attempts.at >= since)
                                      .group_by(t.attempts.actor)).all())
        parked = dict(session.execute(select(t.dead_letters.actor, func.count())
                                      .where(t.dead_letters.status == PARKED).group_by(t.dead_letters.actor)).all())
    actors: dict[str, dict[str, Any]] = {}
    for actor, duration, latency in done:
        if actor.endswith(":gave-up"):
            continue
        entry = actors.setdefault(actor, {"durations": [], "latencies": []})
        entry["durations"].append(duration or 0)
        entry["latencies"].append(latency or 0)
    names = sorted(set(actors) | set(failed) | set(parked))
    return {
        "service": rt.name,
        "window_minutes": window_minutes,
        "queues": queue_stats(rt.name, rt.settings.broker_url, rt.broker),
        "actors": [{
            "actor": name,
            "succeeded": len(actors.get(name, {}).get("durations", [])),
            "per_minute": round(len(actors.get(name, {}).get("durations", [])) / window_minutes, 2),
            "failed_attempts": failed.get(name, 0),
            "dead_letters": parked.get(name, 0),
            **{f"{kind}_p{int(share * 100)}_ms": _percentile(actors.get(name, {}).get(key, []), share)
               for kind, key in (("duration", "durations"), ("latency", "latencies"))
               for share in (0.5, 0.95, 0.99)},
        } for name in names],
    }
