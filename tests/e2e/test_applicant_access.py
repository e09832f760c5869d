"""Applicant tokens and live tickets end to end: REST, SSE and WebSocket through the gateway.

The real stack (gunicorn, two notify workers, RabbitMQ, PostgreSQL, the SMTP catcher): a token
re-issued to the applicant's address arrives by e-mail and opens every channel while the old one
is refused everywhere; revoked and expired tokens get ``401`` with their reason on every channel;
a live ticket opens one stream once, whichever notify worker it reaches. Expired tokens and
tickets are made with a clock (signed as if issued long ago) instead of waiting for them.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from typing import Any

import pytest
import requests
import websocket

from common.kernel.clock import utcnow
from common.messaging.outbox import new_id
from common.web.applicant_access import issue_applicant_token
from common.web.auth import Caller
from notify_app.live import tickets
from tests.conftest import SECRET_KEY, STAFF_TOKEN
from tests.e2e.conftest import Client
from tests.e2e.test_documents_and_emails import mails_for
from tests.e2e.test_live import ws_url
from tests.support.live import live_ticket, with_ticket
from tests.support.payloads import application
from tests.support.polling import eventually
from tests.support.smtp import received
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow]
STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def waiting(client: Client, email: str = "alice@example.org") -> dict[str, Any]:
    """An application waiting for information: its streams stay open."""
    accepted = client.submit(application(applicant={"employment_status": "self_employed", "email": email}))
    client.wait_for(accepted, {"INFO_REQUESTED"})
    return accepted


def close_frame(ws: websocket.WebSocket) -> tuple[int, str]:
    """The code and reason of the server's close frame (data frames before it skipped)."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big"), data[2:].decode()


def first_status(ws: websocket.WebSocket) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv())
        if message["type"] == "status":
            return message


class Channels:
    """Every way an applicant reaches their application, with one token."""

    def __init__(self, stack: Stack, application_id: str, token: str) -> None:
        self.stack, self.id, self.token = stack, application_id, token

    def loan(self) -> requests.Response:
        return requests.get(f"{self.stack.gateway}/loan/applications/{self.id}", headers=bearer(self.token), timeout=10)

    def notifications(self) -> requests.Response:
        return requests.get(f"{self.stack.gateway}/notify/applications/{self.id}/notifications",
                            headers=bearer(self.token), timeout=10)

    def ticket(self) -> requests.Response:
        return requests.post(f"{self.stack.gateway}/notify/live/tickets", headers=bearer(self.token), timeout=10)

    def sse(self) -> requests.Response:
        """The stream opened with the token as a header (what a client that can set one does)."""
        return requests.get(f"{self.stack.gateway}/notify/applications/{self.id}/events",
                            headers={**bearer(self.token), "Accept": "text/event-stream"}, stream=True, timeout=10)

    def websocket(self) -> websocket.WebSocket:
        return websocket.create_connection(ws_url(self.stack, f"/notify/ws/applications/{self.id}"), timeout=10,
                                           header=[f"Authorization: Bearer {self.token}"])

    def refused_everywhere(self, reason: str) -> None:
        for name in ("loan", "notifications", "ticket", "sse"):
            with getattr(self, name)() as answer:
                assert answer.status_code == 401, (name, answer.status_code, answer.text)
                assert answer.json()["errors"] == {"reason": reason}, (name, answer.text)
                assert answer.json()["message"], name
        code, why = close_frame(self.websocket())
        assert (code, why.split(":")[0]) == (4401, reason), why

    def open_everywhere(self) -> None:
        assert self.loan().status_code == 200
        assert self.notifications().status_code == 200
        path = with_ticket(self.stack.gateway, f"/notify/applications/{self.id}/events", self.token)
        with requests.get(self.stack.gateway + path, stream=True, timeout=10) as stream:
            assert stream.status_code == 200
            assert next(line for line in stream.iter_lines() if line.startswith(b"event:")) == b"event: status"
        ws = websocket.create_connection(
            ws_url(self.stack, f"/notify/ws/applications/{self.id}", self.token), timeout=10)
        assert first_status(ws)["application_id"] == self.id
        ws.close()


def notify_refuses(channels: Channels, reason: str) -> None:
    """notify learns a revocation from loan's event: within a second or so."""
    answer = eventually(channels.notifications, lambda r: r.status_code == 401, timeout=15)
    assert answer.status_code == 401 and answer.json()["errors"] == {"reason": reason}


def test_a_token_reissued_by_email_opens_every_channel_and_retires_the_old_one(client: Client,
                                                                                stack: Stack) -> None:
    address = f"reissue-{new_id()[:8]}@example.org"
    accepted = waiting(client, address)
    old = Channels(stack, accepted["id"], accepted["access_token"])
    ask = f"{stack.gateway}/loan/applications/{accepted['id']}/access-token"
    wrong = requests.post(ask, json={"email": "mallory@example.org"}, timeout=10)
    unknown = requests.post(f"{stack.gateway}/loan/applications/{new_id()}/access-token", json={"email": address},
                            timeout=10)
    right = requests.post(ask, json={"email": address.upper()}, timeout=10)
    assert wrong.status_code == unknown.status_code == right.status_code == 202
    assert wrong.json() == unknown.json() == right.json()  # nothing tells them apart

    mails = [m for m in mails_for(stack, accepted["id"], 2) if ".access-" in str(m["Message-ID"])]
    assert len(mails) == 1 and mails[0]["To"] == address  # the status e-mail, and the one token
    text = mails[0].get_body(("plain",)).get_content()
    link = next(line for line in text.splitlines() if f"/notify/track/{accepted['id']}#token=" in line)
    assert "?" not in link  # the token is in the fragment, never sent to a server
    new = Channels(stack, accepted["id"], link.split("#token=", 1)[1])
    new.open_everywhere()

    assert old.loan().json()["errors"] == {"reason": "TOKEN_REVOKED"}  # loan: at once
    notify_refuses(old, "TOKEN_REVOKED")
    old.refused_everywhere("TOKEN_REVOKED")
    assert [m for m in received(stack.maildir) if m["To"] == "mallory@example.org"] == []


def test_revoked_tokens_and_their_tickets_are_refused_on_every_channel(client: Client, stack: Stack) -> None:
    accepted = waiting(client)
    channels = Channels(stack, accepted["id"], accepted["access_token"])
    channels.open_everywhere()
    ticket = live_ticket(stack.gateway, accepted["access_token"])  # taken before the revocation
    revoked = requests.post(f"{stack.gateway}/loan/applications/{accepted['id']}/access-token/revoke",
                            headers=bearer(accepted["access_token"]), timeout=10)
    assert revoked.status_code == 204
    notify_refuses(channels, "TOKEN_REVOKED")
    channels.refused_everywhere("TOKEN_REVOKED")
    late = requests.get(f"{stack.gateway}/notify/applications/{accepted['id']}/events", params={"ticket": ticket},
                        timeout=10)
    assert late.status_code == 401 and late.json()["errors"] == {"reason": "TOKEN_REVOKED"}
    assert requests.get(f"{stack.gateway}/loan/applications/{accepted['id']}", headers=STAFF,
                        timeout=10).status_code == 200  # staff still read it

    other = waiting(client)  # staff revoke too
    assert requests.post(f"{stack.gateway}/loan/applications/{other['id']}/access-token/revoke", headers=STAFF,
                         timeout=10).status_code == 204
    notify_refuses(Channels(stack, other["id"], other["access_token"]), "TOKEN_REVOKED")
    Channels(stack, other["id"], other["access_token"]).refused_everywhere("TOKEN_REVOKED")


def test_an_expired_token_is_refused_on_every_channel_with_its_reason(client: Client, stack: Stack) -> None:
    accepted = waiting(client)
    issued_long_ago = issue_applicant_token(SECRET_KEY, accepted["id"], 1, utcnow() - timedelta(days=91))
    Channels(stack, accepted["id"], issued_long_ago).refused_everywhere("TOKEN_EXPIRED")
    nearly = issue_applicant_token(SECRET_KEY, accepted["id"], 1, utcnow() - timedelta(days=89))
    Channels(stack, accepted["id"], nearly).open_everywhere()


def test_a_ticket_opens_one_stream_once_whichever_worker_it_reaches(client: Client, stack: Stack) -> None:
    accepted = waiting(client)
    path = f"/notify/applications/{accepted['id']}/events"
    for _ in range(6):  # notify_web runs two workers: the second use lands on either
        ticket = live_ticket(stack.gateway, accepted["access_token"])
        with requests.get(f"{stack.gateway}{path}", params={"ticket": ticket}, stream=True, timeout=10) as first:
            assert first.status_code == 200
            again = requests.get(f"{stack.gateway}{path}", params={"ticket": ticket}, timeout=10)
            assert again.status_code == 401 and again.json()["errors"] == {"reason": "TICKET_USED"}
            ws = websocket.create_connection(ws_url(stack, f"/notify/ws/applications/{accepted['id']}?ticket={ticket}"),
                                             timeout=10)
            code, why = close_frame(ws)
            assert (code, why.split(":")[0]) == (4401, "TICKET_USED")

    ticket = live_ticket(stack.gateway, STAFF_TOKEN)
    ws = websocket.create_connection(ws_url(stack, f"/notify/ws?ticket={ticket}"), timeout=10)
    assert json.loads(ws.recv())["type"] in {"snapshot", "status", "heartbeat"}
    ws.close()
    code, why = close_frame(websocket.create_connection(ws_url(stack, f"/notify/ws?ticket={ticket}"), timeout=10))
    assert (code, why.split(":")[0]) == (4401, "TICKET_USED")


def test_an_expired_or_foreign_ticket_opens_nothing(client: Client, stack: Stack) -> None:
    mine, theirs = waiting(client), waiting(client)
    holder = Caller(staff=False, application_id=mine["id"], generation=1, issued_at=int(time.time()))
    late = tickets.issue(SECRET_KEY, holder, utcnow() - timedelta(seconds=31))
    stream = requests.get(f"{stack.gateway}/notify/applications/{mine['id']}/events", params={"ticket": late},
                          timeout=10)
    assert stream.status_code == 401 and stream.json()["errors"] == {"reason": "TICKET_EXPIRED"}
    code, why = close_frame(websocket.create_connection(
        ws_url(stack, f"/notify/ws/applications/{mine['id']}?ticket={late}"), timeout=10))
    assert (code, why.split(":")[0]) == (4401, "TICKET_EXPIRED")

    foreign = requests.get(stack.gateway + with_ticket(stack.gateway, f"/notify/applications/{theirs['id']}/events",
                                                       mine["access_token"]), timeout=10)
    assert foreign.status_code == 404
    ws = websocket.create_connection(ws_url(stack, f"/notify/ws/applications/{theirs['id']}", mine["access_token"]),
                                     timeout=10)
    assert close_frame(ws)[0] == 4404
    code, _ = close_frame(websocket.create_connection(ws_url(stack, "/notify/ws", mine["access_token"]), timeout=10))
    assert code == 4401  # an applicant's ticket is no staff ticket
