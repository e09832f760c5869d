"""Staff accounts on loan's PostgreSQL database: sign-in, the throttle, accounts, and each role
against every staff endpoint of the five services (issue "Who may do what", points 1 and 2).

Real Flask apps of every service on their own PostgreSQL test databases; tokens as
``POST /auth/token`` issues them (signed with the key every service shares).
"""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from common.identity.roles import ADMIN, OFFICER, OPERATOR, ROLES, SUPERVISOR
from common.web.applicant_access import issue_applicant_token
from loan_app import accounts
from tests.conftest import ROOT, SECRET_KEY, STAFF_TOKEN, staff_token

ADMIN_HEADERS = {"Authorization": f"Bearer {STAFF_TOKEN}"}
GOOD = "correct horse battery"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def loan(apps: dict[str, Flask]) -> FlaskClient:
    return apps["loan"].test_client()


def sign_in(loan: FlaskClient, username: str, password: str) -> Any:
    return loan.post("/auth/token", json={"username": username, "password": password})


def create(loan: FlaskClient, username: str, role: str, password: str = GOOD, headers: dict | None = None) -> Any:
    return loan.post("/auth/accounts", json={"username": username, "password": password, "role": role},
                     headers=headers or ADMIN_HEADERS)


def test_an_admin_creates_an_account_that_signs_in_with_its_role(loan: FlaskClient, apps: dict[str, Flask]) -> None:
    created = create(loan, "olga", OFFICER)
    assert created.status_code == 201, created.json
    assert created.json | {"created_at": None, "updated_at": None} == {
        "username": "olga", "role": "officer", "disabled": False, "created_by": "admin", "last_sign_in_at": None,
        "created_at": None, "updated_at": None}
    assert "password" not in created.json
    answer = sign_in(loan, "olga", GOOD)
    assert answer.status_code == 200
    assert set(answer.json) == {"access_token", "token_type", "expires_in", "role", "username"}
    assert answer.json["token_type"] == "bearer" and answer.json["expires_in"] == 900
    assert answer.json["role"] == "officer"
    token = answer.json["access_token"]
    # Every service checks the token itself: an officer reads applications and credit inquiries…
    assert apps["credit"].test_client().get("/credit/inquiries", headers=_bearer(token)).status_code != 403
    assert loan.get("/auth/me", headers=_bearer(token)).json == {"username": "olga", "role": "officer"}
    # …and may not touch dead letters.
    assert apps["decision"].test_client().get("/decision/dead-letters", headers=_bearer(token)).status_code == 403
    # The password is stored as an argon2id hash only.
    rt = apps["loan"].extensions["loanflow.runtime"]
    with rt.session_factory() as session:
        stored = session.get(accounts.StaffAccount, "olga").password_hash
    assert stored.startswith("$argon2id$") and GOOD not in stored


def test_an_unknown_user_and_a_wrong_password_get_the_same_answer(loan: FlaskClient) -> None:
    create(loan, "uma", OPERATOR)
    unknown, wrong = sign_in(loan, "nobody-here", GOOD), sign_in(loan, "uma", "not the password")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json == wrong.json == {"code": 401, "status": "Unauthorized",
                                          "message": "Wrong username or password."}
    disabled = loan.patch("/auth/accounts/uma", json={"disabled": True}, headers=ADMIN_HEADERS)
    assert disabled.status_code == 200 and disabled.json["disabled"] is True
    assert sign_in(loan, "uma", GOOD).json == unknown.json  # a disabled account: the same answer again


def test_repeated_failures_throttle_the_username_until_a_new_password(loan: FlaskClient) -> None:
    create(loan, "tom", OFFICER)
    for _ in range(5):
        assert sign_in(loan, "tom", "guess guess guess").status_code == 401
    throttled = sign_in(loan, "tom", GOOD)  # even the right password, now
    assert throttled.status_code == 429
    assert throttled.json["errors"] == {"reason": "SIGN_IN_THROTTLED"}
    assert 800 < int(throttled.headers["Retry-After"]) <= 900
    # A username that does not exist is throttled the same way: the answers tell nothing apart.
    for _ in range(5):
        sign_in(loan, "ghost", "guess guess guess")
    assert sign_in(loan, "ghost", GOOD).json["errors"] == {"reason": "SIGN_IN_THROTTLED"}
    # An admin sets a new password: the throttle is lifted and the new password works.
    assert loan.patch("/auth/accounts/tom", json={"password": "a brand new password"},
                      headers=ADMIN_HEADERS).status_code == 200
    assert sign_in(loan, "tom", "a brand new password").status_code == 200
    assert sign_in(loan, "tom", GOOD).status_code == 401


def test_failures_older_than_the_window_are_dropped_by_the_next_failure(
        loan: FlaskClient, apps: dict[str, Flask]) -> None:
    from datetime import timedelta

    from common.kernel.clock import utcnow
    from loan_app.adapters.orm import SignInFailures

    rt = apps["loan"].extensions["loanflow.runtime"]
    long_ago = utcnow() - timedelta(seconds=rt.settings.sign_in_throttle_seconds + 1)
    with rt.session_factory() as session, session.begin():
        session.add(SignInFailures(username="stale", failures=3, last_failure_at=long_ago))
        session.add(SignInFailures(username="recent", failures=2, last_failure_at=utcnow()))
    assert sign_in(loan, "someone", "guess guess guess").status_code == 401
    with rt.session_factory() as session:
        left = {row.username: row.failures for row in session.query(SignInFailures)}
    assert "stale" not in left  # other tests' recent rows may be here too
    assert (left["recent"], left["someone"]) == (2, 1)


def test_only_an_admin_manages_accounts_and_every_change_is_audited(loan: FlaskClient) -> None:
    officer = _bearer(staff_token(OFFICER, "olga"))
    assert create(loan, "eve", ADMIN, headers=officer).status_code == 403
    assert loan.get("/auth/accounts", headers=officer).status_code == 403
    assert loan.patch("/auth/accounts/admin", json={"role": "admin"}, headers=officer).status_code == 403
    applicant = _bearer(issue_applicant_token(SECRET_KEY, str(uuid.uuid4())))
    assert loan.get("/auth/accounts", headers=applicant).status_code == 403
    assert loan.get("/auth/accounts").status_code == 401
    assert create(loan, "ivan", OFFICER).status_code == 201
    assert create(loan, "ivan", OPERATOR).status_code == 409
    invalid = create(loan, "Bad Name!", "root", password="short")
    assert invalid.status_code == 422
    assert set(invalid.json["errors"]["json"]) == {"username", "password", "role"}
    promoted = loan.patch("/auth/accounts/ivan", json={"role": OPERATOR}, headers=_bearer(staff_token(ADMIN, "ada")))
    assert promoted.json["role"] == OPERATOR
    assert loan.patch("/auth/accounts/nobody", json={"role": OPERATOR}, headers=ADMIN_HEADERS).status_code == 404
    listed = [a["username"] for a in loan.get("/auth/accounts", headers=ADMIN_HEADERS).json]
    assert "ivan" in listed and listed == sorted(listed)
    trail = [(a["operator"], a["action"], a["target"], a["detail"])
             for a in loan.get("/loan/operator-actions", headers=ADMIN_HEADERS).json]
    assert trail[:2] == [("ada", "account.update", "ivan", {"role": "operator"}),
                         ("admin", "account.create", "ivan", {"role": "officer"})]


def test_the_credential_is_checked_before_the_body_or_the_query(apps: dict[str, Flask]) -> None:
    """A caller without the right token learns nothing from validation: 401 or 403 comes first,
    whatever the body or the query says (a 422 would answer a question the caller may not ask)."""
    officer = _bearer(staff_token(OFFICER, "olga"))
    loan, notify = apps["loan"].test_client(), apps["notify"].test_client()
    assert loan.post("/auth/accounts", json={}).status_code == 401
    assert loan.post("/auth/accounts", json={"role": "root"}, headers=officer).status_code == 403
    assert loan.patch("/auth/accounts/admin", json={"disabled": "maybe"}).status_code == 401
    assert loan.get("/loan/applications?status=NOPE").status_code == 401
    assert loan.post(f"/loan/applications/{uuid.uuid4()}/information", json=[1]).status_code == 401
    assert notify.get("/notify/applications?status=NOPE").status_code == 401
    for path in ("/loan/dead-letters?limit=x", "/loan/tasks?state=x", "/loan/tasks/overview?window=x"):
        assert loan.get(path).status_code == 401, path
        assert loan.get(path, headers=officer).status_code == 403, path


def test_the_command_line_adds_accounts_with_the_password_from_standard_input(
        apps: dict[str, Flask], pg_urls: dict[str, str], tmp_path: Any) -> None:
    env = {"LOAN_DATABASE_URL": pg_urls["loan"], "LOANFLOW_SECRET_KEY": SECRET_KEY, "PATH": "/usr/bin:/bin",
           "LOANFLOW_VAR_DIR": str(tmp_path)}

    def cli(*args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "common.cli", "staff", *args], input=stdin, env=env,
                              cwd=ROOT, capture_output=True, text=True, timeout=60)

    added = cli("add", "carla", "--role", "operator", stdin=f"{GOOD}\n")
    assert added.returncode == 0, added.stderr
    assert "carla (operator)" in added.stdout and GOOD not in added.stdout
    assert cli("add", "carla", "--role", "officer", stdin=f"{GOOD}\n").returncode == 1
    assert "At least 12 characters" in cli("add", "dan", "--role", "officer", stdin="short\n").stderr
    loan = apps["loan"].test_client()
    assert sign_in(loan, "carla", GOOD).json["role"] == "operator"
    # The first admin: created once, with a generated password kept in var/ when none is given.
    first = cli("ensure-admin")
    password = re.search(r"password (\S+) \(kept in", first.stdout)
    assert password, first.stdout
    assert (tmp_path / "loanflow_admin_password").read_text().strip() == password.group(1)
    assert sign_in(loan, "admin", password.group(1)).json["role"] == "admin"
    again = cli("ensure-admin")
    assert again.returncode == 0 and "the account exists" in again.stdout and password.group(1) not in again.stdout


# -- Each role against every staff endpoint of the five services ---------------------------------

#: Who may call what, by path (the first pattern that matches decides); admin may call everything.
EXPECTED_ROLES: list[tuple[str, frozenset[str]]] = [
    (r"^/auth/me$", frozenset({OFFICER, OPERATOR, SUPERVISOR})),
    (r"^/auth/accounts", frozenset()),
    (r"/dead-letters/purge$", frozenset()),
    (r"/erasure$", frozenset()),
    (r"/(dead-letters|tasks|outbox|operator-actions)", frozenset({OPERATOR})),
    (r"^/notify/live/tickets$", frozenset(ROLES)),
    (r"^/decision/policies/.+/(shadow|publish)$", frozenset()),
    (r".", frozenset({OFFICER, SUPERVISOR})),  # a supervisor may all an officer may
]
#: Where one method of a path admits other roles than the path's other methods, as
#: (method, pattern, roles), looked at before :data:`EXPECTED_ROLES`: officers list the policy
#: versions, only an admin creates one.
EXPECTED_ROLES_BY_METHOD: list[tuple[str, str, frozenset[str]]] = [
    ("post", r"^/decision/policies$", frozenset()),
]


def _admitted(method: str, path: str) -> frozenset[str]:
    for verb, pattern, roles in EXPECTED_ROLES_BY_METHOD:
        if verb == method and re.search(pattern, path):
            return roles | {ADMIN}
    roles = next(roles for pattern, roles in EXPECTED_ROLES if re.search(pattern, path))
    return roles | {ADMIN}


def _staff_operations(apps: dict[str, Flask]) -> Iterator[tuple[str, str, str, str, bool]]:
    """(service, method, path template, concrete path, takes input) of every operation that needs
    a token; ``takes input``: a body or a required query parameter, which flask-smorest checks
    (422) before the guard runs."""
    for service, app in apps.items():
        document = app.test_client().get(f"/{service}/openapi.json").json
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                if isinstance(operation, dict) and operation.get("security"):
                    concrete = re.sub(r"\{[a-z_]*id\}", str(uuid.uuid4()), path).replace("{message_id}", "m-1")
                    takes_input = "requestBody" in operation or any(
                        p.get("required") and p.get("in") == "query" for p in operation.get("parameters", []))
                    yield service, method, path, concrete.replace("{username}", "nobody"), takes_input


def test_each_role_is_admitted_exactly_where_it_may_act(apps: dict[str, Flask]) -> None:
    """Every secured operation of every service, called with each role's token: never 403 for a
    role it admits; 403 for one it does not (or 422 where the empty request is invalid anyway:
    a malformed request is refused before anyone is identified, common/web/blueprint.py)."""
    tokens = {role: _bearer(staff_token(role, f"{role}-1")) for role in ROLES}
    seen, wrong = 0, []
    for service, method, path, concrete, takes_input in _staff_operations(apps):
        client = apps[service].test_client()
        for role, headers in tokens.items():
            answer = client.open(concrete, method=method.upper(), headers=headers, json={})
            if role in _admitted(method, path):
                ok = answer.status_code != 403
            else:
                ok = answer.status_code == 403 or (takes_input and answer.status_code == 422)
            if not ok:
                wrong.append(f"{role} {method.upper()} {path}: {answer.status_code}")
        seen += 1
    assert seen > 30  # every service's staff endpoints were walked
    assert wrong == []
