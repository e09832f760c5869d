"""The Blueprint guards: one declaration per view checks the token, documents and secures the operation.

A tiny Flask app with flask-smorest and a stand-in runtime (only its settings are read): no
database, no broker, no server.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask.views import MethodView
from flask_smorest import Api

from common.kernel.settings import Settings
from common.web.auth import issue_applicant_token
from common.web.blueprint import ERROR_MEANINGS, SECURITY_SCHEMES, UNAUTHENTICATED_WITH_QUERY, Blueprint
from common.web.context import RUNTIME_KEY, current_caller

STAFF, SECRET = "staff-token", "secret"
MINE, OTHER = "11111111-1111-1111-1111-111111111111", "22222222-2222-2222-2222-222222222222"

blp = Blueprint("guarded", __name__, url_prefix="/t")


@blp.route("/staff")
class StaffView(MethodView):
    @blp.response(200)
    @blp.staff_only
    def get(self) -> Any:
        """Staff only"""
        return {"staff": current_caller().staff}


@blp.route("/applications/<uuid:application_id>")
class OwnedView(MethodView):
    @blp.response(200)
    @blp.applicant_or_staff(query_token=True)
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
        settings=Settings(service="t", database_url="sqlite://", staff_token=STAFF, secret_key=SECRET))
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


def test_the_query_token_is_taken_only_where_declared(client: FlaskClient) -> None:
    token = issue_applicant_token(SECRET, MINE)
    assert client.get(f"/t/applications/{MINE}?token={token}").status_code == 200
    refused = client.get(f"/t/applications/{MINE}")
    assert refused.status_code == 401 and refused.json["message"] == "A valid token is required."
    assert client.get(f"/t/staff?token={STAFF}").status_code == 401


def test_one_declaration_documents_the_answers_and_the_security_requirement(client: FlaskClient) -> None:
    paths = client.get("/openapi.json").json["paths"]
    staff = paths["/t/staff"]["get"]
    assert staff["security"] == [{"bearer": []}]
    assert {code: staff["responses"][code]["description"] for code in ("401", "403")} == {
        "401": ERROR_MEANINGS[401], "403": ERROR_MEANINGS[403]}
    owned = paths["/t/applications/{application_id}"]["get"]
    assert owned["security"] == [{"bearer": []}]
    assert owned["responses"]["401"]["description"] == UNAUTHENTICATED_WITH_QUERY
    assert owned["responses"]["404"]["description"] == ERROR_MEANINGS[404]
    assert "403" not in owned["responses"]
