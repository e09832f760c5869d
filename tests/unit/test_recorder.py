"""Entities record their messages; the unit of work collects them in the order they happened."""

from __future__ import annotations

from common.messaging.recorder import Notice, RecordsMessages, collect
from tests.unit.fakes import envelope


class Row(RecordsMessages):
    def __init__(self, application_id: str, correlation_id: str | None = None) -> None:
        self.application_id = application_id
        self.correlation_id = correlation_id


def test_messages_are_collected_once_in_recording_order_across_entities() -> None:
    first, second = Row("a", "corr-a"), Row("b")
    first.record("One", {"n": 1})
    second.record("Two", {"n": 2}, correlation_id="corr-b")
    first.record("Three", {"n": 3})
    collected = collect([second, first, second, object()])
    assert [(m.name, m.application_id, m.correlation_id) for m in collected] == [
        ("One", "a", "corr-a"), ("Two", "b", "corr-b"), ("Three", "a", "corr-a")]
    assert first.messages == [] and collect([first, second]) == []  # handed over, not sent twice


def test_an_entity_made_without_its_init_records_too() -> None:
    loaded = Row.__new__(Row)  # as the ORM loads a row
    loaded.application_id = "a"
    loaded.record("One", {})
    assert [m.name for m in loaded.collect_messages()] == ["One"]


def test_a_notice_carries_the_ids_of_the_message_it_answers() -> None:
    notice = Notice.about(envelope("ValueProperty", {}, "app-9", correlation_id="corr-9"))
    notice.record("PropertyValuationFailed", {"round": 1})
    [message] = collect([notice])
    assert (message.application_id, message.correlation_id) == ("app-9", "corr-9")
