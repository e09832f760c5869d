"""Where an application stands, as notify_app sees it from the status changes it logs."""

from __future__ import annotations

#: Statuses no change ever follows (loan_app's ``TERMINAL``; a unit test holds them equal): live
#: streams end after one, and personal data is anonymised some time after one (retention).
FINAL_STATUSES: frozenset[str] = frozenset({"APPROVED", "REJECTED", "WITHDRAWN", "FAILED", "EXPIRED"})
