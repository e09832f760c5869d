"""HTTP client of the external credit bureau, as the credit service uses it.

Why two exception families: the caller must know whether asking again can help.
:class:`BureauUnavailable` (timeout, connection error, 5xx, 429) is transient — the message is
retried later; :class:`BureauRejected` (any other 4xx, a malformed answer, an unusable request) is
permanent — retrying would give the same answer, so it is never retried.

Why the retries are split in two: this client retries a transient failure only *quickly* and only a
little (at most ``attempts`` tries, exponential backoff with jitter between 0.1 s and 0.5 s), to ride
out a dropped connection or one 503 without giving up the worker for long. The long retries — minutes
apart, over hours — happen at the message-queue level (Dramatiq re-delivers the ``CheckCredit``
message with its own backoff), where waiting costs no thread. So one call lasts at most about
``attempts * timeout`` plus well under a second of backoff.

Inquiries are idempotent by ``reference`` (the caller's own inquiry id), so a retry after a timeout
never creates a second inquiry at the bureau. No names or birth dates are logged or put in messages.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

__all__ = ["BureauClient", "BureauError", "BureauRejected", "BureauReport", "BureauUnavailable"]

log = logging.getLogger(__name__)

T = TypeVar("T")

_CONNECT_TIMEOUT_S = 1.0
_BACKOFF_INITIAL_S = 0.1
_BACKOFF_MAX_S = 0.5
_BACKOFF_JITTER_S = 0.1
_POOL_SIZE = 16
_TRANSIENT_ERRORS = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)


class BureauError(Exception):
    """Any failure to get an answer from the bureau; ``status_code`` is the HTTP status, if any."""

    def __init__(self, message: str, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class BureauUnavailable(BureauError):
    """Transient: timeout, connection error, 5xx or 429. The caller retries later."""


class BureauRejected(BureauError):
    """Permanent: a 4xx other than 429, or an answer that is not what the API promises. Never retried."""


@dataclass(frozen=True)
class BureauReport:
    """What the credit service needs from an inquiry: counts and the monthly total, no creditor detail."""

    inquiry_id: str
    found: bool
    payment_incidents: int
    open_credits: int
    open_credits_monthly: Decimal


def _pooled_session() -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=_POOL_SIZE, max_retries=0)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _environment_settings(session: requests.Session, base_url: str) -> dict[str, Any]:
    """What ``requests`` would read from the environment for the bureau (proxies, CA bundle, .netrc),
    read once; the session stops reading it again on every call.

    Why: with ``trust_env`` a session scans the whole process environment for proxy variables on
    each request, a third of the client's CPU per inquiry; the environment does not change while
    the worker runs. Only for the client's own session (one passed in is left as it is).
    """
    settings = session.merge_environment_settings(base_url, {}, None, None, None)
    found: dict[str, Any] = {"proxies": settings["proxies"], "verify": settings["verify"]}
    if settings["cert"] is not None:
        found["cert"] = settings["cert"]
    if session.auth is None:
        found["auth"] = requests.utils.get_netrc_auth(base_url)
    session.trust_env = False
    return found


def _error_code(response: requests.Response) -> str:
    """The bureau's short error code, if it sent one; bodies are not echoed (they may hold personal data)."""
    try:
        body = response.json()
    except ValueError:
        return ""
    code = body.get("error") if isinstance(body, dict) else None
    return f" ({code})" if isinstance(code, str) and len(code) <= 64 else ""


def _raise_for_status(response: requests.Response) -> None:
    status = response.status_code
    if status == 429 or status >= 500:
        raise BureauUnavailable(f"bureau answered HTTP {status}{_error_code(response)}", status)
    if not 200 <= status < 300:
        raise BureauRejected(f"bureau refused the request: HTTP {status}{_error_code(response)}", status)


def _money(value: Any) -> Decimal:
    if not isinstance(value, str):
        raise BureauRejected("malformed bureau answer: monthly_payment is not a decimal string")
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise BureauRejected("malformed bureau answer: monthly_payment is not a decimal") from None
    if not amount.is_finite() or amount < 0:
        raise BureauRejected("malformed bureau answer: monthly_payment out of range")
    return amount


def _monthly_total(open_credits: list[Any]) -> Decimal:
    total = Decimal("0.00")
    for credit in open_credits:
        if not isinstance(credit, Mapping):
            raise BureauRejected("malformed bureau answer: open credit is not an object")
        total += _money(credit.get("monthly_payment"))
    return total


def _report_from(body: Any) -> BureauReport:
    if not isinstance(body, dict):
        raise BureauRejected("malformed bureau answer: not a JSON object")
    inquiry_id, found = body.get("inquiry_id"), body.get("found")
    incidents, loans = body.get("payment_incidents"), body.get("open_credits")
    if not (isinstance(inquiry_id, str) and inquiry_id and isinstance(found, bool)):
        raise BureauRejected("malformed bureau answer: inquiry_id or found missing")
    if not (isinstance(incidents, list) and isinstance(loans, list)):
        raise BureauRejected("malformed bureau answer: payment_incidents or open_credits missing")
    return BureauReport(inquiry_id, found, len(incidents), len(loans), _monthly_total(loans))


def _json_body(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        raise BureauRejected("malformed bureau answer: not JSON", response.status_code) from None


def _log_retry(state: RetryCallState) -> None:
    outcome = state.outcome.exception() if state.outcome else None
    log.warning("bureau call failed on attempt %d, retrying shortly: %s", state.attempt_number, outcome)


class BureauClient:
    """Talks to the bureau over one pooled ``requests.Session``, shared by a worker's threads.

    ``timeout`` is the read timeout in seconds; the connect timeout is ``min(1.0, timeout)`` — an
    unreachable bureau is known quickly. ``attempts`` bounds the quick in-call tries (see module doc).
    A ``session`` passed in is used as is and stays the caller's to close.
    """

    def __init__(
        self,
        base_url: str,
        timeout: float = 3.0,
        attempts: int = 2,
        session: requests.Session | None = None,
    ) -> None:
        if timeout <= 0 or attempts < 1:
            raise ValueError("timeout must be > 0 and attempts >= 1")
        self._base_url = base_url.rstrip("/")
        self._timeout = (min(_CONNECT_TIMEOUT_S, timeout), timeout)
        self._attempts = attempts
        self._owns_session = session is None
        self._session = session if session is not None else _pooled_session()
        self._environment = _environment_settings(self._session, self._base_url) if self._owns_session else {}

    def inquire(self, reference: str, full_name: str, birth_date: str) -> BureauReport:
        """Ask about one person; the same ``reference`` always yields the same inquiry at the bureau."""
        payload = {"reference": reference, "full_name": full_name, "birth_date": birth_date}
        report = self._with_retries(lambda: self._post_inquiry(payload))
        log.info(
            "bureau inquiry %s for reference %s: found=%s incidents=%d open_credits=%d",
            report.inquiry_id,
            reference,
            report.found,
            report.payment_incidents,
            report.open_credits,
        )
        return report

    def cancel(self, inquiry_id: str) -> None:
        """Cancel an inquiry. A 404 counts as done, without error.

        Why: cancelling is a saga compensation, and compensations must be idempotent — a redelivered
        ``CancelCreditInquiry`` message, or a first call whose answer was lost, must not fail.
        """
        self._with_retries(lambda: self._delete_inquiry(inquiry_id))

    def close(self) -> None:
        """Release pooled connections, if this client created its session."""
        if self._owns_session:
            self._session.close()

    def _with_retries(self, call: Callable[[], T]) -> T:
        retrying = Retrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(
                multiplier=_BACKOFF_INITIAL_S, max=_BACKOFF_MAX_S, jitter=_BACKOFF_JITTER_S
            ),
            retry=retry_if_exception_type(BureauUnavailable),
            before_sleep=_log_retry,
            reraise=True,
        )
        return retrying(call)

    def _post_inquiry(self, payload: Mapping[str, str]) -> BureauReport:
        response = self._send("POST", "/v1/inquiries", json=payload)
        _raise_for_status(response)
        return _report_from(_json_body(response))

    def _delete_inquiry(self, inquiry_id: str) -> None:
        response = self._send("DELETE", f"/v1/inquiries/{quote(inquiry_id, safe='')}")
        if response.status_code == 404:
            log.info("bureau inquiry %s was already gone: treated as cancelled", inquiry_id)
            return
        _raise_for_status(response)
        log.info("bureau inquiry %s cancelled", inquiry_id)

    def _send(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        try:
            return self._session.request(
                method, self._base_url + path, timeout=self._timeout, allow_redirects=False,
                **self._environment, **kwargs,
            )
        except _TRANSIENT_ERRORS as exc:
            raise BureauUnavailable(f"bureau unreachable: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            raise BureauRejected(f"bureau request could not be made: {type(exc).__name__}") from exc
