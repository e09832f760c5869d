"""What the e-mail an applicant receives when an application changes status says, before any template.

Which statuses warrant an e-mail, what an approval must carry, and the event's raw figures turned
into display strings (the same formatting as the schedule documents, so an e-mail and its
attachment always print a figure the same way). The wording itself lives in Jinja2 templates,
rendered by ``notify_app.adapters.templates``: this module reads no file.

Reasons and requested information arrive worded in English by the service that gave them, with
a stable code (an item's name) and, for rejections, the figures they state (``params``). They
are kept as :class:`Reason` (code, figures, the English words), so a template of another
language can word them itself from the code and the figures rather than machine-translating a
sentence; a code it does not know is shown in the English the service sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lending.amortization import Offer
from notify_app.domain.formatting import format_deadline, format_duration, format_money, format_rate, language_of

EMAIL_STATUSES: frozenset[str] = frozenset({"APPROVED", "REJECTED", "INFO_REQUESTED", "FAILED", "EXPIRED",
                                            "WITHDRAWN"})
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


def email_content(status: str, language: str, context: dict[str, Any]) -> EmailContent:
    """The content of the e-mail for ``status`` in ``language`` (anything but ``"fr"`` gives English).

    ``context``: ``full_name``, ``application_id``, ``status_url``, ``offer`` (the published dict
    or None), ``reasons`` ([{code, message, params}]), ``requested_information`` ([{name,
    description, type}]), ``deadline`` (ISO string or None), ``access_token`` (:data:`NEW_ACCESS`).

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
    )


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
