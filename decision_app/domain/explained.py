"""An explained decision: its outcome, reasons, offer, inputs, rule results and who made it.

Plain values, JSON-simple on demand (:func:`json_simple`), as ``DecisionMade`` publishes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, is_dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from common.kernel.jsonable import jsonable
from lending.amortization import Offer


@dataclass(frozen=True)
class Reason:
    """Why an application was rejected: a stable ``code``, an English ``message`` and its figures.

    ``params`` holds the figures the message states (as strings, money and ratios exact), so a
    reader in another language words the same reason from the code and the figures instead of
    translating an English sentence (notify_app's French e-mails do).
    """

    code: str
    message: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class RuleResult:
    rule: str
    passed: bool
    value: str
    threshold: str


@dataclass(frozen=True)
class InformationRequest:
    name: str
    description: str
    type: str = "decimal"


#: Who made a decision: the policy's rules, or two officers on a referred case.
RULES, OFFICERS = "rules", "officers"


@dataclass(frozen=True)
class Decision:
    """An explained decision.

    ``referral`` lists each band a ``REFERRED`` case lies in (``{"band", "value", "from",
    "to"}``, strings; the bounds are inclusive or exclusive as :class:`PolicyConfig` says), so
    the explanation shows every band with its value, not only the first one hit. ``review`` is
    the officers' review a decision ``decided_by`` the officers was made on, as it arrived.
    """

    outcome: str
    reasons: tuple[Reason, ...] = ()
    offer: Offer | None = None
    requested_information: tuple[InformationRequest, ...] = ()
    inputs: dict[str, str] = field(default_factory=dict)
    rules: tuple[RuleResult, ...] = ()
    policy_version: str = ""
    referral: tuple[dict[str, str], ...] = ()
    decided_by: str = RULES
    review: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-simple form (Decimals as strings), as published in ``DecisionMade``."""
        return json_simple(self)


def json_simple(value: Any) -> Any:
    """``jsonable(asdict(value))`` in one pass: what ``asdict`` copies, this converts directly.

    Why: a decision is some fifty dataclass fields deep, and the copy then the conversion were
    a tenth of the decision worker's CPU per message.
    """
    if is_dataclass(value) and not isinstance(value, type):
        return {item.name: json_simple(getattr(value, item.name)) for item in fields(value)}
    if isinstance(value, list | tuple):
        return [json_simple(item) for item in value]
    return jsonable(value)


def percent(ratio: Decimal) -> str:
    """``Decimal("0.4123")`` → ``"41.2 %"``; whole numbers without a decimal: ``"35 %"``."""
    text = str((ratio * 100).quantize(Decimal("0.1"), ROUND_HALF_UP))
    return f"{text.removesuffix('.0')} %"
