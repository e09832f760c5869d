"""The rules of applicant access, without a database: tokens, their expiry and revocation, and
the application's side of re-issue and revocation (loan_app/domain/access.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from common.web.applicant_access import (
    AccessFacts,
    AccessRefused,
    ApplicantToken,
    Lifetimes,
    check,
    issue_applicant_token,
    read_applicant_token,
)
from loan_app.domain.access import ReissuePolicy, same_address
from loan_app.domain.model import Application, Deadlines
from tests.support.payloads import application

NOW = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
LIFETIMES = Lifetimes(max_age=timedelta(days=90), after_end=timedelta(days=45))
POLICY = ReissuePolicy(interval=timedelta(seconds=60), after_end=timedelta(days=45))
APP = "11111111-1111-1111-1111-111111111111"


def token(generation: int = 1, issued: datetime = NOW) -> ApplicantToken:
    return ApplicantToken(APP, generation, issued)


def reason(token: ApplicantToken, facts: AccessFacts | None, now: datetime = NOW) -> str | None:
    try:
        check(token, facts, LIFETIMES, now)
    except AccessRefused as refused:
        return refused.reason
    return None


def test_a_token_says_its_application_generation_and_issue_time_and_nothing_else_passes() -> None:
    issued = issue_applicant_token("key", APP, 3, NOW)
    assert read_applicant_token("key", issued) == ApplicantToken(APP, 3, NOW)
    assert read_applicant_token("other key", issued) is None
    assert read_applicant_token("", issued) is None
    assert read_applicant_token("key", issued + "x") is None
    assert read_applicant_token("key", "x" * 600) is None
    # Rotation: a token signed with the previous key passes while it is listed after the current one.
    assert read_applicant_token(["new key", "key"], issued) == ApplicantToken(APP, 3, NOW)
    assert read_applicant_token(["new key"], issued) is None


@pytest.mark.parametrize(("facts", "now", "expected"), [
    (None, NOW, None),                                                               # nothing known: generation 1 opens
    (None, NOW + timedelta(days=90) - timedelta(seconds=1), None),
    (None, NOW + timedelta(days=90), "TOKEN_EXPIRED"),                               # the hard bound, known or not
    (AccessFacts(ended_at=NOW + timedelta(days=1)), NOW + timedelta(days=46) - timedelta(seconds=1), None),
    (AccessFacts(ended_at=NOW + timedelta(days=1)), NOW + timedelta(days=46), "TOKEN_EXPIRED"),
    (AccessFacts(generation=2, valid_from=2), NOW, "TOKEN_REVOKED"),                 # re-issued: retired
    (AccessFacts(generation=1, valid_from=2), NOW, "TOKEN_REVOKED"),                 # revoked
    (AccessFacts(generation=1, valid_from=1, ended_at=NOW - timedelta(days=50)), NOW, "TOKEN_EXPIRED"),
])
def test_when_a_first_generation_token_stops_opening_its_application(
        facts: AccessFacts | None, now: datetime, expected: str | None) -> None:
    assert reason(token(), facts, now) == expected


def test_a_newer_generation_than_known_is_not_refused() -> None:
    assert reason(token(generation=3), AccessFacts(generation=2, valid_from=2)) is None  # notify learns it later


def test_the_expiry_a_client_is_told() -> None:
    assert LIFETIMES.expires_at(NOW, None) == NOW + timedelta(days=90)
    assert LIFETIMES.expires_at(NOW, NOW + timedelta(days=1)) == NOW + timedelta(days=46)


def new_application(email: str = "Alice@Example.org") -> Application:
    body = application(applicant={"email": email})
    limits = Deadlines(step=timedelta(seconds=120), information=timedelta(days=7))
    made = Application(id=APP, applicant=body["applicant"], property=body["property"], amount=Decimal("200000"),
                       duration_months=240, correlation_id=APP, now=NOW, deadlines=limits)
    made.messages.clear()
    return made


def recorded(app: Application) -> list[tuple[str, dict[str, object]]]:
    return [(message.name, message.payload) for message in app.messages]


def test_a_reissue_only_for_the_applicants_address_and_not_twice_a_minute() -> None:
    app = new_application()
    assert not app.reissue_access("mallory@example.org", NOW, POLICY)
    assert recorded(app) == [] and app.access_generation == 1
    assert app.reissue_access("alice@example.ORG", NOW, POLICY)
    assert (app.access_generation, app.access_valid_from) == (2, 2)
    assert recorded(app) == [("ApplicantAccessChanged", {"generation": 2, "valid_from": 2, "cause":
                                                         "a new token was sent to the applicant's e-mail address"}),
                             ("SendAccessToken", {"generation": 2})]
    assert not app.reissue_access("alice@example.org", NOW + timedelta(seconds=59), POLICY)
    assert app.reissue_access("alice@example.org", NOW + timedelta(seconds=60), POLICY)
    assert app.access_generation == 3


def test_no_reissue_once_the_tokens_would_be_expired_anyway() -> None:
    app = new_application()
    app.withdraw(NOW)
    assert app.ended_at == NOW
    assert app.reissue_access("alice@example.org", NOW + timedelta(days=44), POLICY)
    assert not app.reissue_access("alice@example.org", NOW + timedelta(days=45), POLICY)


def test_a_revocation_retires_every_token_so_far_and_a_reissue_opens_again() -> None:
    app = new_application()
    app.revoke_access("staff")
    assert (app.access_generation, app.access_valid_from) == (1, 2)
    assert recorded(app) == [("ApplicantAccessChanged", {"generation": 1, "valid_from": 2,
                                                         "cause": "tokens revoked by staff"})]
    assert app.reissue_access("alice@example.org", NOW, POLICY)
    assert (app.access_generation, app.access_valid_from) == (2, 2)


def test_addresses_compare_without_case_or_surrounding_spaces() -> None:
    assert same_address(" Alice@Example.org ", "alice@example.org")
    assert not same_address("alice@example.org.evil", "alice@example.org")
    assert not same_address("", "alice@example.org")
