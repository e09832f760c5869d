"""The Blueprint guards: one declaration per view checks the token, documents and secures the operation.

A tiny Flask app with flask-smorest and a stand-in runtime (its settings, and access facts from a
dict instead of a database): no database, no broker, no server.
"""

from __future__ import annotations

from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask.views import MethodView
from flask_smorest import Api

from common.identity import staff_tokens
from common.identity.roles import ADMIN, OFFICER, OPERATOR
from common.kernel.clock import utcnow
from common.kernel.settings import Settings
from common.web.applicant_access import AccessFacts, AccessRefused, issue_applicant_token
from common.web.auth import Caller
from common.web.blueprint import (
    ERROR_MEANINGS,
    SECURITY_SCHEMES,
    UNAUTHENTICATED_WITH_CREDENTIAL,
    Blueprint,
    Credential,
)
from common.web.context import RUNTIME_KEY, current_caller

SECRET = "secret"


def _staff(role: str, username: str = "someone", *, key: str | None = None, lifetime: int = 600,
           ago: int = 0) -> str:
    """A staff token as ``POST /auth/token`` gives one (signed with the key derived from SECRET)."""
    return staff_tokens.issue(key or staff_tokens.derived_key(SECRET), username, role,
                              utcnow() - timedelta(seconds=ago), timedelta(seconds=lifetime))


STAFF = _staff(ADMIN, "ada", lifetime=12 * 3600)  # made at import: it must outlive a full suite run
MINE, OTHER = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"

blp = Blueprint("guarded", __name__, url_prefix="/t")
#: What the stand-in service knows of each application's tokens (``access_facts``).
FACTS: dict[str, AccessFacts] = {}


def _pass(view_kwargs: dict[str, Any]) -> Caller | None:
    """A stand-in credential: ``?pass=mine`` is the applicant of MINE (generation 1, issued now),
    ``?pass=stale`` one whose pass has expired."""
    from flask import request

    given = request.args.get("pass")
    if given == "stale":
        raise AccessRefused("PASS_EXPIRED", "This pass has expired.")
    return Caller(staff=False, application_id=MINE, generation=1, issued_at=int(utcnow().timestamp())) \
        if given == "mine" else None


PASS = Credential("a pass (?pass=)", _pass)


@blp.route("/staff")
class StaffView(MethodView):
    @blp.response(200)
    @blp.staff_only(OPERATOR)
    def get(self) -> Any:
        """Staff only"""
        return {"staff": current_caller().staff}


@blp.route("/applications/<uuid:application_id>")
class OwnedView(MethodView):
    @blp.response(200)
    @blp.applicant_or_staff(credential=PASS)
    def get(self, application_id: Any) -> Any:
        """Owner or staff"""
        return {"application_id": current_caller().application_id}


@pytest.fixture(scope="module")
def client() -> FlaskClient:
    app = Flask(__name__)
    app.config.update(API_TITLE="t", API_VERSION="1", OPENAPI_VERSION="3.0.3", OPENAPI_URL_PREFIX="/",
                      OPENAPI_JSON_PATH="openapi.json",
                      API_SPEC_OPTIONS={"components": {"securitySchemes": SECURITY_SCHEMES}})
    app.extensions[RUNTIME_KEY] = SimpleNamespace(
        name="t", settings=Settings(service="t", database_url="sqlite://", secret_key=SECRET,
                                    staff_previous_signing_keys=("the-key-before-rotation",),
                                    applicant_token_max_days=30, applicant_token_days_after_end=10),
        definition=SimpleNamespace(access_facts=lambda rt, application_id: FACTS.get(application_id)))
    Api(app).register_blueprint(blp)
    return app.test_client()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_no_token_is_401_with_www_authenticate(client: FlaskClient) -> None:
    answer = client.get("/t/staff")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == "Bearer"
    assert answer.json["message"] == "A valid bearer token is required."
    assert client.get("/t/staff", headers=_bearer("forged")).status_code == 401


def test_an_applicant_on_a_staff_view_is_403_and_staff_pass(client: FlaskClient) -> None:
    applicant = client.get("/t/staff", headers=_bearer(issue_applicant_token(SECRET, MINE)))
    assert applicant.status_code == 403
    assert applicant.json == {"code": 403, "status": "Forbidden", "message": "Staff only."}
    assert client.get("/t/staff", headers=_bearer(STAFF)).json == {"staff": True}


def test_another_applicants_application_is_404_never_403(client: FlaskClient) -> None:
    token = issue_applicant_token(SECRET, MINE)
    assert client.get(f"/t/applications/{OTHER}", headers=_bearer(token)).status_code == 404
    assert client.get(f"/t/applications/{MINE}", headers=_bearer(token)).json == {"application_id": MINE}
    assert client.get(f"/t/applications/{OTHER}", headers=_bearer(STAFF)).status_code == 200


def test_another_credential_is_taken_only_where_declared(client: FlaskClient) -> None:
    assert client.get(f"/t/applications/{MINE}?pass=mine").json == {"application_id": MINE}
    refused = client.get(f"/t/applications/{MINE}")
    assert refused.status_code == 401
    assert refused.json["message"] == "A valid bearer token or a pass (?pass=) is required."
    stale = client.get(f"/t/applications/{MINE}?pass=stale")
    assert stale.status_code == 401 and stale.json["errors"] == {"reason": "PASS_EXPIRED"}
    assert client.get("/t/staff?pass=mine").status_code == 401


def test_a_token_in_the_query_string_is_never_taken(client: FlaskClient) -> None:
    token = issue_applicant_token(SECRET, MINE)
    assert client.get(f"/t/applications/{MINE}?token={token}").status_code == 401
    assert client.get(f"/t/staff?token={STAFF}").status_code == 401


def test_an_expired_token_is_401_with_its_reason_never_404(client: FlaskClient) -> None:
    long_ago = utcnow() - timedelta(days=31)
    for path in (f"/t/applications/{MINE}", f"/t/applications/{OTHER}", "/t/staff"):
        answer = client.get(path, headers=_bearer(issue_applicant_token(SECRET, MINE, 1, long_ago)))
        assert answer.status_code == 401, path
        assert answer.json["errors"] == {"reason": "TOKEN_EXPIRED"}
        assert answer.json["message"].startswith("This access token has expired.")
        assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    recent = issue_applicant_token(SECRET, MINE, 1, utcnow() - timedelta(days=29))
    assert client.get(f"/t/applications/{MINE}", headers=_bearer(recent)).status_code == 200


def test_a_token_expires_some_days_after_its_application_ended(client: FlaskClient) -> None:
    token = issue_applicant_token(SECRET, MINE)
    try:
        FACTS[MINE] = AccessFacts(ended_at=utcnow() - timedelta(days=9))
        assert client.get(f"/t/applications/{MINE}", headers=_bearer(token)).status_code == 200
        FACTS[MINE] = AccessFacts(ended_at=utcnow() - timedelta(days=10, seconds=1))
        answer = client.get(f"/t/applications/{MINE}", headers=_bearer(token))
        assert answer.status_code == 401 and answer.json["errors"] == {"reason": "TOKEN_EXPIRED"}
        assert "ended more than 10 days ago" in answer.json["message"]
    finally:
        FACTS.clear()


def test_a_revoked_or_replaced_generation_is_401_token_revoked(client: FlaskClient) -> None:
    first, second = issue_applicant_token(SECRET, MINE, 1), issue_applicant_token(SECRET, MINE, 2)
    try:
        FACTS[MINE] = AccessFacts(generation=2, valid_from=2)  # re-issued: the first is retired
        refused = client.get(f"/t/applications/{MINE}", headers=_bearer(first))
        assert refused.status_code == 401 and refused.json["errors"] == {"reason": "TOKEN_REVOKED"}
        assert client.get(f"/t/applications/{MINE}", headers=_bearer(second)).status_code == 200
        FACTS[MINE] = AccessFacts(generation=2, valid_from=3)  # revoked: none is left
        assert client.get(f"/t/applications/{MINE}", headers=_bearer(second)).json["errors"] == {
            "reason": "TOKEN_REVOKED"}
        assert client.get(f"/t/applications/{MINE}?pass=mine").status_code == 401  # the credential's holder too
        assert client.get(f"/t/applications/{MINE}", headers=_bearer(STAFF)).status_code == 200
    finally:
        FACTS.clear()


def test_one_declaration_documents_the_answers_and_the_security_requirement(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    staff = paths["/t/staff"]["get"]
    assert staff["security"] == [{"bearer": []}]
    assert {code: staff["responses"][code]["description"] for code in ("401", "403")} == {
        "401": ERROR_MEANINGS[401], "403": ERROR_MEANINGS[403]}
    owned = paths["/t/applications/{application_id}"]["get"]
    assert owned["security"] == [{"bearer": []}]
    assert owned["responses"]["401"]["description"] == UNAUTHENTICATED_WITH_CREDENTIAL.format(name=PASS.name)
    assert owned["responses"]["404"]["description"] == ERROR_MEANINGS[404]
    assert owned["responses"]["403"]["description"] == ERROR_MEANINGS[403]  # a staff role it does not admit


def test_each_role_is_admitted_where_the_view_names_it_and_admin_everywhere(client: FlaskClient) -> None:
    assert client.get("/t/staff", headers=_bearer(_staff(OPERATOR, "omar"))).json == {"staff": True}
    assert client.get("/t/staff", headers=_bearer(_staff(ADMIN))).status_code == 200
    refused = client.get("/t/staff", headers=_bearer(_staff(OFFICER, "olga")))
    assert refused.status_code == 403
    assert refused.json["message"] == "Your role (officer) may not do this: it needs operator or admin."
    # An application's view admits officers (and admin), its applicant, not an operator.
    assert client.get(f"/t/applications/{OTHER}", headers=_bearer(_staff(OFFICER))).status_code == 200
    assert client.get(f"/t/applications/{OTHER}", headers=_bearer(_staff(OPERATOR))).status_code == 403


def test_a_staff_token_expired_forged_or_of_another_key_opens_nothing(client: FlaskClient) -> None:
    expired = client.get("/t/staff", headers=_bearer(_staff(ADMIN, ago=700)))
    assert expired.status_code == 401
    assert expired.json["errors"]["reason"] == "TOKEN_EXPIRED"
    assert expired.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/t/staff", headers=_bearer(_staff(ADMIN, key="another-key"))).status_code == 401
    header, payload, signature = STAFF.split(".")
    assert client.get("/t/staff", headers=_bearer(f"{header}.{payload}.{signature[::-1]}")).status_code == 401
    # The same claims unsigned ("alg": "none") are refused, whatever the token says of itself.
    unsigned = jwt.encode(jwt.decode(STAFF, options={"verify_signature": False}), key=None, algorithm="none")
    assert client.get("/t/staff", headers=_bearer(unsigned)).status_code == 401
    # During a rotation, a token signed with the previous key still works.
    assert client.get("/t/staff", headers=_bearer(_staff(ADMIN, key="the-key-before-rotation"))).status_code == 200


def test_a_role_the_token_claims_but_that_does_not_exist_is_refused(client: FlaskClient) -> None:
    claims = {"sub": "mallory", "role": "root", "iss": staff_tokens.ISSUER, "aud": staff_tokens.AUDIENCE,
              "iat": int(utcnow().timestamp()), "exp": int(utcnow().timestamp()) + 60}
    forged_role = jwt.encode(claims, staff_tokens.derived_key(SECRET), algorithm="HS256")
    assert client.get("/t/staff", headers=_bearer(forged_role)).status_code == 401


def test_a_view_must_name_its_roles() -> None:
    with pytest.raises(TypeError, match="role names"):
        Blueprint("b", __name__).staff_only(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown role"):
        Blueprint("b", __name__).staff_only("superuser")
