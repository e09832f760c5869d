"""Policy versions at runtime: an admin creates a draft, tries it on past decisions, publishes it.

Why: thresholds change with the bank's appetite for risk, more often than code is deployed. A
version is a full set of thresholds (``policy_versions``); the one published last is in force in
every process within seconds (decision_app.adapters.policy_store), and each decision records
the version it applied. Before publishing, a **shadow run** decides the most recent decisions
again under the draft, in memory, and reports what would have changed: nothing is written but
the audit record. Every create, shadow run and publication is audited in decision's
``operator_actions`` with the admin's username.

Each function opens its own transaction; ``NoSuchVersion``, ``VersionExists`` and
``InconsistentPolicy`` are what the HTTP layer turns into 404, 409 and 409.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from decimal import InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from common.kernel.clock import utcnow
from common.operations.commands import audit
from common.service.runtime import Runtime
from decision_app.adapters.orm import DecisionRecord, PolicyVersionRecord
from decision_app.adapters.policy_store import active_record, in_force
from decision_app.domain.explained import RULES
from decision_app.domain.policy import PolicyConfig
from decision_app.domain.thresholds import VERSION, config_from, inconsistencies, thresholds
from decision_app.handlers import decision_for

#: How many past decisions a shadow run decides again by default, and at most.
SHADOW_DEFAULT, SHADOW_MAX = 1000, 10_000
#: Who "created" and "published" the built-in policy in the list of versions.
BUILT_IN = "built-in"
BUILT_IN_NOTE = ("The policy built into this release (decision_app/domain/policy.py), in force until a version is "
                 "published.")


class NoSuchVersion(LookupError):
    """No policy version by this name."""


class VersionExists(Exception):
    """A policy version by this name exists already (the built-in one's name included)."""


class InconsistentPolicy(ValueError):
    """The thresholds, merged with the policy in force, contradict each other: ``errors`` maps
    each field to what is wrong."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{name}: {' '.join(texts)}" for name, texts in errors.items()))
        self.errors = errors


def _builtin(rt: Runtime) -> PolicyConfig:
    builtin: PolicyConfig = rt.bindings.dependencies.policy
    return builtin


def policy_in_force(rt: Runtime) -> dict[str, Any]:
    """The policy in force (``GET /decision/policy``): its version and every threshold."""
    config: PolicyConfig = rt.bindings.dependencies.policies.current()
    return {"version": config.version, **thresholds(config)}


def versions(rt: Runtime) -> list[dict[str, Any]]:
    """Every version, newest first, the built-in one last unless it was published again.

    ``status``: ``draft`` (never published), ``published`` (the one in force: ``active``), or
    ``retired`` (published before, superseded since).
    """
    builtin = _builtin(rt)
    with rt.session_factory() as session:
        records = list(session.scalars(select(PolicyVersionRecord)
                                       .order_by(PolicyVersionRecord.created_at.desc(),
                                                 PolicyVersionRecord.version.desc())))
        active = active_record(session)
    listed = [_shown(record, active) for record in records]
    if builtin.version not in {record.version for record in records}:
        listed.append(_builtin_shown(builtin, active is None))
    return listed


def _shown(record: PolicyVersionRecord, active: PolicyVersionRecord | None) -> dict[str, Any]:
    is_active = active is not None and record.version == active.version
    status = "draft" if record.published_at is None else "published" if is_active else "retired"
    return {"version": record.version, "status": status, "active": is_active, "thresholds": record.thresholds,
            "note": record.note, "created_by": record.created_by, "created_at": record.created_at,
            "published_by": record.published_by, "published_at": record.published_at}


def _builtin_shown(builtin: PolicyConfig, is_active: bool) -> dict[str, Any]:
    return {"version": builtin.version, "status": "published" if is_active else "retired", "active": is_active,
            "thresholds": thresholds(builtin), "note": BUILT_IN_NOTE, "created_by": BUILT_IN, "created_at": None,
            "published_by": BUILT_IN, "published_at": None}


def version(rt: Runtime, name: str) -> dict[str, Any]:
    """One version as :func:`versions` shows it.

    Raises:
      NoSuchVersion.
    """
    found = next((item for item in versions(rt) if item["version"] == name), None)
    if found is None:
        raise NoSuchVersion(name)
    return found


def create(rt: Runtime, name: str, changes: Mapping[str, Any], note: str, by: str) -> dict[str, Any]:
    """A draft ``name``: the policy in force with ``changes`` (thresholds, typed or JSON-simple).

    Raises:
      VersionExists: ``name`` is taken (the built-in version's name too).
      InconsistentPolicy: the merged thresholds contradict each other.
    """
    builtin = _builtin(rt)
    try:
        with rt.session_factory() as session, session.begin():
            if name == builtin.version or session.get(PolicyVersionRecord, name) is not None:
                raise VersionExists(name)
            base = in_force(session, builtin)
            candidate = config_from(name, changes, base)
            problems = inconsistencies(candidate, set(changes))
            if problems:
                raise InconsistentPolicy(problems)
            session.add(PolicyVersionRecord(version=name, thresholds=thresholds(candidate), note=note,
                                            created_by=by, created_at=utcnow()))
            session.flush()
            audit(rt, session, by, "policy.create", name, based_on=base.version, changes=dict(changes), note=note)
    except IntegrityError:  # created by someone else between the check and the insert
        raise VersionExists(name) from None
    return version(rt, name)


def publish(rt: Runtime, name: str, by: str) -> dict[str, Any]:
    """Put ``name`` in force (a draft, a retired version, or the built-in one); audited.

    Publishing the version in force changes nothing and is not audited. The built-in version,
    published again after another, is stored then as a record of its own.

    Raises:
      NoSuchVersion.
    """
    builtin = _builtin(rt)
    if not VERSION.fullmatch(name):
        raise NoSuchVersion(name)
    with rt.session_factory() as session, session.begin():
        record = session.get(PolicyVersionRecord, name, with_for_update=True)
        active = active_record(session)
        if record is None and name != builtin.version:
            raise NoSuchVersion(name)
        in_force_now = active.version if active is not None else builtin.version
        if in_force_now != name:
            now = utcnow()
            if record is None:  # the built-in version, back in force after another
                record = PolicyVersionRecord(version=name, thresholds=thresholds(builtin), note=BUILT_IN_NOTE,
                                             created_by=by, created_at=now)
                session.add(record)
            record.published_at, record.published_by = now, by
            audit(rt, session, by, "policy.publish", name, previous=in_force_now)
    rt.bindings.dependencies.policies.forget()
    return version(rt, name)


def shadow(rt: Runtime, name: str, by: str, limit: int = SHADOW_DEFAULT, since: datetime | None = None
           ) -> dict[str, Any]:
    """Decide again, under version ``name``, the most recent decisions the rules made; compare.

    In memory: no decision is changed and nothing is sent; the run is audited. The officers'
    decisions are left out (they were decided by people, on the rules' referral). A decision
    whose facts were not kept (made before they were) is counted as ``skipped``, as one whose
    facts the policy cannot read any more. A decision counts as ``changed`` when its outcome would
    differ (``transitions`` counts each ``from→to``); ``reasons`` are the codes of the new one.

    Raises:
      NoSuchVersion.
    """
    builtin = _builtin(rt)
    if not VERSION.fullmatch(name):
        raise NoSuchVersion(name)
    with rt.session_factory() as session:
        if name == builtin.version and session.get(PolicyVersionRecord, name) is None:
            candidate = builtin
        else:
            record = session.get(PolicyVersionRecord, name)
            if record is None:
                raise NoSuchVersion(name)
            candidate = config_from(record.version, record.thresholds, builtin)
        query = select(DecisionRecord.application_id, DecisionRecord.round, DecisionRecord.created_at,
                       DecisionRecord.outcome, DecisionRecord.policy_version, DecisionRecord.facts
                       ).where(DecisionRecord.decided_by == RULES)
        if since is not None:
            query = query.where(DecisionRecord.created_at >= since)
        rows = session.execute(query.order_by(DecisionRecord.created_at.desc(), DecisionRecord.id.desc())
                               .limit(limit)).all()
    changed: list[dict[str, Any]] = []
    transitions: Counter[str] = Counter()
    decided = skipped = 0
    for row in rows:
        if not row.facts:
            skipped += 1
            continue
        try:
            outcome = decision_for(row.facts, candidate)
        except (KeyError, TypeError, ValueError, InvalidOperation):
            skipped += 1
            continue
        decided += 1
        if outcome.outcome != row.outcome:
            transitions[f"{row.outcome}→{outcome.outcome}"] += 1
            changed.append({"application_id": row.application_id, "round": row.round, "decided_at": row.created_at,
                            "policy_version": row.policy_version, "from": row.outcome, "to": outcome.outcome,
                            "reasons": [reason.code for reason in outcome.reasons]})
    report = {"version": name, "decisions": decided, "unchanged": decided - len(changed), "skipped": skipped,
              "changed": changed, "transitions": dict(transitions)}
    with rt.session_factory() as session, session.begin():
        audit(rt, session, by, "policy.shadow", name, limit=limit, since=since, decisions=decided,
               changed=len(changed), skipped=skipped, transitions=dict(transitions))
    return report
