"""Bulk replay and discard of dead letters by query (``POST /<svc>/dead-letters/batch``), on real PostgreSQL.

Most letters are parked by hand (actor, error and time as the test needs them); the first test
parks them with a real Dramatiq worker, as tests/integration/test_dead_letters.py does.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import dramatiq
import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from common.identity.roles import ADMIN, OFFICER, OPERATOR
from common.kernel.clock import utcnow
from common.messaging.broker import build_broker
from common.messaging.consumers import register_actors
from common.messaging.deadletters import PARKED
from common.messaging.outbox import new_id
from common.operations import batch, commands
from common.service.entrypoints import web_app
from common.service.runtime import Runtime
from tests.conftest import staff_token
from tests.integration.test_dead_letters import check_credit
from tests.support.messages import outbox, run_until_idle

URL = "/credit/dead-letters/batch"
STAFF = {"Authorization": f"Bearer {staff_token(OPERATOR, 'alice')}"}
CHECK, CANCEL = "credit.check_credit", "credit.cancel_credit_inquiry"


@pytest.fixture
def rt(runtime_of: Callable[..., Runtime]) -> Runtime:
    return runtime_of("credit", bureau_url="http://127.0.0.1:9")  # no bureau there: every check fails


def client_of(rt: Runtime) -> FlaskClient:
    return web_app("credit", rt.settings, rt=rt).test_client()


def park(rt: Runtime, *, actor: str = CHECK, error: str = "BureauUnavailable: timed out",
         application_id: str | None = None, ago: timedelta = timedelta(0)) -> str:
    """A parked dead letter of ``actor``, as the worker would have written it; returns its id."""
    application_id = application_id or new_id()
    wire = {"event_id": new_id(), "type": "CheckCredit", "application_id": application_id,
            "correlation_id": application_id, "occurred_at": "2026-12-01T09:00:00+00:00", "data": {}}
    message = dramatiq.Message(queue_name="credit", actor_name=actor, args=(wire,), kwargs={}, options={})
    letter = rt.definition.tables.dead_letters(
        id=new_id(), message_id=message.message_id, queue="credit", actor=actor, message_type="CheckCredit",
        application_id=application_id, message=message.asdict(), error=error, retries=2, replays=0,
        status=PARKED, parked_at=utcnow() - ago)
    with rt.session_factory() as session:
        session.add(letter)
        session.commit()
        return letter.id


def statuses(rt: Runtime) -> dict[str, str]:
    with rt.session_factory() as session:
        return {row.id: row.status for row in session.scalars(select(rt.definition.tables.dead_letters))}


def actions(rt: Runtime) -> list[Any]:
    """The audit trail, oldest first."""
    model = rt.definition.tables.audit
    with rt.session_factory() as session:
        return list(session.scalars(select(model).order_by(model.id)))


def run(client: FlaskClient, action: str, dry_run: bool, headers: dict[str, str] = STAFF,
        **filters: Any) -> dict[str, Any]:
    answer = client.post(URL, json={"action": action, "filter": filters, "dry_run": dry_run}, headers=headers)
    assert answer.status_code == 200, answer.json
    return answer.json  # type: ignore[no-any-return]


def test_a_batch_replays_worker_parked_letters_with_their_ids_audited_under_the_batch(rt: Runtime) -> None:
    broker = build_broker(rt.settings)
    register_actors(rt, broker)
    messages = [check_credit(broker, new_id()) for _ in range(2)]
    run_until_idle(broker, "credit")
    client = client_of(rt)

    counted = run(client, "replay", True, error_contains="bureauUNAVAILABLE")
    assert {k: counted[k] for k in ("matched", "done", "remaining", "skipped", "dry_run")} == {
        "matched": 2, "done": 0, "remaining": 0, "skipped": 0, "dry_run": True}
    assert not [r for r in outbox(rt) if r.message_id in {m.message_id for m in messages}]
    assert set(statuses(rt).values()) == {PARKED}

    replayed = run(client, "replay", False, error_contains="bureauUNAVAILABLE")
    assert (replayed["matched"], replayed["done"], replayed["skipped"]) == (2, 2, 0)
    assert set(statuses(rt).values()) == {"REPLAYED"}
    rows = [r for r in outbox(rt) if r.message_id in {m.message_id for m in messages}]
    assert sorted(r.message_id for r in rows) == sorted(m.message_id for m in messages)  # original ids
    trail = actions(rt)
    assert [(a.action, a.operator) for a in trail] == [
        ("batch_replay", "alice"), ("replay", "alice"), ("replay", "alice"), ("batch_replay", "alice")]
    dry, *letters, real = trail
    assert dry.target == counted["batch"] and dry.detail["dry_run"] is True and dry.detail["matched"] == 2
    assert real.target == replayed["batch"] != counted["batch"]
    assert real.detail == {"filter": {"error_contains": "bureauUNAVAILABLE"}, "matched": 2, "done": 2,
                           "remaining": 0, "skipped": 0, "dry_run": False}
    assert {a.detail["batch"] for a in letters} == {replayed["batch"]}
    assert {a.target for a in letters} == set(statuses(rt))
    # The batch's rows are in the audit endpoint like any other.
    listed = client.get("/credit/operator-actions", headers=STAFF).json
    assert listed[0]["action"] == "batch_replay" and listed[0]["target"] == replayed["batch"]


def test_each_filter_selects_exactly_its_letters(rt: Runtime) -> None:
    application_id = new_id()
    old = park(rt, ago=timedelta(days=3))
    cancel = park(rt, actor=CANCEL, error="CancelFailed: 100% of _retries", ago=timedelta(days=2))
    mine = park(rt, application_id=application_id, error="ValueError: bad", ago=timedelta(hours=5))
    recent = park(rt, ago=timedelta(minutes=5))
    done_already = park(rt, application_id=application_id)
    commands.settle_dead_letter(rt, done_already, "discard", "bob")
    client = client_of(rt)
    now = utcnow()

    def matched(**filters: Any) -> int:
        return int(run(client, "replay", True, **filters)["matched"])

    assert matched() == 4  # an empty filter: every *parked* letter
    assert matched(actor=CANCEL) == 1 and matched(actor="credit") == 0  # exact name
    assert matched(error_contains="bureauunavailable") == 2
    assert matched(error_contains="100%") == 1 and matched(error_contains="_retries") == 1  # no wildcards
    assert matched(error_contains="%") == 1 and matched(error_contains="_") == 1
    assert matched(application_id=application_id) == 1
    assert matched(since=(now - timedelta(days=1)).isoformat()) == 2
    assert matched(until=(now - timedelta(days=2, minutes=-1)).isoformat()) == 2
    window = {"since": (now - timedelta(days=2, minutes=1)).isoformat(),
              "until": (now - timedelta(hours=1)).isoformat()}
    assert matched(**window) == 2
    naive = {"since": (now - timedelta(days=2, minutes=1)).replace(tzinfo=None).isoformat()}
    assert matched(**naive) == 3  # no offset: UTC

    replayed = run(client, "replay", False, error_contains="bureau", since=window["since"])
    assert (replayed["matched"], replayed["done"]) == (1, 1)
    assert statuses(rt) == {old: PARKED, cancel: PARKED, mine: PARKED, recent: "REPLAYED", done_already: "DISCARDED"}
    discarded = run(client, "discard", False, **window)
    assert (discarded["matched"], discarded["done"]) == (2, 2)
    assert statuses(rt) == {old: PARKED, cancel: "DISCARDED", mine: "DISCARDED", recent: "REPLAYED",
                            done_already: "DISCARDED"}
    assert not [r for r in outbox(rt) if r.actor == CANCEL]  # a discard sends nothing
    trail = [(a.action, a.target) for a in actions(rt) if a.action in ("discard", "batch_discard")]
    assert trail == [("discard", done_already), ("discard", cancel), ("discard", mine),  # the oldest first
                     ("batch_discard", discarded["batch"])]


def test_a_batch_acts_on_the_oldest_letters_up_to_the_limit(runtime_of: Callable[..., Runtime]) -> None:
    rt = runtime_of("credit", batch_limit=3)
    letters = [park(rt, ago=timedelta(minutes=10 - i)) for i in range(5)]  # oldest first
    client = client_of(rt)
    assert run(client, "discard", True) | {"batch": None} == {
        "batch": None, "matched": 5, "done": 0, "remaining": 2, "skipped": 0, "dry_run": True}
    first = run(client, "discard", False)
    assert (first["matched"], first["done"], first["remaining"]) == (5, 3, 2)
    assert statuses(rt) == {**dict.fromkeys(letters[:3], "DISCARDED"), **dict.fromkeys(letters[3:], PARKED)}
    second = run(client, "discard", False)
    assert (second["matched"], second["done"], second["remaining"]) == (2, 2, 0)
    assert run(client, "discard", False)["matched"] == 0


def test_a_letter_settled_meanwhile_or_failing_is_skipped_and_the_others_done(
        rt: Runtime, monkeypatch: pytest.MonkeyPatch) -> None:
    letters = [park(rt, ago=timedelta(minutes=5 - i)) for i in range(4)]
    raced, failing = letters[1], letters[2]
    select_letters, settle = batch._select, batch.settle_dead_letter

    def another_operator_first(*args: Any) -> tuple[int, list[str]]:
        found = select_letters(*args)
        commands.settle_dead_letter(rt, raced, "replay", "bob")  # after the selection, before the batch
        return found

    def failing_once(rt_: Runtime, letter_id: str, *args: Any, **kwargs: Any) -> Any:
        if letter_id == failing:
            raise RuntimeError("the disk is full")
        return settle(rt_, letter_id, *args, **kwargs)

    monkeypatch.setattr(batch, "_select", another_operator_first)
    monkeypatch.setattr(batch, "settle_dead_letter", failing_once)
    outcome = run(client_of(rt), "replay", False)
    assert (outcome["matched"], outcome["done"], outcome["skipped"]) == (4, 2, 2)
    assert statuses(rt) == {letters[0]: "REPLAYED", raced: "REPLAYED", failing: PARKED, letters[3]: "REPLAYED"}
    assert len(outbox(rt)) == 3  # bob's replay and the batch's two: none twice
    replays = [(a.operator, a.target) for a in actions(rt) if a.action == "replay"]
    assert ("bob", raced) in replays and ("alice", raced) not in replays and len(replays) == 3


def test_operators_and_admins_only_and_the_credential_before_the_body(rt: Runtime) -> None:
    client = client_of(rt)
    park(rt)
    garbage = {"action": "explode", "filter": {"since": "yesterday"}, "colour": "red"}
    assert client.post(URL, json=garbage).status_code == 401
    assert client.post(URL, json=garbage, headers={"Authorization": "Bearer nope"}).status_code == 401
    officer = {"Authorization": f"Bearer {staff_token(OFFICER, 'olga')}"}
    assert client.post(URL, json=garbage, headers=officer).status_code == 403
    assert client.post(URL, json={"action": "discard", "filter": {}, "dry_run": False},
                       headers=officer).status_code == 403
    admin = {"Authorization": f"Bearer {staff_token(ADMIN, 'ada')}"}
    assert run(client, "discard", False, headers=admin)["done"] == 1
    assert [(a.action, a.operator) for a in actions(rt)] == [("discard", "ada"), ("batch_discard", "ada")]


@pytest.mark.parametrize(("body", "where"), [
    ({"action": "retry", "filter": {}, "dry_run": True}, ("action",)),
    ({"filter": {}, "dry_run": True}, ("action",)),
    ({"action": "replay", "dry_run": True}, ("filter",)),
    ({"action": "replay", "filter": {}}, ("dry_run",)),
    ({"action": "replay", "filter": {}, "dry_run": "yes"}, ("dry_run",)),
    ({"action": "replay", "filter": {}, "dry_run": True, "limit": 5}, ("limit",)),
    ({"action": "replay", "filter": {"status": "REPLAYED"}, "dry_run": True}, ("filter", "status")),
    ({"action": "replay", "filter": {"since": "last week"}, "dry_run": True}, ("filter", "since")),
    ({"action": "replay", "filter": {"until": 17}, "dry_run": True}, ("filter", "until")),
    ({"action": "replay", "filter": {"application_id": "nope"}, "dry_run": True}, ("filter", "application_id")),
    ({"action": "replay", "filter": {"actor": ["a"]}, "dry_run": True}, ("filter", "actor")),
    ({"action": "replay", "filter": {"error_contains": ""}, "dry_run": True}, ("filter", "error_contains")),
    ({"action": "replay", "filter": {"since": "2026-12-02T00:00:00Z", "until": "2026-12-01T00:00:00Z"},
      "dry_run": True}, ("filter", "until")),
    ({"action": "replay", "filter": [], "dry_run": True}, ("filter",)),
])
def test_a_malformed_batch_is_refused_field_by_field(rt: Runtime, body: dict[str, Any], where: tuple[str, ...]) -> None:
    letter = park(rt)
    answer = client_of(rt).post(URL, json=body, headers=STAFF)
    assert answer.status_code == 422, answer.json
    errors = answer.json["errors"]["json"]
    for key in where:
        errors = errors[key]
    assert errors
    assert statuses(rt) == {letter: PARKED} and actions(rt) == []
