"""The applicant's e-mails: one per final or waiting status (a referral to officers included), in
English and French, HTML escaped."""

from __future__ import annotations

from typing import Any

import pytest

from notify_app.adapters.templates import TEMPLATES, compose, worded
from notify_app.domain.emails import EMAIL_STATUSES, PERSONS_WORDS, as_reason
from notify_app.domain.formatting import format_deadline

LANGUAGES = ("en", "fr")
OFFER = {"amount": "200000", "duration_months": 240, "annual_rate": "0.0355", "monthly_payment": "1165.06",
         "monthly_insurance": "50.00", "total_interest": "79616.01", "total_cost": "279616.01"}
URL = "https://bank.example/loan/status/app-77?token=a&b=c"
#: What a referral carries (decision_app's words; the figures as its rejections state them).
REFERRAL_REASONS = [
    {"code": "DEBT_TO_INCOME_NEAR_LIMIT", "message": "Your monthly repayments would be 34.1 % of your income, "
     "close to our maximum of 35 %.", "params": {"debt_to_income": "0.3412", "max_debt_to_income": "0.35"}},
    {"code": "CREDIT_SCORE_NEAR_MINIMUM", "message": "Your credit score (612) is close to our minimum of 600.",
     "params": {"credit_score": "612", "min_credit_score": "600"}},
]
#: Two officers' sentence for the applicant, as loan_app publishes a confirmed rejection.
OFFICERS_SENTENCE = "Your income has been irregular over the last year; please apply again with a co-borrower."


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
    if status == "REFERRED":
        return context(reasons=REFERRAL_REASONS, review={"due_at": "2027-03-16T09:30:00+00:00"})
    return context()


def test_the_statuses_with_an_e_mail() -> None:
    assert frozenset({"APPROVED", "REJECTED", "INFO_REQUESTED", "REFERRED", "FAILED", "EXPIRED",
                      "WITHDRAWN"}) == EMAIL_STATUSES
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


@pytest.mark.parametrize(("language", "words", "due"), [
    ("en", ("An officer is reviewing", "a second officer checks", "We expect to answer by",
            "Your monthly repayments would be 34.1 % of your income, close to our maximum of 35 %.",
            "Your credit score (612) is close to our minimum of 600.", "nothing you need to do"),
     "16 March 2027, 09:30 UTC"),
    ("fr", ("Un chargé de crédit étudie", "un second chargé de crédit vérifie", "Nous prévoyons de vous répondre",
            "Vos mensualités représenteraient 34,1 % de vos revenus, tout près de notre maximum de 35 %.",
            "Votre score de crédit (612) est tout près de notre minimum de 600.", "Vous n'avez rien à faire"),
     "16 mars 2027 à 09:30 UTC"),
])
def test_referral_says_an_officer_reviews_it_why_and_by_when(language: str, words: tuple[str, ...], due: str) -> None:
    mail = compose("REFERRED", language, full_context("REFERRED"))
    assert words[0] in mail.subject
    for part in (flat(mail.text), flat(mail.html)):
        for phrase in (*words[1:], due):
            assert phrase in part, (phrase, part)
    if language == "fr":  # French words the reasons itself, from their codes and figures
        assert "Your" not in mail.text


@pytest.mark.parametrize("review", [None, {}, {"due_at": None}, "garbage"])
def test_referral_without_a_due_time_still_reads_well(review: Any) -> None:
    mail = compose("REFERRED", "en", {**full_context("REFERRED"), "review": review})
    assert "We will answer as soon as the review is done." in mail.text
    assert "expect to answer" not in mail.text and "None" not in mail.text


def test_french_referral_reasons_without_figures_are_whole_sentences() -> None:
    reasons = [{"code": code, "message": "English.", "params": {}} for code in
               ("DEBT_TO_INCOME_NEAR_LIMIT", "LOAN_TO_VALUE_NEAR_LIMIT", "CREDIT_SCORE_NEAR_MINIMUM")]
    text = compose("REFERRED", "fr", context(reasons=reasons)).text
    assert "English." not in text
    assert "- Le montant du prêt est tout près du maximum que nous prêtons pour la valeur estimée du bien.\n" in text


@pytest.mark.parametrize(("language", "intro", "usual"), [
    ("en", "Two of our loan officers reviewed your application. Their conclusion:", "The reasons:"),
    ("fr", "Deux de nos chargés de crédit ont étudié votre demande. Leur conclusion :", "Les raisons :"),
])
def test_rejection_by_the_officers_quotes_their_sentence_as_written(language: str, intro: str, usual: str) -> None:
    mail = compose("REJECTED", language, context(reasons=[{"code": "OFFICER_DECISION", "message": OFFICERS_SENTENCE,
                                                           "params": {}}]))
    assert f"{intro}\n\n- {OFFICERS_SENTENCE}\n" in mail.text
    assert f"<li>{OFFICERS_SENTENCE}</li>" in mail.html and intro in mail.html
    assert usual not in mail.text and usual not in mail.html
    assert usual in compose("REJECTED", language, full_context("REJECTED")).text  # a rule's rejection: as before


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


def rejection_reasons() -> list[dict[str, Any]]:
    """The reasons decision_app publishes when every rule fails (code, English message, params)."""
    from decimal import Decimal

    from decision_app.domain.policy import CreditFacts, LoanRequest, PolicyConfig, PropertyFacts, decide

    request = LoanRequest(amount=Decimal("300000"), duration_months=360, employment_status="employed",
                          monthly_income=Decimal("2000"), monthly_debts=Decimal("900"))
    credit = CreditFacts(score=420, payment_incidents=2, monthly_debts=Decimal("900"), monthly_income=Decimal("2000"))
    decision = decide(request, credit, PropertyFacts(Decimal("250000"), Decimal("1.2")),
                      config=PolicyConfig(max_loan_to_value=Decimal("0.8")))
    assert decision.outcome == "REJECTED"
    return decision.to_dict()["reasons"]


def test_french_rejection_words_every_reason_from_its_code_and_figures() -> None:
    reasons = rejection_reasons()
    mail = compose("REJECTED", "fr", context(reasons=reasons))
    text = flat(mail.text)
    for sentence in ("Un prêt sur 360 mois dépasse notre durée maximale de 300 mois (25 ans).",
                     "Le montant du prêt (300 000,00 €) dépasse 80 % de la valeur estimée du bien (250 000,00 €).",
                     "Le fichier des crédits mentionne un incident de paiement à votre nom.",
                     "Votre score de crédit (420) est inférieur à notre minimum de 600.",
                     "Vos mensualités représenteraient"):
        assert sentence in text, text
    assert "monthly" not in text and "Your" not in text
    assert "&lt;" not in mail.html and "de vos revenus ; le maximum est de 35\xa0%.</li>" in mail.html
    english = compose("REJECTED", "en", context(reasons=reasons)).text
    for reason in reasons:  # English keeps the decision's own sentences
        assert f"- {reason['message']}\n" in english


def test_a_reason_without_french_words_or_figures_falls_back_to_the_service_message() -> None:
    reasons = [{"code": "BRAND_NEW_RULE", "message": "A rule added yesterday."},
               {"code": "DURATION_TOO_LONG", "message": "Too long (published before params existed)."},
               {"code": "DEBT_TO_INCOME_TOO_HIGH", "message": "Too much debt.", "params": {"debt_to_income": "x",
                                                                                        "max_debt_to_income": "0.35"}},
               {"code": "__class__", "message": "Not a macro."}]
    text = compose("REJECTED", "fr", context(reasons=reasons)).text
    for reason in reasons:
        assert f"- {reason['message']}\n" in text


def test_french_information_request_words_the_items_by_name() -> None:
    from decision_app.domain.policy import SELF_EMPLOYED_ITEMS

    items = [{"name": name, "description": text, "type": "decimal"} for name, text in SELF_EMPLOYED_ITEMS]
    text = compose("INFO_REQUESTED", "fr", context(requested_information=items)).text
    assert "- Revenu net déclaré aux impôts pour l'année dernière (en euros).\n" in text
    assert "- Revenu net déclaré aux impôts pour l'année précédente (en euros).\n" in text
    assert "declared" not in text


def published_codes() -> set[str]:
    """Every reason or failure code, and requested item name, the services' code can publish.

    Read from the source so a code added without French words fails this test rather than
    reaching a French applicant in English.
    """
    import re

    from tests.conftest import ROOT

    patterns = (r'Reason\(\s*"([A-Z_]+)"', r'"code":\s*"([A-Z_]+)"', r'\bcode\s*=\s*"([A-Z_]+)"',
                r'_fail\(\s*"([A-Z_]+)"', r'"(CREDIT_CHECK_[A-Z_]+)"')
    codes: set[str] = set()
    for service in ("loan_app", "credit_app", "property_app", "decision_app"):
        for source in (ROOT / service).rglob("*.py"):
            text = source.read_text()
            for pattern in patterns:
                codes.update(re.findall(pattern, text))
    from decision_app.domain.policy import SELF_EMPLOYED_ITEMS

    return codes | {name for name, _ in SELF_EMPLOYED_ITEMS}


def test_every_published_code_has_french_words() -> None:
    codes = published_codes()
    assert {"DURATION_TOO_LONG", "LOAN_TO_VALUE_TOO_HIGH", "PAYMENT_INCIDENT", "CREDIT_SCORE_TOO_LOW",
            "DEBT_TO_INCOME_TOO_HIGH", "CREDIT_CHECK_UNAVAILABLE", "CREDIT_CHECK_REJECTED",
            "VALUATION_UNAVAILABLE", "VALUATION_FAILED", "STEP_TIMEOUT", "declared_income_year_1"} <= codes
    figures = {name: value for reason in rejection_reasons() for name, value in reason["params"].items()}
    missing = sorted(code for code in codes - PERSONS_WORDS
                     if worded(as_reason(code, figures, "ENGLISH"), "fr") == "ENGLISH")
    assert not missing, f"no French words in notify_app/templates/email/fr/reasons.txt for {missing}"


def test_a_loan_over_the_whole_value_is_worded_without_a_percentage() -> None:
    params = {"amount": "260000", "estimated_value": "250000", "max_loan_to_value": "1.00"}
    assert worded(as_reason("LOAN_TO_VALUE_TOO_HIGH", params, ""), "fr") == (
        "Le montant du prêt (260\xa0000,00\xa0€) dépasse la valeur estimée du bien (250\xa0000,00\xa0€).")
