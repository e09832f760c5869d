"""Hostile bodies for ``POST /loan/applications``: always a clear 4xx, never a 500, never a row.

Every rejected request must answer JSON in the common error format (``code`` equal to the
status, and for 422 the offending field named) and leave the ``applications`` and ``outbox``
tables exactly as they were: a refusal that wrote half an application, or staged its events,
would start a saga for an application nobody can see. The other endpoints and services are swept
in ``test_hostile_requests.py``.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import text

from common.service.entrypoints import web_app
from tests.conftest import STAFF_TOKEN, make_settings
from tests.support.databases import truncate_all
from tests.support.payloads import BASE, application

URL = "/loan/applications"
NUMBERS = [("applicant", "monthly_income"), ("applicant", "monthly_debts"), ("property", "surface_m2"),
           ("property", "price"), ("loan", "amount"), ("loan", "duration_months")]
STRINGS = [(section, name) for section, fields in BASE.items() for name in fields if (section, name) not in NUMBERS]
EVERY_FIELD = NUMBERS + STRINGS
NOT_A_NUMBER = [{}, [], [1], True, False, None, "abc", "", "1,5", "NaN", "Infinity", "-Infinity", "0x10", "1e999"]
NOT_A_STRING = [{}, [], ["x"], True, None, 42, 1.5]
TEXTS = [("applicant", "full_name", 200), ("property", "address", 300), ("property", "city", 100)]
MASS_ASSIGNMENT = ["id", "status", "score", "access_token"]


@pytest.fixture(scope="module")
def client(pg_urls: dict[str, str]) -> Iterator[FlaskClient]:
    truncate_all("loan", pg_urls["loan"])
    app = web_app("loan", make_settings("loan", pg_urls["loan"]))
    yield app.test_client()
    app.extensions["loanflow.runtime"].dispose()


def rows(client: FlaskClient) -> tuple[int, int]:
    """How many rows ``applications`` and ``outbox`` hold."""
    with client.application.extensions["loanflow.runtime"].session_factory() as session:
        return (session.scalar(text("SELECT count(*) FROM applications")),
                session.scalar(text("SELECT count(*) FROM outbox")))


def refused(client: FlaskClient, status: int, **request: Any) -> dict[str, Any]:
    """POST, assert a JSON ``status`` answer in the common format and nothing written; the body."""
    before = rows(client)
    response = client.post(URL, **request)
    assert response.status_code == status, response.get_data(as_text=True)[:500]
    assert response.is_json and response.json["code"] == status, response.get_data(as_text=True)[:500]
    assert rows(client) == before, "a refused application left rows behind"
    return response.json


def field_errors(client: FlaskClient, body: Any, section: str, name: str) -> list[str]:
    """Submit ``body``; it must be refused with a 422 naming ``section.name``; the messages."""
    errors = refused(client, 422, json=body)["errors"]["json"]
    assert name in errors.get(section, {}), errors
    return errors[section][name]


def replaced(section: str, name: str, value: Any) -> dict[str, Any]:
    body = copy.deepcopy(BASE)
    body[section][name] = value
    return body


def without(section: str, name: str | None = None) -> dict[str, Any]:
    body = copy.deepcopy(BASE)
    (body if name is None else body[section]).pop(name or section)
    return body


@pytest.mark.parametrize("value", NOT_A_NUMBER, ids=repr)
@pytest.mark.parametrize(("section", "name"), NUMBERS)
def test_numbers_of_the_wrong_type(client: FlaskClient, section: str, name: str, value: Any) -> None:
    field_errors(client, replaced(section, name, value), section, name)


@pytest.mark.parametrize("value", NOT_A_STRING, ids=repr)
@pytest.mark.parametrize(("section", "name"), STRINGS)
def test_strings_of_the_wrong_type(client: FlaskClient, section: str, name: str, value: Any) -> None:
    field_errors(client, replaced(section, name, value), section, name)


@pytest.mark.parametrize(("section", "name"), EVERY_FIELD)
def test_every_missing_field_is_named(client: FlaskClient, section: str, name: str) -> None:
    assert field_errors(client, without(section, name), section, name) == ["Missing data for required field."]


@pytest.mark.parametrize("section", list(BASE))
def test_missing_or_null_sections(client: FlaskClient, section: str) -> None:
    assert section in refused(client, 422, json=without(section))["errors"]["json"]
    assert section in refused(client, 422, json={**BASE, section: None})["errors"]["json"]
    assert section in refused(client, 422, json={**BASE, section: [BASE[section]]})["errors"]["json"]


@pytest.mark.parametrize("key", MASS_ASSIGNMENT)
@pytest.mark.parametrize("level", [None, *BASE])
def test_mass_assignment_is_refused_at_every_level(client: FlaskClient, level: str | None, key: str) -> None:
    body = copy.deepcopy(BASE)
    (body if level is None else body[level])[key] = "APPROVED"
    errors = refused(client, 422, json=body)["errors"]["json"]
    assert key in (errors if level is None else errors[level])


@pytest.mark.parametrize(
    ("section", "name", "value"),
    [
        ("loan", "amount", "-5"), ("loan", "amount", 0), ("loan", "amount", "-0"), ("loan", "amount", 999.99),
        ("loan", "amount", 1e308), ("loan", "amount", "100000000.01"), ("loan", "amount", "200000.001"),
        ("loan", "amount", "1E+9"), ("loan", "duration_months", 0), ("loan", "duration_months", -12),
        ("loan", "duration_months", 240.5), ("loan", "duration_months", "240"), ("loan", "duration_months", 10**30),
        ("property", "price", 0), ("property", "price", -1), ("property", "surface_m2", 4.99),
        ("property", "surface_m2", "75.123"), ("applicant", "monthly_income", "-0.01"),
        ("applicant", "monthly_income", "5200.005"), ("applicant", "monthly_debts", 1e-9),
    ],
)
def test_absurd_amounts(client: FlaskClient, section: str, name: str, value: Any) -> None:
    field_errors(client, replaced(section, name, value), section, name)


def test_amounts_are_kept_to_the_cent_never_rounded(client: FlaskClient) -> None:
    assert field_errors(client, replaced("loan", "amount", "200000.999"), "loan", "amount") == [
        "At most two decimal places."]
    body = application(applicant={"monthly_debts": "-0", "monthly_income": 5200.1},
                       loan={"amount": "2E+5"}, property={"price": "340000.500"})
    stored = accepted(client, body)
    assert stored["applicant"]["monthly_debts"] == "0.00"  # -0 is zero, not "-0.00"
    assert stored["applicant"]["monthly_income"] == "5200.10"
    assert stored["property"]["price"] == "340000.50"  # a trailing zero is not a third decimal
    assert stored["loan"]["amount"] == "200000.00"


def _years_ago(years: int) -> str:
    today = date.today()
    return today.replace(year=today.year - years, day=min(today.day, 28)).isoformat()


@pytest.mark.parametrize("value", ["2999-01-01", date.today().isoformat(), _years_ago(17), "1800-01-01",
                                   "0001-01-01", "2020-02-30", "1992-13-01", "1992-04-15T00:00:00", "15/04/1992",
                                   "99999-01-01", "", 19920415])
def test_impossible_birth_dates(client: FlaskClient, value: Any) -> None:
    field_errors(client, replaced("applicant", "birth_date", value), "applicant", "birth_date")


@pytest.mark.parametrize(("section", "name", "value"), [
    ("applicant", "employment_status", "PERMANENT"), ("applicant", "employment_status", "pirate"),
    ("applicant", "language", "de"), ("applicant", "language", "EN"), ("property", "kind", "castle"),
    ("property", "kind", "Apartment"), ("property", "postcode", "6900"), ("property", "postcode", "٦٩٠٠٢"),
    ("applicant", "email", "not-an-email"), ("applicant", "email", "a" * 250 + "@x.fr"),
])
def test_unknown_enum_values_and_formats(client: FlaskClient, section: str, name: str, value: str) -> None:
    field_errors(client, replaced(section, name, value), section, name)


@pytest.mark.parametrize("value", ["\u0000", "Ali\u0000ce", "\ud800", "Ali\udfffce"], ids=repr)
@pytest.mark.parametrize(("section", "name"), [*STRINGS, ("applicant", "language")])
def test_nul_and_unpaired_surrogates_never_reach_postgresql(client: FlaskClient, section: str, name: str,
                                                            value: str) -> None:
    assert field_errors(client, replaced(section, name, value), section, name) == [
        "Must not contain NUL characters or unpaired surrogates."]


def test_nul_in_a_key_or_deep_inside_is_refused_too(client: FlaskClient) -> None:
    assert "full\ufffdname" in refused(client, 422, json=replaced("applicant", "full\u0000name", "x")
                                       )["errors"]["json"]["applicant"]
    assert refused(client, 422, json="\u0000")["errors"]["json"] == {
        "_schema": ["Must not contain NUL characters or unpaired surrogates."]}


@pytest.mark.parametrize("value", ["\u202eecnalA", "Al\u202dice", "Al\u2066ice\u2069", "Al\u200bice", "\ufeffAlice",
                                   "Alice\nBob", "Alice\tBob", "\x1b[31mAlice", "Alice\x7f", "Alice\x85"], ids=repr)
@pytest.mark.parametrize(("section", "name", "limit"), TEXTS)
def test_hidden_and_control_characters_in_text(client: FlaskClient, section: str, name: str, limit: int,
                                               value: str) -> None:
    field_errors(client, replaced(section, name, value), section, name)


@pytest.mark.parametrize("value", ["Zoë 🏠", "محمد علي", "\u200fשרה לוי", "می\u200cخواهم", "Zoe\u0308", "李小龙",
                                   "O'Brien-Żółć"])
def test_real_names_in_any_script_are_kept_exactly(client: FlaskClient, value: str) -> None:
    body = application(applicant={"full_name": value}, property={"city": value, "address": value})
    stored = accepted(client, body)
    assert (stored["applicant"]["full_name"], stored["property"]["city"], stored["property"]["address"]) == (
        value, value, value)


@pytest.mark.parametrize(("section", "name", "limit"), TEXTS)
def test_long_strings(client: FlaskClient, section: str, name: str, limit: int) -> None:
    field_errors(client, replaced(section, name, "x" * (limit + 1)), section, name)
    field_errors(client, replaced(section, name, "x" * 60_000), section, name)  # just under the 64 KiB limit
    assert accepted(client, replaced(section, name, "x" * limit))[section][name] == "x" * limit


def test_huge_bodies_get_413(client: FlaskClient) -> None:
    refused(client, 413, json=replaced("applicant", "full_name", "x" * 70_000))
    refused(client, 413, data="[" * 200_000, content_type="application/json")


@pytest.mark.parametrize("raw", [b"{not json", b"{", b'{"loan": 1,}', b"{'loan': 1}", b'{"a": "\xff"}',
                                 b"\xef\xbb\xbf{}", b"[" * 30_000 + b"]" * 30_000, b'{"a":' * 40 + b"1" + b"}" * 40,
                                 b'{"loan": {"duration_months": ' + b"9" * 5000 + b"}}"],
                         ids=["syntax", "truncated", "trailing-comma", "single-quotes", "not-utf8", "bom",
                              "deep-30000", "deep-40", "5000-digits"])
def test_invalid_json_gets_400(client: FlaskClient, raw: bytes) -> None:
    body = refused(client, 400, data=raw, content_type="application/json")
    assert body["errors"]["json"]


@pytest.mark.parametrize("document", [[], [BASE], "application", 42, 1.5, None, True, {}])
def test_json_that_is_not_an_application_gets_422(client: FlaskClient, document: Any) -> None:
    refused(client, 422, data=json.dumps(document), content_type="application/json")


@pytest.mark.parametrize(("data", "content_type"), [
    (json.dumps(BASE), "text/plain"), (json.dumps(BASE), "application/x-www-form-urlencoded"),
    ("applicant=x", "application/x-www-form-urlencoded"), (json.dumps(BASE), "application/xml"),
    (json.dumps(BASE), None), ({"applicant": "x"}, "multipart/form-data"),
])
def test_bodies_that_are_not_json_get_415(client: FlaskClient, data: Any, content_type: str | None) -> None:
    message = refused(client, 415, data=data, content_type=content_type)["message"]
    assert "application/json" in message


def test_json_with_a_charset_parameter_is_json(client: FlaskClient) -> None:
    response = client.post(URL, data=json.dumps(BASE), content_type="application/json; charset=utf-8")
    assert response.status_code == 202, response.json


def accepted(client: FlaskClient, body: dict[str, Any]) -> dict[str, Any]:
    """Submit ``body``: it must be accepted; what staff then read back of it."""
    response = client.post(URL, json=body)
    assert response.status_code == 202, response.json
    return client.get(response.headers["Location"], headers={"Authorization": f"Bearer {STAFF_TOKEN}"}).json
