"""Live channels under abuse, with real clients through the gateway, against gunicorn processes.

Every exit of a live endpoint releases its slot (``loanflow_live_connections`` reads it), ``HEAD``
holds none, and one token or one client address cannot take every slot of a process. notify_web
runs two workers: a client's streams spread over both, so each cap is reached somewhere between
one and two times its value.
"""

from __future__ import annotations

import contextlib
import json
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests
import websocket
from prometheus_client.parser import text_string_to_metric_families

from common.identity.roles import OFFICER
from common.kernel.settings import Settings
from tests.conftest import STAFF_TOKEN, staff_token
from tests.e2e.conftest import Client
from tests.e2e.test_live import read_until, sse, ws_url
from tests.support.live import with_ticket
from tests.support.payloads import application
from tests.support.polling import eventually
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow]
WORKERS = 2  # notify_web's gunicorn workers (Procfile)
PER_PROCESS, PER_TOKEN, PER_ADDRESS = (Settings.max_live_connections, Settings.max_live_per_token,
                                       Settings.max_live_per_address)
STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}


def live_gauge(stack: Stack) -> dict[str, float]:
    """``loanflow_live_connections`` of notify, summed over its processes, per channel."""
    text = requests.get(f"{stack.service('notify')}/notify/metrics", timeout=5).text
    return {sample.labels["channel"]: sample.value for family in text_string_to_metric_families(text)
            if family.name == "loanflow_live_connections" for sample in family.samples}


def all_released(stack: Stack, timeout: float = 30) -> dict[str, float]:
    return eventually(lambda: live_gauge(stack), lambda gauge: not any(gauge.values()), timeout=timeout)


def waiting(client: Client) -> dict[str, Any]:
    """An application waiting for the applicant's information: its stream stays open."""
    accepted = client.submit(application(applicant={"employment_status": "self_employed"}))
    client.wait_for(accepted, {"INFO_REQUESTED"})
    return accepted


@contextlib.contextmanager
def opened(urls_and_headers: list[tuple[str, dict[str, str]]]) -> Iterator[list[requests.Response]]:
    """SSE requests held open (their headers read), all closed on exit."""
    responses: list[requests.Response] = []
    try:
        for url, headers in urls_and_headers:
            responses.append(requests.get(url, headers=headers, stream=True, timeout=30))
        yield responses
    finally:
        for response in responses:
            response.close()


def first_frame(ws: websocket.WebSocket) -> int | None:
    """The close code if the server's first frame closes the socket; ``None`` if it sent data."""
    opcode, data = ws.recv_data(control_frame=True)
    return int.from_bytes(data[:2], "big") if opcode == websocket.ABNF.OPCODE_CLOSE else None


def test_head_holds_no_slot_and_a_get_still_streams(client: Client, stack: Stack) -> None:
    """The issue: 94 HEADs with one applicant's token took every slot of notify for good."""
    accepted = waiting(client)
    path = f"/notify/applications/{accepted['id']}/events"
    with requests.Session() as http:
        for _ in range(WORKERS * PER_PROCESS + 2):
            head = http.head(stack.gateway + with_ticket(stack.gateway, path, accepted["access_token"]), timeout=10)
            assert head.status_code == 200, head.status_code
            assert head.headers["Content-Type"].startswith("text/event-stream") and not head.content
        assert http.head(f"{stack.gateway}/notify/events", headers=STAFF, timeout=10).status_code == 200
        assert http.head(stack.gateway + path, timeout=10).status_code == 401
        assert http.head(stack.gateway + path, params={"token": accepted["access_token"]}, timeout=10
                         ).status_code == 401  # a token in the URL opens nothing
    assert not any(all_released(stack).values())
    assert [e.event for e in read_until(sse(stack, accepted), "INFO_REQUESTED")][-1] == "status"


def test_one_token_cannot_take_every_slot(client: Client, stack: Stack) -> None:
    accepted = waiting(client)
    path = f"/notify/applications/{accepted['id']}/events"
    urls = [stack.gateway + with_ticket(stack.gateway, path, accepted["access_token"])
            for _ in range(WORKERS * PER_TOKEN + 1)]  # a ticket each: the cap counts the token behind them
    with opened([(url, {}) for url in urls]) as responses:
        refused = [r for r in responses if r.status_code == 429]
        assert refused and {r.status_code for r in responses} == {200, 429}
        assert refused[0].json()["code"] == 429 and "token" in refused[0].json()["message"]
        assert refused[0].headers["Retry-After"].isdigit()
        other = waiting(client)  # another applicant is not held back by this one
        read_until(sse(stack, other), "INFO_REQUESTED")
    all_released(stack)
    read_until(sse(stack, accepted), "INFO_REQUESTED")


def test_one_address_cannot_take_every_slot_whatever_x_forwarded_for_says(client: Client, stack: Stack) -> None:
    """The address cap holds, and a client cannot escape it by sending its own ``X-Forwarded-For``:
    only the gateway's hop counts. Each stream is a different staff member's, so that the cap
    per person (the token cap) is never the one that refuses."""
    client.submit(application())  # the staff snapshot is not empty: an accepted socket sends data
    tokens = [staff_token(OFFICER, f"officer-{n}") for n in range(WORKERS * PER_ADDRESS + 1)]
    spoofed = [{"Authorization": f"Bearer {token}", "X-Forwarded-For": f"203.0.113.{n}"}
               for n, token in enumerate(tokens)]
    with opened([(f"{stack.gateway}/notify/events", headers) for headers in spoofed]) as responses:
        assert 429 in {r.status_code for r in responses}
        assert "address" in next(r for r in responses if r.status_code == 429).json()["message"]
    all_released(stack)
    sockets = [websocket.create_connection(ws_url(stack, "/notify/ws", token), timeout=30,
                                           header=[f"X-Forwarded-For: {headers['X-Forwarded-For']}"])
               for token, headers in zip(tokens, spoofed, strict=True)]
    try:
        codes = [first_frame(ws) for ws in sockets]
    finally:
        for ws in sockets:
            ws.close()
    assert 4429 in codes and set(codes) <= {None, 4429}, codes
    all_released(stack)


def test_applicant_websocket_ends_after_the_final_status(client: Client, stack: Stack) -> None:
    accepted = client.submit(application())
    path = f"/notify/ws/applications/{accepted['id']}"
    ws = websocket.create_connection(ws_url(stack, path, accepted["access_token"]), timeout=30)
    statuses: list[str] = []
    while "APPROVED" not in statuses:
        opcode, data = ws.recv_data(control_frame=True)
        assert opcode == websocket.ABNF.OPCODE_TEXT, (opcode, data, statuses)
        if b'"type": "status"' in data:
            statuses.append(json.loads(data)["status"])
    assert first_frame(ws) == 1000  # at once, as the SSE stream: nothing can follow a final status
    done = websocket.create_connection(ws_url(stack, f"{path}?last_event_id=4", accepted["access_token"]), timeout=30)
    assert first_frame(done) == 1000  # nothing left: closed at once, no frame before
    assert not any(all_released(stack).values())


def _abandon(stack: Stack, request: bytes) -> None:
    """Send a request on a raw connection to the gateway and leave before any answer."""
    parts = urlsplit(stack.gateway)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as raw:
        raw.sendall(request)


def test_an_attack_of_heads_gets_and_abandoned_requests_leaves_every_slot_free(client: Client,
                                                                               stack: Stack) -> None:
    """Whatever the way a client leaves, its slot comes back; released by the probe of the
    client's socket, so within a few seconds, well before a 15 s heartbeat would notice."""
    accepted = waiting(client)
    stream = f"/notify/applications/{accepted['id']}/events"
    host = urlsplit(stack.gateway).netloc

    def path() -> str:
        return with_ticket(stack.gateway, stream, accepted["access_token"])

    for _ in range(20):
        assert requests.head(stack.gateway + path(), timeout=10).status_code == 200
        with requests.get(stack.gateway + path(), stream=True, timeout=10) as response:
            assert response.status_code in (200, 429)
            if response.status_code == 200:
                next(response.iter_content(chunk_size=1))  # the first byte, then leave
        _abandon(stack, f"GET {path()} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        _abandon(stack, f"GET /notify/events HTTP/1.1\r\nHost: {host}\r\n"
                        f"Authorization: Bearer {STAFF_TOKEN}\r\n\r\n".encode())
        ws = websocket.create_connection(ws_url(stack, "/notify/ws", STAFF_TOKEN), timeout=10)
        ws.sock.close()  # gone without a close frame
    assert not any(all_released(stack, timeout=10).values())
    with requests.get(f"{stack.gateway}/notify/events", headers=STAFF, stream=True, timeout=10) as staff:
        assert staff.status_code == 200 and next(staff.iter_lines()) == b"retry: 2000"
