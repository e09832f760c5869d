"""What ``/auth`` takes and answers."""

from __future__ import annotations

import marshmallow as ma
from marshmallow import fields, validate

from common.identity.passwords import MAX_LENGTH, MIN_LENGTH
from common.identity.roles import ROLES
from loan_app.accounts import USERNAME

_ROLE = validate.OneOf(ROLES)
#: The rules of loan_app.accounts, stated in the schema too, so that the OpenAPI document says
#: what a valid account is (the command line goes through the same checks in loan_app.accounts).
_USERNAME = validate.Regexp(USERNAME, error="2 to 64 characters: lowercase letters, digits, '.', '_' or '-', "
                                            "starting with a letter or digit.")
_PASSWORD = validate.Length(min=MIN_LENGTH, max=MAX_LENGTH, error=f"{MIN_LENGTH} to {MAX_LENGTH} characters.")


class SignInSchema(ma.Schema):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, load_only=True, validate=validate.Length(min=1, max=MAX_LENGTH))


class StaffTokenSchema(ma.Schema):
    access_token = fields.String(required=True, metadata={"description": "Send it as Authorization: Bearer …"})
    token_type = fields.String(required=True, metadata={"description": "Always `bearer`."})
    expires_in = fields.Integer(required=True, metadata={"description": "Seconds the token is valid for "
                                                                        "(LOANFLOW_STAFF_TOKEN_SECONDS)."})
    role = fields.String(required=True, validate=_ROLE)
    username = fields.String(required=True)


class AccountCreateSchema(ma.Schema):
    username = fields.String(required=True, validate=_USERNAME,
                             metadata={"description": "2–64 characters: a-z, 0-9, '.', '_', '-'."})
    password = fields.String(required=True, load_only=True, validate=_PASSWORD,
                             metadata={"description": "At least 12 characters; stored as an argon2id hash."})
    role = fields.String(required=True, validate=_ROLE)


class AccountUpdateSchema(ma.Schema):
    role = fields.String(validate=_ROLE)
    disabled = fields.Boolean(metadata={"description": "A disabled account cannot sign in; tokens it holds "
                                                       "stay valid until they expire."})
    password = fields.String(load_only=True, validate=_PASSWORD,
                             metadata={"description": "A new password (at least 12 characters); clears the sign-in "
                                                      "throttle."})


class AccountSchema(ma.Schema):
    username = fields.String()
    role = fields.String()
    disabled = fields.Boolean()
    created_at = fields.DateTime()
    created_by = fields.String()
    updated_at = fields.DateTime()
    last_sign_in_at = fields.DateTime(allow_none=True)


class WhoAmISchema(ma.Schema):
    username = fields.String()
    role = fields.String()
