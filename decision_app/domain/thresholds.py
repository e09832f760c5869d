"""A policy version's thresholds as stored and shown, and what makes a set of them consistent.

A version published at runtime (``decision_app.policies``) is a :class:`PolicyConfig` stored as
JSON: every field but ``version`` (the record's key), money and ratios as decimal strings,
counts as integers, the rate grid as ``[{"up_to_months", "annual_rate"}]`` (a list of objects
rather than pairs, so that the OpenAPI document can state each bracket exactly). A field a
stored version lacks (one added to :class:`PolicyConfig` after it was stored) takes the value
of the policy it is read over, so an older record stays readable after a deploy.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import fields, replace
from decimal import Decimal
from itertools import pairwise
from typing import Any

from decision_app.domain.policy import PolicyConfig

#: What a version may be called (it is recorded with each decision, 32 characters at most).
VERSION = re.compile(r"^[A-Za-z0-9._-]{1,32}$")
#: Every threshold, in :class:`PolicyConfig`'s order.
FIELDS: tuple[str, ...] = tuple(item.name for item in fields(PolicyConfig) if item.name != "version")


def thresholds(config: PolicyConfig) -> dict[str, Any]:
    """``config``'s thresholds as JSON-simple values (what is stored and shown)."""
    values: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(config, name)
        if name == "rate_grid":
            values[name] = [{"up_to_months": months, "annual_rate": str(rate)} for months, rate in value]
        else:
            values[name] = str(value) if isinstance(value, Decimal) else value
    return values


def config_from(version: str, values: Mapping[str, Any], base: PolicyConfig) -> PolicyConfig:
    """The policy ``version``: ``values`` (JSON-simple or already typed) over ``base``.

    Keys that are no threshold are ignored: a record written by a newer release that a worker of
    the older one reads during a rolling deploy must not stop its decisions.
    """
    changes: dict[str, Any] = {}
    for name in FIELDS:
        if name not in values:
            continue
        raw, current = values[name], getattr(base, name)
        if name == "rate_grid":
            changes[name] = tuple((int(bracket["up_to_months"]), Decimal(str(bracket["annual_rate"])))
                                  for bracket in raw)
        elif isinstance(current, bool):
            changes[name] = bool(raw)
        elif isinstance(current, int):
            changes[name] = int(raw)
        else:
            changes[name] = Decimal(str(raw))
    return replace(base, version=version, **changes)


def inconsistencies(config: PolicyConfig, changed: Collection[str] = ()) -> dict[str, list[str]]:
    """What does not hold together in ``config``, by field (empty: consistent).

    Each value may be in its own range (the HTTP schema checks that) and still contradict
    another: a referral band must lie inside its limit, and the rate grid must give a rate to
    every duration the policy admits, in increasing brackets. A contradiction is reported on the
    fields of the pair that ``changed`` names (both, if both), so that an admin who lowered a
    limit reads the message on the field they sent; on the band's field if neither.
    """
    problems: dict[str, list[str]] = {}

    def report(pair: tuple[str, ...], message: str) -> None:
        for name in [name for name in pair if name in changed] or [pair[0]]:
            problems.setdefault(name, []).append(message)

    if config.refer_debt_to_income_from > config.max_debt_to_income:
        report(("refer_debt_to_income_from", "max_debt_to_income"),
               f"The referral band starts at {config.refer_debt_to_income_from}, above the limit "
               f"max_debt_to_income ({config.max_debt_to_income}): it must start at or below it.")
    if config.refer_loan_to_value_above > config.max_loan_to_value:
        report(("refer_loan_to_value_above", "max_loan_to_value"),
               f"The referral band starts above {config.refer_loan_to_value_above}, beyond the limit "
               f"max_loan_to_value ({config.max_loan_to_value}): it must start at or below it.")
    months = [limit for limit, _ in config.rate_grid]
    if not months or any(later <= earlier for earlier, later in pairwise(months)):
        report(("rate_grid",), "The brackets' up_to_months must increase strictly from one bracket to the next.")
    elif months[-1] < config.max_duration_months:
        report(("rate_grid", "max_duration_months"),
               f"The last bracket ends at {months[-1]} months, before max_duration_months "
               f"({config.max_duration_months}): every admitted duration needs a rate.")
    return problems
