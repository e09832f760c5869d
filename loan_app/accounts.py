"""Staff accounts: sign-in, creation, changes. Plain functions over loan's database.

Why here: accounts need one home that every sign-in reads, and loan's database is the one the
gateway's ``/auth`` routes to; once signed in, a staff member's token is checked by every
service on its own (:mod:`common.identity.staff_tokens`) and this module is not asked again.

Sign-in answers the same :class:`WrongCredentials` for an unknown username, a disabled account
and a wrong password, after the same argon2 work. Repeated failures for one username (existing
or not) are throttled: after ``sign_in_max_failures`` failures, that username is refused
(:class:`Throttled`, a 429) until ``sign_in_throttle_seconds`` after the last failure, however
right the password. The price: someone who knows a username can keep its owner out by failing
on purpose; the per-address limit on ``POST /auth/token`` bounds how fast, and an operator sees
the counts in loan's ``sign_in_failures`` table (docs/operations.md). Failures are not written to
the audit trail: that would let anyone grow it. A failure also drops every row whose window has
passed, so the table holds only the usernames that failed within the last window.

Every change to an account is audited in loan's ``operator_actions`` with the admin who made it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from common.database.upsert import insert_or_lock
from common.identity import passwords, staff_tokens
from common.identity.roles import ADMIN, check_role
from common.kernel.clock import utcnow
from common.operations.commands import audit
from common.service.runtime import Runtime
from loan_app.adapters.orm import SignInFailures, StaffAccount

#: What a username may look like: lowercase letters, digits, ``.``, ``_``, ``-``; 2 to 64.
USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
#: The first account's name (``make run``, ``make run-services``, ``staff ensure-admin``).
FIRST_ADMIN = "admin"


class WrongCredentials(Exception):
    """Unknown username, wrong password or disabled account: one answer for all three."""


class Throttled(Exception):
    """Too many failed sign-ins for this username: try again in ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


class AccountExists(Exception):
    """An account with this username exists already."""


class NoSuchAccount(Exception):
    """No account with this username."""


class InvalidAccount(ValueError):
    """A field of an account is not acceptable: ``errors`` maps field → message."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class SignedIn:
    """The answer to a good sign-in."""

    access_token: str
    expires_in: int
    role: str
    username: str


def sign_in(rt: Runtime, username: str, password: str) -> SignedIn:
    """Check ``username`` and ``password``; a token for the account if they match.

    Raises:
      Throttled: this username failed too often lately (checked first: no hashing then).
      WrongCredentials: anything else that is not a match.
    """
    settings = rt.settings
    now = utcnow()
    window = timedelta(seconds=settings.sign_in_throttle_seconds)
    username = username.strip().lower()[:64]
    with rt.session_factory() as session, session.begin():
        failures = session.get(SignInFailures, username)
        if failures is not None and failures.last_failure_at + window <= now:
            failures = None  # a quiet spell long enough: start counting again
        if failures is not None and failures.failures >= settings.sign_in_max_failures:
            raise Throttled(max(1, int((failures.last_failure_at + window - now).total_seconds())))
        account = session.get(StaffAccount, username)
        usable = account is not None and not account.disabled
        if not passwords.verify_password(account.password_hash if usable and account else None, password):
            _count_failure(session, username, now, window)
            failed = True
        else:
            failed = False
            assert account is not None
            session.execute(delete(SignInFailures).where(SignInFailures.username == username))
            account.last_sign_in_at = now
            if passwords.needs_rehash(account.password_hash):
                account.password_hash = passwords.hash_password(password)
            role = account.role
    if failed:  # committed: the failure counts even though the caller gets an exception
        raise WrongCredentials
    lifetime = timedelta(seconds=settings.staff_token_seconds)
    token = staff_tokens.issue(settings.staff_key, username, role, now, lifetime)
    return SignedIn(access_token=token, expires_in=settings.staff_token_seconds, role=role, username=username)


def _count_failure(session: Any, username: str, now: Any, window: timedelta) -> None:
    row, inserted = insert_or_lock(session, SignInFailures, ("username",),
                                   {"username": username, "failures": 1, "last_failure_at": now})
    if not inserted:
        row.failures = 1 if row.last_failure_at + window <= now else row.failures + 1
        row.last_failure_at = now
    # Rows past their window count for nothing: dropping them here keeps the table as small as
    # the set of usernames tried lately, with no separate purge to schedule.
    session.execute(delete(SignInFailures).where(SignInFailures.last_failure_at <= now - window,
                                                 SignInFailures.username != username))


def create_account(rt: Runtime, username: str, password: str, role: str, by: str) -> dict[str, Any]:
    """A new account; audited as done ``by`` (an admin's username, or ``cli``).

    Raises:
      InvalidAccount: a field is not acceptable (``errors`` names it).
      AccountExists: the username is taken.
    """
    problems = _problems(username=username, password=password, role=role)
    if problems:
        raise InvalidAccount(problems)
    now = utcnow()
    hashed = passwords.hash_password(password)
    try:
        with rt.session_factory() as session, session.begin():
            session.add(StaffAccount(username=username, role=role, password_hash=hashed, disabled=False,
                                     created_at=now, created_by=by, updated_at=now))
            session.flush()
            audit(rt, session, by, "account.create", username, role=role)
    except IntegrityError:
        raise AccountExists(username) from None
    return account(rt, username)


def update_account(rt: Runtime, username: str, changes: dict[str, Any], by: str) -> dict[str, Any]:
    """Change an account's ``role``, ``disabled`` or ``password``; audited as done ``by``.

    Raises:
      NoSuchAccount, InvalidAccount.
    """
    problems = _problems(**{k: v for k, v in changes.items() if k in ("password", "role")})
    if problems:
        raise InvalidAccount(problems)
    if not changes:  # nothing asked: nothing changed, nothing audited
        return account(rt, username)
    with rt.session_factory() as session, session.begin():
        found = session.get(StaffAccount, username, with_for_update=True)
        if found is None:
            raise NoSuchAccount(username)
        if "role" in changes:
            found.role = changes["role"]
        if "disabled" in changes:
            found.disabled = bool(changes["disabled"])
        if "password" in changes:
            found.password_hash = passwords.hash_password(changes["password"])
            session.execute(delete(SignInFailures).where(SignInFailures.username == username))
        found.updated_at = utcnow()
        told = {k: v for k, v in changes.items() if k != "password"} | ({"password": "changed"} if "password" in changes
                                                                          else {})
        audit(rt, session, by, "account.update", username, **told)
    return account(rt, username)


def account(rt: Runtime, username: str) -> dict[str, Any]:
    """One account as the API shows it (never its hash).

    Raises:
      NoSuchAccount.
    """
    with rt.session_factory() as session:
        found = session.get(StaffAccount, username)
        if found is None:
            raise NoSuchAccount(username)
        return _shown(found)


def accounts(rt: Runtime) -> list[dict[str, Any]]:
    """Every account, by username."""
    with rt.session_factory() as session:
        return [_shown(a) for a in session.scalars(select(StaffAccount).order_by(StaffAccount.username))]


def ensure_admin(rt: Runtime, password: str) -> bool:
    """Create the first account (``admin``, role admin) unless it exists; True if created now."""
    try:
        create_account(rt, FIRST_ADMIN, password, ADMIN, by="setup")
    except AccountExists:
        return False
    return True


def _problems(**fields: Any) -> dict[str, list[str]]:
    problems: dict[str, list[str]] = {}
    if "username" in fields and not USERNAME.match(fields["username"] or ""):
        problems["username"] = ["2 to 64 characters: lowercase letters, digits, '.', '_' or '-', starting with a "
                                "letter or digit."]
    if "password" in fields and (why := passwords.password_problem(fields["password"] or "")):
        problems["password"] = [why]
    if "role" in fields:
        try:
            check_role(fields["role"])
        except ValueError as unknown:
            problems["role"] = [str(unknown).capitalize() + "."]
    return problems


def _shown(found: StaffAccount) -> dict[str, Any]:
    return {"username": found.username, "role": found.role, "disabled": found.disabled,
            "created_at": found.created_at, "created_by": found.created_by, "updated_at": found.updated_at,
            "last_sign_in_at": found.last_sign_in_at}
