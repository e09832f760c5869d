"""The applicant's e-mails: one per final or waiting status, in English and French, HTML escaped."""

from __future__ import annotations

from typing import Any

import pytest

from notify_app.domain.emails import EMAIL_STATUSES, TEMPLATES, compose, format_deadline

LANGUAGES = ("en", "fr")
OFFER = {"amount": "200000", "duration_months": 240, "annual_rate": "0.0355", "monthly_payment": "1165.06",
         "monthly_insurance": "50.00", "total_interest": "79616.01", "total_cost": "279616.01"}
URL = "https://bank.example/loan/status/app-77?token=a&b=c"


def context(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "full_name": "Alice Propre", "application_id": "app-77", "status_url": URL, "offer": None,
        "reasons": [], "requested_information": [], "deadline": None,
    }
    return {**base, **overrides}


def flat(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


def full_context(status: str) -> dict[str, Any]:
    """What the event carries for ``status``."""
    if status == "APPROVED":
        return context(offer=OFFER)
    if status == "REJECTED":
        return context(reasons=[{"code": "DTI", "message": "Debt-to-income above 35 %."},
                                {"code": "LTV", "message": "Loan-to-value above 100 %."}])
    if status == "INFO_REQUESTED":
        return context(requested_information=[
            {"name": "y1", "description": "Net income declared for last year (EUR).", "type": "decimal"},
            {"name": "y2", "description": "Net income declared for the year before (EUR).", "type": "decimal"}],
            deadline="2027-03-15T14:30:00+00:00")
    if status == "FAILED":
        return context(reasons=[{"code": "BUREAU_DOWN", "message": "The credit bureau could not be reached."}])
    return context()


def test_the_statuses_with_an_e_mail() -> None:
    assert frozenset({"APPROVED", "REJECTED", "INFO_REQUESTED", "FAILED", "EXPIRED", "WITHDRAWN"}) == EMAIL_STATUSES
    assert isinstance(EMAIL_STATUSES, frozenset)


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("status", sorted(EMAIL_STATUSES))
def test_every_status_and_language_composes(status: str, language: str) -> None:
    mail = compose(status, language, full_context(status))
    assert mail.subject and "\n" not in mail.subject
    for part in (mail.text, mail.html):
        assert "Alice Propre" in part
        assert "app-77" in part
    assert URL in mail.text
    assert 'href="https://bank.example/loan/status/app-77?token=a&amp;b=c"' in mail.html
    assert (TEMPLATES / language / f"{status.lower()}.txt").is_file()
    assert mail.html.startswith("<!DOCTYPE html>") and f'<html lang="{language}">' in mail.html
    assert ("Bonjour" if language == "fr" else "Hello") in mail.text


@pytest.mark.parametrize("language", LANGUAGES)
def test_subjects_differ_between_statuses(language: str) -> None:
    subjects = {compose(status, language, full_context(status)).subject for status in EMAIL_STATUSES}
    assert len(subjects) == len(EMAIL_STATUSES)


@pytest.mark.parametrize(("language", "figures", "attached"), [
    ("en", ("200,000.00 €", "3.55%", "240 months (20 years)", "1,165.06 €", "50.00 €", "79,616.01 €",
            "279,616.01 €"), "attached"),
    ("fr", ("200 000,00 €", "3,55 %", "240 mois (20 ans)", "1 165,06 €", "50,00 €", "79 616,01 €",
            "279 616,01 €"), "joint"),
])
def test_approval_states_the_offer_and_the_attached_schedule(language: str, figures: tuple[str, ...],
                                                              attached: str) -> None:
    mail = compose("APPROVED", language, context(offer=OFFER))
    for part in (flat(mail.text), flat(mail.html)):
        for figure in figures:
            assert figure in part, figure
        assert attached in part


def test_approval_without_an_offer_is_refused() -> None:
    with pytest.raises(ValueError, match="offer"):
        compose("APPROVED", "en", context())


@pytest.mark.parametrize("language", LANGUAGES)
def test_rejection_lists_every_reason(language: str) -> None:
    mail = compose("REJECTED", language, full_context("REJECTED"))
    assert "- Debt-to-income above 35 %.\n- Loan-to-value above 100 %.\n" in mail.text
    assert "<li>Debt-to-income above 35 %.</li>" in mail.html
    assert "<li>Loan-to-value above 100 %.</li>" in mail.html


@pytest.mark.parametrize(("language", "deadline"), [("en", "15 March 2027, 14:30 UTC"),
                                                    ("fr", "15 mars 2027 à 14:30 UTC")])
def test_information_request_lists_the_items_and_the_deadline(language: str, deadline: str) -> None:
    mail = compose("INFO_REQUESTED", language, full_context("INFO_REQUESTED"))
    for part in (mail.text, mail.html):
        assert "Net income declared for last year (EUR)." in part
        assert "Net income declared for the year before (EUR)." in part
        assert deadline in part


def test_information_request_without_a_deadline() -> None:
    mail = compose("INFO_REQUESTED", "en", {**full_context("INFO_REQUESTED"), "deadline": None})
    assert "expires" not in mail.text and "Please send it from your application page." in mail.text


@pytest.mark.parametrize(("language", "owed", "cancelled"), [("en", "You owe nothing", "has been cancelled"),
                                                             ("fr", "Vous ne nous devez rien", "a été annulée")])
def test_failure_gives_the_message_and_says_nothing_is_owed(language: str, owed: str, cancelled: str) -> None:
    mail = compose("FAILED", language, full_context("FAILED"))
    for part in (mail.text, mail.html):
        assert "The credit bureau could not be reached." in part
        assert owed in part
        assert cancelled in part


@pytest.mark.parametrize(("status", "language", "words"), [
    ("EXPIRED", "en", "expired"), ("EXPIRED", "fr", "expiré"),
    ("WITHDRAWN", "en", "withdrawn"), ("WITHDRAWN", "fr", "retirée"),
])
def test_expiry_and_withdrawal(status: str, language: str, words: str) -> None:
    mail = compose(status, language, context())
    assert words in mail.subject and words in mail.text and words in mail.html


def test_html_is_escaped_and_text_is_not() -> None:
    hostile = "<script>alert('x')</script>"
    ctx = {**full_context("REJECTED"), "full_name": hostile,
           "reasons": [{"code": "X", "message": "<b>bold</b> & co"}]}
    for language in LANGUAGES:
        mail = compose("REJECTED", language, ctx)
        assert "<script>" not in mail.html and "<b>" not in mail.html
        assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in mail.html
        assert "&lt;b&gt;bold&lt;/b&gt; &amp; co" in mail.html
        assert hostile in mail.text and "<b>bold</b> & co" in mail.text


@pytest.mark.parametrize("language", ["de", "", "EN-gb", "xx-YY"])
def test_an_unknown_language_falls_back_to_english(language: str) -> None:
    assert compose("EXPIRED", language, context()).subject == compose("EXPIRED", "en", context()).subject


def test_a_regional_french_tag_is_french() -> None:
    assert compose("EXPIRED", "fr-CA", context()).subject == compose("EXPIRED", "fr", context()).subject


@pytest.mark.parametrize("status", ["SUBMITTED", "EVALUATING", "DECIDING", "approved", "NOPE"])
def test_a_status_without_a_template_is_refused(status: str) -> None:
    with pytest.raises(ValueError, match="no e-mail template"):
        compose(status, "en", context())


def test_missing_context_keys_are_tolerated() -> None:
    mail = compose("WITHDRAWN", "en", {"full_name": "Bob", "application_id": "app-1", "status_url": "http://x/"})
    assert "Bob" in mail.text


@pytest.mark.parametrize(("deadline", "language", "expected"), [
    ("2027-03-15T14:30:00+00:00", "en", "15 March 2027, 14:30 UTC"),
    ("2027-03-15T16:30:00+02:00", "fr", "15 mars 2027 à 14:30 UTC"),
    ("2027-08-01T00:05:00", "fr", "1 août 2027 à 00:05 UTC"),
    ("2027-12-31", "en", "31 December 2027"),
    ("next week", "en", "next week"),
    (None, "en", None),
])
def test_deadline_formats(deadline: str | None, language: str, expected: str | None) -> None:
    assert format_deadline(deadline, language) == expected
