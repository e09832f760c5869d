"""Policy versions' thresholds (stored form, consistency) and the store's cache of the policy in force."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from pathlib import Path

from sqlalchemy import create_engine, event
from sqlalchemy.orm import sessionmaker

from common.kernel.clock import utcnow
from decision_app.adapters.orm import Base, PolicyVersionRecord
from decision_app.adapters.policy_store import PolicyStore
from decision_app.domain.policy import PolicyConfig
from decision_app.domain.thresholds import FIELDS, VERSION, config_from, inconsistencies, thresholds

D = Decimal
BUILT_IN = PolicyConfig()


def test_thresholds_are_every_field_but_the_version_as_json_simple_values() -> None:
    stored = thresholds(BUILT_IN)
    assert list(stored) == list(FIELDS) and "version" not in stored
    assert stored["max_debt_to_income"] == "0.35" and stored["refer_credit_score_margin"] == 20
    assert stored["rate_grid"][0] == {"up_to_months": 120, "annual_rate": "0.0320"}
    assert stored["info_for_self_employed"] is True
    assert config_from(BUILT_IN.version, stored, PolicyConfig(version="other")) == BUILT_IN


def test_changes_are_read_over_a_base_and_unknown_keys_ignored() -> None:
    changed = config_from("2027.01", {"refer_debt_to_income_from": D("0.30"), "min_credit_score": 640,
                                      "rate_grid": [{"up_to_months": 300, "annual_rate": "0.04"}],
                                      "from_a_newer_release": 1}, BUILT_IN)
    assert changed == replace(BUILT_IN, version="2027.01", refer_debt_to_income_from=D("0.30"), min_credit_score=640,
                              rate_grid=((300, D("0.04")),))
    assert config_from("x", {"info_for_self_employed": False}, BUILT_IN).info_for_self_employed is False


def test_inconsistencies_name_the_fields_that_were_changed() -> None:
    assert inconsistencies(BUILT_IN) == {}
    band_above = replace(BUILT_IN, refer_debt_to_income_from=D("0.36"))
    assert list(inconsistencies(band_above, {"refer_debt_to_income_from"})) == ["refer_debt_to_income_from"]
    limit_below = replace(BUILT_IN, max_debt_to_income=D("0.30"))
    assert list(inconsistencies(limit_below, {"max_debt_to_income"})) == ["max_debt_to_income"]
    assert list(inconsistencies(replace(BUILT_IN, max_loan_to_value=D("0.85")))) == ["refer_loan_to_value_above"]
    unordered = replace(BUILT_IN, rate_grid=((180, D("0.03")), (120, D("0.03")), (300, D("0.03"))))
    assert list(inconsistencies(unordered, {"rate_grid"})) == ["rate_grid"]
    short = replace(BUILT_IN, max_duration_months=360)
    assert list(inconsistencies(short, {"max_duration_months"})) == ["max_duration_months"]
    assert replace(BUILT_IN, refer_loan_to_value_above=D("1.00")).refer_loan_to_value_above == D("1.00")
    assert inconsistencies(replace(BUILT_IN, refer_loan_to_value_above=D("1.00"))) == {}  # an empty band is allowed


def test_version_names() -> None:
    assert all(VERSION.fullmatch(name) for name in ("2027.01", "a", "v2_rc-1", "x" * 32))
    assert not any(VERSION.fullmatch(name) for name in ("", "x" * 33, "a b", "a/b", "2027.01\n", "é"))


def test_the_store_reads_the_policy_at_most_once_per_refresh(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'decision.db'}")
    Base.metadata.create_all(engine)
    statements: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    now = [100.0]
    store = PolicyStore(sessionmaker(engine), BUILT_IN, refresh_seconds=2.0, clock=lambda: now[0])
    try:
        assert [store.current() for _ in range(500)] == [BUILT_IN] * 500
        assert len(statements) == 1  # 500 decisions, one read
        with sessionmaker(engine)() as session, session.begin():
            session.add(PolicyVersionRecord(version="2027.01", thresholds={"min_credit_score": 650}, note="",
                                            created_by="ada", created_at=utcnow(), published_by="ada",
                                            published_at=utcnow()))
        statements.clear()
        now[0] += 1.9
        assert store.current() == BUILT_IN and statements == []  # still within the refresh time
        now[0] += 0.2
        assert store.current() == replace(BUILT_IN, version="2027.01", min_credit_score=650)
        assert len(statements) == 1
        store.forget()
        store.current()
        assert len(statements) == 2
    finally:
        engine.dispose()
