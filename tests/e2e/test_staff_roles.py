"""Staff sign-in and roles on the real stack, through the gateway: REST, SSE and WebSocket.

The first admin that the stack made as ``make run-services`` does (``staff ensure-admin``)
signs in, creates an officer and an operator; each signs in with ``POST /auth/token`` (loan)
and each service, the live channels included, admits exactly the roles it names.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

import pytest
import requests
import websocket

from tests.conftest import ADMIN_PASSWORD, ADMIN_USERNAME, staff_token
from tests.e2e.conftest import Client
from tests.e2e.test_live import close_code, ws_url
from tests.support.live import live_ticket, with_ticket
from tests.support.payloads import application
from tests.support.polling import TERMINAL, eventually
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow]
PASSWORD = "a-long-password-for-roles"


def sign_in(stack: Stack, username: str, password: str) -> requests.Response:
    return requests.post(f"{stack.gateway}/auth/token", json={"username": username, "password": password}, timeout=10)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(scope="module")
def tokens(stack: Stack) -> dict[str, str]:
    """A token per role, each got by signing in through the gateway."""
    admin = sign_in(stack, ADMIN_USERNAME, ADMIN_PASSWORD)
    assert admin.status_code == 200, admin.text
    assert admin.json()["role"] == "admin" and admin.json()["token_type"] == "bearer"
    found = {"admin": admin.json()["access_token"]}
    for role in ("officer", "operator"):
        created = requests.post(f"{stack.gateway}/auth/accounts", headers=bearer(found["admin"]), timeout=10,
                                json={"username": f"roles-{role}", "password": PASSWORD, "role": role})
        assert created.status_code in (201, 409), created.text
        signed = sign_in(stack, f"roles-{role}", PASSWORD)
        assert signed.status_code == 200 and signed.json()["role"] == role, signed.text
        found[role] = signed.json()["access_token"]
    return found


def _status(stack: Stack, method: str, path: str, token: str) -> int:
    return requests.request(method, f"{stack.gateway}{path}", headers=bearer(token), timeout=10).status_code


def test_each_service_admits_the_roles_it_names(stack: Stack, tokens: dict[str, str], client: Client) -> None:
    accepted = client.submit(application())
    eventually(lambda: client.get(accepted)["status"], lambda status: status in TERMINAL, timeout=60)
    application_path = f"/loan/applications/{accepted['id']}"
    cases: list[tuple[str, str, set[str]]] = [
        ("GET", "/loan/applications", {"officer", "admin"}),
        ("GET", application_path, {"officer", "admin"}),
        ("GET", f"/credit/inquiries/{accepted['id']}", {"officer", "admin"}),
        ("GET", f"/property/valuations/{accepted['id']}", {"officer", "admin"}),
        ("GET", "/notify/applications", {"officer", "admin"}),
        ("GET", "/decision/dead-letters", {"operator", "admin"}),
        ("GET", "/property/tasks/overview", {"operator", "admin"}),
        ("GET", "/notify/operator-actions", {"operator", "admin"}),
        ("GET", "/auth/accounts", {"admin"}),
    ]
    for method, path, admitted in cases:
        for role, token in tokens.items():
            status = _status(stack, method, path, token)
            assert (status != 403) == (role in admitted), (role, method, path, status)
    # Purge and erasure are an admin's; the operator is refused before anything happens.
    assert _status(stack, "POST", "/credit/dead-letters/purge", tokens["operator"]) == 403
    assert _status(stack, "POST", f"{application_path}/erasure", tokens["officer"]) == 403


def test_the_live_channels_admit_officers_and_refuse_operators(stack: Stack, tokens: dict[str, str]) -> None:
    # SSE: the staff stream, by a ticket of each role (the ticket carries its holder's role).
    for role, expected in (("officer", 200), ("admin", 200), ("operator", 403)):
        path = with_ticket(stack.gateway, "/notify/events", tokens[role])
        with requests.get(stack.gateway + path, stream=True, timeout=10,
                          headers={"Accept": "text/event-stream"}) as answer:
            assert answer.status_code == expected, (role, answer.status_code)
    # WebSocket: an operator's ticket is closed with 4403, an officer's receives the snapshot.
    refused = websocket.create_connection(ws_url(stack, "/notify/ws", tokens["operator"]), timeout=10)
    assert close_code(refused) == 4403
    opened = websocket.create_connection(ws_url(stack, "/notify/ws", tokens["officer"]), timeout=10)
    try:
        assert opened.recv()  # the snapshot comes first
    finally:
        opened.close()
    # A ticket opens one channel once, whoever holds it.
    ticket = live_ticket(stack.gateway, tokens["officer"])
    first = requests.get(f"{stack.gateway}/notify/events?ticket={ticket}", stream=True, timeout=10)
    first.close()
    again = requests.get(f"{stack.gateway}/notify/events?ticket={ticket}", timeout=10)
    assert again.status_code == 401 and again.json()["errors"]["reason"] == "TICKET_USED"


def test_an_expired_staff_token_is_told_apart_from_a_wrong_one(stack: Stack) -> None:
    expired = staff_token("officer", "olga", lifetime=timedelta(seconds=1))
    time.sleep(2)
    for path in ("/loan/applications", "/notify/live/tickets"):
        method = "POST" if path.endswith("tickets") else "GET"
        answer = requests.request(method, f"{stack.gateway}{path}", headers=bearer(expired), timeout=10)
        assert answer.status_code == 401 and answer.json()["errors"]["reason"] == "TOKEN_EXPIRED", answer.text
    forged = requests.get(f"{stack.gateway}/loan/applications", headers=bearer(expired[:-4] + "AAAA"), timeout=10)
    assert forged.status_code == 401 and "errors" not in forged.json()


def test_the_audit_names_who_signed_in(stack: Stack, tokens: dict[str, str]) -> None:
    created = requests.post(f"{stack.gateway}/auth/accounts", headers=bearer(tokens["admin"]), timeout=10,
                            json={"username": f"audited-{int(time.time())}", "password": PASSWORD, "role": "officer"})
    assert created.status_code == 201
    trail: list[dict[str, Any]] = requests.get(f"{stack.gateway}/loan/operator-actions", timeout=10,
                                               headers=bearer(tokens["admin"])).json()
    mine = [a for a in trail if a["target"] == created.json()["username"]]
    assert [(a["operator"], a["action"]) for a in mine] == [("admin", "account.create")]
