"""What the e-mail an applicant receives when an application changes status says, before any template.

Which statuses warrant an e-mail, what an approval must carry, and the event's raw figures turned
into display strings (the same formatting as the schedule documents, so an e-mail and its
attachment always print a figure the same way). The wording itself lives in Jinja2 templates,
rendered by ``notify_app.adapters.templates``: this module reads no file.

Reasons and requested information arrive worded in English by the service that gave them, with
a stable code (an item's name) and, for rejections, the figures they state (``params``). They
are kept as :class:`Reason` (code, figures, the English words), so a template of another
language can word them itself from the code and the figures rather than machine-translating a
sentence; a code it does not know is shown in the English the service sent. The one exception is
:data:`OFFICER_DECISION`: its message is the sentence two loan officers wrote for the applicant
(issue 15), a person's own words that no template may replace, shown as written in every language.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lending.amortization import Offer
from notify_app.domain.formatting import format_deadline, format_duration, format_money, format_rate, language_of

EMAIL_STATUSES: frozenset[str] = frozenset({"APPROVED", "REJECTED", "INFO_REQUESTED", "REFERRED", "FAILED",
                                            "EXPIRED", "WITHDRAWN"})
#: The code of a rejection decided by two officers after a referral: its message is their sentence.
OFFICER_DECISION = "OFFICER_DECISION"
#: Reason codes whose message is a person's words for the applicant: never reworded by a template.
PERSONS_WORDS: frozenset[str] = frozenset({OFFICER_DECISION})
#: Not a status: the e-mail carrying a re-issued access token (``SendAccessToken``), worded by
#: its own pair of templates like a status's.
NEW_ACCESS = "NEW_ACCESS"


@dataclass(frozen=True)
class Reason:
    """A reason (or a requested item): its stable code, the figures it states, the service's words."""

    code: str | None
    params: dict[str, Any]
    english: str

    @property
    def fallback(self) -> str:
        """What to show when no template words this code: the service's English, else the code."""
        return self.english or self.code or ""


@dataclass(frozen=True)
class EmailContent:
    """Everything an e-mail says, as display strings, in one language; templates add the wording."""

    status: str
    language: str
    full_name: str
    application_id: str
    status_url: str
    offer: dict[str, str] | None
    reasons: tuple[Reason, ...]
    requested_information: tuple[Reason, ...]
    deadline: str | None
    #: The re-issued token the ``NEW_ACCESS`` e-mail carries ("" in the others).
    access_token: str = ""
    #: When the officers expect to answer a referral (``REFERRED``), as the deadline is printed.
    review_due: str | None = None

    @property
    def decided_by_officers(self) -> bool:
        """A rejection two officers decided: the e-mail says so, and quotes their words."""
        return any(reason.code == OFFICER_DECISION for reason in self.reasons)


def email_content(status: str, language: str, context: dict[str, Any]) -> EmailContent:
    """The content of the e-mail for ``status`` in ``language`` (anything but ``"fr"`` gives English).

    ``context``: ``full_name``, ``application_id``, ``status_url``, ``offer`` (the published dict
    or None), ``reasons`` ([{code, message, params}]), ``requested_information`` ([{name,
    description, type}]), ``deadline`` (ISO string or None), ``access_token`` (:data:`NEW_ACCESS`),
    ``review`` (``REFERRED``: ``{"due_at": ISO string}``, or None).

    Raises:
      ValueError: no e-mail for this status, or an approval without an offer.
    """
    if status not in EMAIL_STATUSES and status != NEW_ACCESS:
        raise ValueError(f"no e-mail template for status {status!r}")
    offer = context.get("offer")
    if status == "APPROVED" and not offer:
        raise ValueError("an APPROVED e-mail needs the offer")
    language = language_of(language)
    return EmailContent(
        status=status,
        language=language,
        full_name=str(context.get("full_name") or ""),
        application_id=str(context.get("application_id") or ""),
        status_url=str(context.get("status_url") or ""),
        offer=offer_figures(offer, language) if offer else None,
        reasons=tuple(as_reason(item.get("code"), item.get("params"), item.get("message"))
                      for item in context.get("reasons") or []),
        requested_information=tuple(as_reason(item.get("name"), None, item.get("description"))
                                    for item in context.get("requested_information") or []),
        deadline=format_deadline(context.get("deadline"), language),
        access_token=str(context.get("access_token") or ""),
        review_due=format_deadline(_due_at(context.get("review")), language),
    )


def _due_at(review: Any) -> str | None:
    """The review's due time from what the event carries (anything malformed: none)."""
    due = review.get("due_at") if isinstance(review, dict) else None
    return str(due) if due else None


def as_reason(code: Any, params: Any, english: Any) -> Reason:
    """A :class:`Reason` from what an event carries (any field may be missing or of the wrong type)."""
    return Reason(code=str(code) if code else None, params=dict(params) if isinstance(params, dict) else {},
                  english=str(english or ""))


def offer_figures(offer: dict[str, Any], language: str) -> dict[str, str]:
    """The offer's figures as display strings (``amount``, ``annual_rate``, ``duration``, …)."""
    terms = Offer.from_dict(offer)
    money: dict[str, Decimal] = {"amount": terms.amount, "monthly_payment": terms.monthly_payment,
                                 "monthly_insurance": terms.monthly_insurance,
                                 "total_interest": terms.total_interest, "total_cost": terms.total_cost}
    return {
        **{name: format_money(value, language) for name, value in money.items()},
        "annual_rate": format_rate(terms.annual_rate, language),
        "duration": format_duration(terms.duration_months, language),
    }
