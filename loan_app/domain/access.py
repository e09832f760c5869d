"""The applicant's access to an application: which tokens open it, re-issue and revocation.

Tokens are signed, not stored (:mod:`common.web.applicant_access`); what the application keeps
is a *generation* counter and the lowest generation still valid. A re-issue makes a new
generation, valid from then on, and retires every earlier token: the applicant who lost a token
gets a new one, and one whose token leaked retires it without needing it. A revocation (by the
applicant with their token, or by an officer) retires every token issued so far; a later
re-issue to the applicant's address opens the application again. What changed is recorded as
``ApplicantAccessChanged`` (notify checks tokens too) and a re-issue's token is e-mailed by
notify (``SendAccessToken``): the token itself never sits in an outbox row or a message.

A mixin of :class:`loan_app.domain.model.Application`, in its own module because it is a concern
of its own; plain Python like the aggregate.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any


@dataclass(frozen=True)
class ReissuePolicy:
    """When a re-issue is sent: at most once per ``interval``, and not once the tokens would be
    expired anyway (``after_end`` past the application's final status)."""

    interval: timedelta
    after_end: timedelta


def same_address(given: str, registered: str) -> bool:
    """Is ``given`` the registered e-mail address? Case and surrounding spaces aside, compared in
    constant time (the answer is the same 202 either way; its timing should not differ either)."""
    return hmac.compare_digest(given.strip().casefold().encode(), registered.strip().casefold().encode())


class ApplicantAccess:
    """The access part of the application aggregate (attributes stored as its columns)."""

    applicant: dict[str, Any]
    #: The newest token generation issued, and the lowest that still opens the application.
    access_generation: int
    access_valid_from: int
    #: When the last re-issue was sent (the throttle), and when the application reached its final status.
    access_sent_at: datetime | None
    ended_at: datetime | None

    if TYPE_CHECKING:  # the aggregate's, from RecordsMessages
        def record(self, name: str, payload: dict[str, Any], *, correlation_id: str | None = None) -> None: ...

    def open_access(self) -> None:
        """A new application: its first token (generation 1, handed out in the 202) opens it."""
        self.access_generation = 1
        self.access_valid_from = 1
        self.access_sent_at = None
        self.ended_at = None

    def reissue_access(self, email: str, now: datetime, policy: ReissuePolicy) -> bool:
        """Send a new token to the applicant's address if ``email`` is it; True if one is sent.

        Nothing happens (False) for another address, within ``policy.interval`` of the last
        re-issue (an inbox cannot be flooded through us), or when the application ended so long
        ago that the new token would be expired already.
        """
        if not same_address(email, str(self.applicant.get("email") or "")):
            return False
        if self.access_sent_at is not None and now < self.access_sent_at + policy.interval:
            return False
        if self.ended_at is not None and now >= self.ended_at + policy.after_end:
            return False
        self.access_generation += 1
        self.access_valid_from = self.access_generation
        self.access_sent_at = now
        self._access_changed("a new token was sent to the applicant's e-mail address")
        self.record("SendAccessToken", {"generation": self.access_generation})
        return True

    def revoke_access(self, by: str) -> None:
        """Retire every token issued so far (``by``: ``"applicant"`` or ``"staff"``)."""
        self.access_valid_from = self.access_generation + 1
        self._access_changed(f"tokens revoked by {by}")

    def _access_changed(self, cause: str) -> None:
        self.record("ApplicantAccessChanged", {"generation": self.access_generation,
                                               "valid_from": self.access_valid_from, "cause": cause})
