"""``/auth``: staff sign in here (``POST /auth/token``) and admins manage accounts.

Loan answers these (the gateway and the embedded dispatcher route ``/auth`` to it) because
accounts live in its database; the token it gives is checked by every service on its own.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest import abort

from common.identity.roles import OFFICER, OPERATOR
from common.web.blueprint import RETRY_AFTER_HEADER, Blueprint
from common.web.context import current_caller, runtime
from common.web.ratelimit import rate_limited
from loan_app import accounts
from loan_app.resources.auth.schemas import (
    AccountCreateSchema,
    AccountSchema,
    AccountUpdateSchema,
    SignInSchema,
    StaffTokenSchema,
    WhoAmISchema,
)

#: ``errors.reason`` of a sign-in refused because the username failed too often lately.
SIGN_IN_THROTTLED = "SIGN_IN_THROTTLED"

blp = Blueprint("auth", __name__, url_prefix="/auth",
                description="Staff: sign in for a short-lived token; accounts and roles (admin).")


@blp.route("/token")
class Token(MethodView):
    @rate_limited(blp, "sign_in_rate_limit", scope="signin")
    @blp.arguments(SignInSchema)
    @blp.response(200, StaffTokenSchema)
    @blp.errors(400, 413, 415)
    @blp.alt_response(401, description="Wrong username or password (the same answer for an unknown username "
                                        "and a disabled account).")
    @blp.alt_response(429, description="Too many failed sign-ins for this username (errors.reason "
                                       "SIGN_IN_THROTTLED) or from this address (RATE_LIMITED): try again after "
                                       "Retry-After seconds.", headers=RETRY_AFTER_HEADER)
    def post(self, credentials: dict[str, Any]) -> Any:
        """Sign in (staff)

        Exchange a username and password for a bearer token valid ``expires_in`` seconds, which
        every service accepts. Failed attempts for one username are throttled (429
        ``SIGN_IN_THROTTLED``), attempts from one address limited (``LOANFLOW_SIGN_IN_RATE_LIMIT``).
        """
        try:
            signed = accounts.sign_in(runtime(), credentials["username"], credentials["password"])
        except accounts.Throttled as throttled:
            abort(429, message=f"Too many failed sign-ins for this account: try again in {throttled.retry_after} s.",
                  errors={"reason": SIGN_IN_THROTTLED}, headers={"Retry-After": str(throttled.retry_after)})
        except accounts.WrongCredentials:
            abort(401, message="Wrong username or password.", headers={"WWW-Authenticate": "Bearer"})
        return {"access_token": signed.access_token, "token_type": "bearer", "expires_in": signed.expires_in,
                "role": signed.role, "username": signed.username}


@blp.route("/me")
class WhoAmI(MethodView):
    @blp.response(200, WhoAmISchema)
    @blp.staff_only(OFFICER, OPERATOR)
    def get(self) -> Any:
        """Who the token's holder is (staff): username and role."""
        caller = current_caller()
        return {"username": caller.username, "role": caller.role}


@blp.route("/accounts")
class Accounts(MethodView):
    @blp.response(200, AccountSchema(many=True))
    @blp.staff_only()
    def get(self) -> Any:
        """List staff accounts (admin)"""
        return accounts.accounts(runtime())

    @blp.staff_only()
    @blp.arguments(AccountCreateSchema)
    @blp.response(201, AccountSchema)
    @blp.errors(400, 409, 413, 415, e409="An account with this username exists already.")
    def post(self, data: dict[str, Any]) -> Any:
        """Create a staff account (admin). Audited."""
        try:
            return accounts.create_account(runtime(), data["username"], data["password"], data["role"],
                                           by=current_caller().username), 201
        except accounts.InvalidAccount as invalid:
            abort(422, errors={"json": invalid.errors}, message="Some fields are invalid.")
        except accounts.AccountExists:
            abort(409, message="An account with this username exists already.")


@blp.route("/accounts/<string:username>")
class AccountByName(MethodView):
    @blp.response(200, AccountSchema)
    @blp.errors(404)
    @blp.staff_only()
    def get(self, username: str) -> Any:
        """One staff account (admin)"""
        try:
            return accounts.account(runtime(), username[:64])
        except accounts.NoSuchAccount:
            abort(404, message="No such account.")

    @blp.staff_only()
    @blp.arguments(AccountUpdateSchema)
    @blp.response(200, AccountSchema)
    @blp.errors(400, 404, 413, 415)
    def patch(self, changes: dict[str, Any], username: str) -> Any:
        """Change a staff account's role, password or disabled flag (admin). Audited."""
        try:
            return accounts.update_account(runtime(), username[:64], changes, by=current_caller().username)
        except accounts.InvalidAccount as invalid:
            abort(422, errors={"json": invalid.errors}, message="Some fields are invalid.")
        except accounts.NoSuchAccount:
            abort(404, message="No such account.")
