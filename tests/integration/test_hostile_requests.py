"""Hostile requests to every service: tokens, ids, query strings, methods, answers to questions.

The companion of ``test_hostile_inputs.py`` (application bodies). Whatever the request, each of
the five services must answer a clear 4xx in the common JSON error format, never a 500, and a
refused request must change nothing — not even the metrics' set of series, which a made-up
method or path would otherwise grow without bound. Endpoints are taken from each service's OpenAPI document
where the point is "every endpoint" (methods, pagination), so new endpoints are covered as they
come.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families
from werkzeug.test import TestResponse

from common.kernel.metrics import METHODS, OTHER_METHOD, UNMATCHED
from common.web.applicant_access import issue_applicant_token
from common.web.input_guards import MAX_PAGE
from loan_app import queries
from tests.conftest import STAFF_TOKEN
from tests.support.messages import deliver, outbox
from tests.support.payloads import application

SERVICES = ("loan", "credit", "property", "decision", "notify")
#: The per-application read endpoint of each service.
READ = {"loan": "/loan/applications/{}", "credit": "/credit/inquiries/{}", "property": "/property/valuations/{}",
        "decision": "/decision/decisions/{}", "notify": "/notify/applications/{}/notifications"}
UNKNOWN = "00000000-0000-4000-8000-000000000000"
REQUESTED = [{"name": "declared_income_year_1", "description": "…", "type": "decimal"},
             {"name": "declared_income_year_2", "description": "…", "type": "decimal"}]
ANSWERS = {"declared_income_year_1": "64000", "declared_income_year_2": "60000.50"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


STAFF = bearer(STAFF_TOKEN)


@pytest.fixture(scope="module")
def loan(apps: dict[str, Flask]) -> FlaskClient:
    return apps["loan"].test_client()


def submit(loan: FlaskClient, **changes: dict[str, Any]) -> dict[str, str]:
    response = loan.post("/loan/applications", json=application(**changes))
    assert response.status_code == 202, response.json
    return {"id": response.json["id"], "token": response.json["access_token"]}


@pytest.fixture(scope="module")
def mine(loan: FlaskClient) -> dict[str, str]:
    return submit(loan)


@pytest.fixture(scope="module")
def theirs(loan: FlaskClient) -> dict[str, str]:
    return submit(loan)


@pytest.fixture(scope="module")
def waiting(loan: FlaskClient) -> dict[str, str]:
    """A self-employed applicant's application, asked for two years of declared income."""
    accepted = submit(loan, applicant={"employment_status": "self_employed"})
    rt, application_id = loan.application.extensions["loanflow.runtime"], accepted["id"]
    deliver(rt, "CreditChecked", application_id, {"inquiry_id": "b-1", "round": 1, "assessment": {
        "score": 720, "payment_incidents": 0, "open_credits": 0, "monthly_income": "5200.00",
        "monthly_debts": "0.00", "debt_to_income": "0.0000", "bureau_found": True}})
    deliver(rt, "PropertyValued", application_id, {"round": 1, "valuation": {
        "estimated_value": "360000.00", "price_per_m2": "4800.00", "loan_to_value": "0.5556",
        "reference": "city:Lyon", "adjustments": []}})
    deliver(rt, "DecisionMade", application_id,
            {"round": 1, "decision": {"outcome": "INFO_REQUESTED", "requested_information": REQUESTED}})
    assert queries.application(rt, application_id).status == "INFO_REQUESTED"
    return accepted


def refused(response: TestResponse, status: int) -> dict[str, Any]:
    """Assert a JSON ``status`` answer in the common error format; its body."""
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.is_json and response.json["code"] == status, response.get_data(as_text=True)[:500]
    return response.json


def spec_paths(app: Flask) -> dict[str, dict[str, Any]]:
    """``{concrete path: operations}`` of the service's OpenAPI document, ids filled in."""
    service = app.extensions["loanflow.runtime"].name
    paths = app.test_client().get(f"/{service}/openapi.json").json["paths"]
    return {re.sub(r"\{[^}]+\}", UNKNOWN, path): operations for path, operations in paths.items()}


TOKENS_THAT_OPEN_NOTHING = [
    {}, {"Authorization": "Bearer"}, {"Authorization": "Bearer "}, {"Authorization": "Basic dXNlcjpwYXNz"},
    {"Authorization": f"Token {STAFF_TOKEN}"}, {"Authorization": STAFF_TOKEN}, bearer("garbage"),
    bearer("x" * 10_000), bearer("tökén"), bearer(STAFF_TOKEN + "x"), bearer(STAFF_TOKEN[:-1]),
    bearer(issue_applicant_token("another-secret-key", UNKNOWN)), bearer("a.b.c"), bearer("🏠"),
]


@pytest.mark.parametrize("headers", TOKENS_THAT_OPEN_NOTHING, ids=lambda h: repr(h.get("Authorization"))[:40])
@pytest.mark.parametrize("service", SERVICES)
def test_tokens_that_open_nothing_get_401(apps: dict[str, Flask], mine: dict[str, str], service: str,
                                          headers: dict[str, str]) -> None:
    response = apps[service].test_client().get(READ[service].format(mine["id"]), headers=headers)
    refused(response, 401)
    assert response.headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("service", ["loan", "notify"])
def test_someone_elses_application_is_not_found(apps: dict[str, Flask], mine: dict[str, str],
                                                theirs: dict[str, str], service: str) -> None:
    refused(apps[service].test_client().get(READ[service].format(mine["id"]), headers=bearer(theirs["token"])), 404)


@pytest.mark.parametrize("service", ["credit", "property", "decision"])
def test_the_step_services_admit_no_applicant(apps: dict[str, Flask], mine: dict[str, str], service: str) -> None:
    """Applicant tokens are taken only where their expiry and revocation are known (loan,
    notify); the applicant reads the steps' results in loan's view of the application."""
    answer = refused(apps[service].test_client().get(READ[service].format(mine["id"]), headers=bearer(mine["token"])),
                     403)
    assert answer["message"] == "Staff only."


def test_someone_elses_application_cannot_be_acted_on(loan: FlaskClient, waiting: dict[str, str],
                                                      theirs: dict[str, str]) -> None:
    for action, body in [("withdraw", None), ("information", ANSWERS)]:
        refused(loan.post(f"/loan/applications/{waiting['id']}/{action}", json=body, headers=bearer(theirs["token"])),
                404)
    assert loan.get(f"/loan/applications/{waiting['id']}", headers=STAFF).json["status"] == "INFO_REQUESTED"


@pytest.mark.parametrize("bad_id", ["not-a-uuid", "1", "' OR 1=1 --", "x" * 5_000, UNKNOWN.replace("-", ""),
                                    f"{UNKNOWN}x", "%00", "..%2F..%2Fetc%2Fpasswd", "🏠"])
@pytest.mark.parametrize("service", SERVICES)
def test_ids_that_are_not_uuids_get_404(apps: dict[str, Flask], service: str, bad_id: str) -> None:
    refused(apps[service].test_client().get(READ[service].format(bad_id), headers=STAFF), 404)


@pytest.mark.parametrize("service", ["loan", "credit", "property"])
def test_unknown_ids_get_404(apps: dict[str, Flask], service: str) -> None:
    refused(apps[service].test_client().get(READ[service].format(UNKNOWN), headers=STAFF), 404)


@pytest.mark.parametrize("service", ["decision", "notify"])
def test_lists_of_an_unknown_id_are_empty(apps: dict[str, Flask], service: str) -> None:
    # These services hold lists per application and learn of one only from its first message:
    # an id they have no record of is "nothing yet", not an error (an applicant's token proves
    # the application exists; staff may ask before the first message arrives).
    response = apps[service].test_client().get(READ[service].format(UNKNOWN), headers=STAFF)
    assert (response.status_code, response.json) == (200, [])


@pytest.mark.parametrize(("query", "parameter"), [
    ("page=0", "page"), ("page=-1", "page"), ("page=abc", "page"), ("page=1.5", "page"), ("page=", "page"),
    (f"page={10**20}", "page"), (f"page={'9' * 5000}", "page"), ("page=%00", "page"), ("page_size=0", "page_size"),
    ("page_size=101", "page_size"), (f"page_size={10**6}", "page_size"), ("page_size=-5", "page_size"),
    ("status=approved", "status"), ("status=", "status"), ("status=APPROVED,REJECTED", "status"),
    ("status=%00", "status"), ("status=%F0%9F%8F%A0", "status"),
])
def test_list_query_parameters(loan: FlaskClient, mine: dict[str, str], query: str, parameter: str) -> None:
    assert parameter in refused(loan.get(f"/loan/applications?{query}", headers=STAFF), 422)["errors"]["query"]


@pytest.mark.parametrize("service", SERVICES)
def test_no_list_pages_beyond_what_postgresql_can_offset(apps: dict[str, Flask], service: str) -> None:
    client = apps[service].test_client()
    paginated = [path for path, operations in spec_paths(apps[service]).items()
                 if any(p["name"] == "page" for p in operations.get("get", {}).get("parameters", []))]
    for path in paginated:
        for page in (MAX_PAGE + 1, 10**20, 2**63):
            assert "page" in refused(client.get(f"{path}?page={page}", headers=STAFF), 422)["errors"]["query"], path
        assert client.get(f"{path}?page={MAX_PAGE}&page_size=100", headers=STAFF).status_code == 200, path


@pytest.mark.parametrize("service", SERVICES)
def test_methods_not_allowed_get_405_json_with_allow(apps: dict[str, Flask], service: str) -> None:
    client = apps[service].test_client()
    for path, operations in spec_paths(apps[service]).items():
        for method in {"get", "post", "put", "patch", "delete"} - set(operations):
            response = client.open(path, method=method.upper(), headers=STAFF, json={"status": "APPROVED"})
            refused(response, 405)
            assert set(response.headers["Allow"].lower().split(", ")) >= set(operations) - {"parameters"}, path


@pytest.mark.parametrize("service", SERVICES)
def test_unknown_routes_get_json_404(apps: dict[str, Flask], service: str) -> None:
    client = apps[service].test_client()
    for path in (f"/{service}/nope", f"/{service}/nope/{UNKNOWN}", "/nope", f"/{service}/applications/{UNKNOWN}/x"):
        refused(client.get(path, headers=STAFF), 404)


def _http_series(client: FlaskClient, service: str) -> set[tuple[str, ...]]:
    """The label sets of ``loanflow_http_requests_total`` that ``service``'s ``/metrics`` reports."""
    text = client.get(f"/{service}/metrics").get_data(as_text=True)
    return {tuple(sorted(sample.labels.items())) for family in text_string_to_metric_families(text)
            if family.name == "loanflow_http_requests" for sample in family.samples
            if sample.name == "loanflow_http_requests_total" and sample.labels["service"] == service}


@pytest.mark.parametrize("service", SERVICES)
def test_clients_cannot_add_metric_series(apps: dict[str, Flask], service: str) -> None:
    """Methods and paths a client makes up are counted under fixed labels (``other``,
    ``<unmatched>``): the first made-up request may add a series, the next hundred add none."""
    client = apps[service].test_client()
    documented = next(iter(spec_paths(apps[service])))

    def made_up(n: int) -> None:
        for method in (f"FOO{n}", f"head{n}", "PROPFIND", "head", "options"):
            client.open(documented, method=method, headers=STAFF)
        client.get(f"/{service}/random-{n}/{UNKNOWN}", headers=STAFF)
        client.open(f"/nowhere-{n}", method=f"X{n}")

    _http_series(client, service)  # the scrape is a request too: its own series exists from here
    made_up(0)
    first = _http_series(client, service)
    for n in range(1, 50):
        made_up(n)
    assert _http_series(client, service) == first
    methods = {dict(labels)["method"] for labels in first}
    endpoints = {dict(labels)["endpoint"] for labels in first}
    assert methods <= METHODS | {OTHER_METHOD} and OTHER_METHOD in methods
    rules = {rule.rule for rule in apps[service].url_map.iter_rules()}
    assert endpoints <= rules | {UNMATCHED} and UNMATCHED in endpoints


def test_nul_in_query_strings_and_headers(loan: FlaskClient) -> None:
    assert "q\ufffd" in refused(loan.get("/loan/applications?q%00=1", headers=STAFF), 422)["errors"]["query"]
    refused(loan.get("/loan/applications", headers={**STAFF, "X-Operator": "ali\x00ce"}), 400)
    refused(loan.post("/loan/dead-letters/purge", headers={**STAFF, "X-Operator": "ali\x00ce"}), 400)


def _answer(**changes: Any) -> dict[str, Any]:
    return {**ANSWERS, **changes}


INFORMATION = [
    pytest.param(422, [], None, id="list"), pytest.param(422, "64000", None, id="string"),
    pytest.param(422, 64000, None, id="number"), pytest.param(422, None, None, id="null"),
    pytest.param(422, True, None, id="boolean"), pytest.param(422, {}, None, id="empty"),
    pytest.param(422, _answer(declared_income_year_1={"amount": 64000}), "declared_income_year_1", id="object"),
    pytest.param(422, _answer(declared_income_year_1=True), "declared_income_year_1", id="true"),
    pytest.param(422, _answer(declared_income_year_1=[64000]), "declared_income_year_1", id="array"),
    pytest.param(422, _answer(declared_income_year_1=None), "declared_income_year_1", id="null-value"),
    pytest.param(422, _answer(declared_income_year_1="\u0000"), "declared_income_year_1", id="nul"),
    pytest.param(422, _answer(declared_income_year_1="1e999"), "declared_income_year_1", id="1e999"),
    pytest.param(422, _answer(declared_income_year_1="NaN"), "declared_income_year_1", id="nan"),
    pytest.param(422, _answer(declared_income_year_1="-1"), "declared_income_year_1", id="negative"),
    pytest.param(422, _answer(declared_income_year_1="64000.001"), "declared_income_year_1", id="3-decimals"),
    pytest.param(422, _answer(declared_income_year_1="x" * 1000), "declared_income_year_1", id="long"),
    pytest.param(422, {"declared_income_year_1": "64000"}, "declared_income_year_2", id="missing"),
    pytest.param(422, _answer(score=850), "score", id="unrequested-score"),
    pytest.param(422, _answer(status="APPROVED"), "status", id="unrequested-status"),
    pytest.param(422, _answer(**{f"k{i}": "1" for i in range(1000)}), "k999", id="1000-keys"),
]


@pytest.mark.parametrize(("status", "body", "field"), INFORMATION)
def test_hostile_answers_to_a_request_for_information(loan: FlaskClient, waiting: dict[str, str], status: int,
                                                      body: Any, field: str | None) -> None:
    url, rt = f"/loan/applications/{waiting['id']}/information", loan.application.extensions["loanflow.runtime"]
    staged = len(outbox(rt, waiting["id"]))
    response = refused(loan.post(url, data=json.dumps(body), content_type="application/json",
                                 headers=bearer(waiting["token"])), status)
    assert field is None or field in response["errors"]["json"]
    unchanged = queries.application(rt, waiting["id"])
    assert (unchanged.status, unchanged.information, len(outbox(rt, waiting["id"]))) == ("INFO_REQUESTED", {}, staged)


def test_answers_that_are_not_json_then_a_good_answer(loan: FlaskClient, waiting: dict[str, str]) -> None:
    url, token = f"/loan/applications/{waiting['id']}/information", bearer(waiting["token"])
    refused(loan.post(url, data="declared_income_year_1=64000", headers=token,
                      content_type="application/x-www-form-urlencoded"), 415)
    refused(loan.post(url, data=json.dumps(ANSWERS), content_type="text/plain", headers=token), 415)
    refused(loan.post(url, data="{oops", content_type="application/json", headers=token), 400)
    refused(loan.post(url, json={"declared_income_year_1": "1" * 70_000}, headers=token), 413)
    answered = loan.post(url, json=ANSWERS, headers=token)  # every refusal left it answerable
    assert answered.status_code == 200, answered.json
    assert answered.json["status"] == "DECIDING"
    refused(loan.post(url, json=ANSWERS, headers=token), 409)
