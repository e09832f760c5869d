"""Live channels with real clients (SSE and WebSocket) against gunicorn processes, via the gateway.

notify_web runs two gunicorn workers, so connections land on different processes: every one of
them must receive every change.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import sseclient
import websocket

from tests.conftest import STAFF_TOKEN
from tests.e2e.conftest import Client
from tests.support.live import with_ticket
from tests.support.payloads import application
from tests.support.stack import Stack

pytestmark = [pytest.mark.slow]
FINAL = ["SUBMITTED", "EVALUATING", "DECIDING", "APPROVED"]


def sse(stack: Stack, accepted: dict[str, Any], last_event_id: str | None = None) -> Iterator[Any]:
    """The events of an application's stream (one generator per connection), opened with a ticket."""
    headers = {"Accept": "text/event-stream"}
    if last_event_id:
        headers["Last-Event-ID"] = last_event_id
    path = with_ticket(stack.gateway, f"/notify/applications/{accepted['id']}/events", accepted["access_token"])
    response = requests.get(stack.gateway + path, headers=headers, stream=True, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    return sseclient.SSEClient(response).events()


def read_until(stream: Iterator[Any], status: str) -> list[Any]:
    events = []
    for event in stream:
        if event.event != "status":
            continue
        events.append(event)
        if json.loads(event.data)["status"] == status:
            return events
    raise AssertionError("stream ended")


def close_code(ws: websocket.WebSocket) -> int:
    """The code of the close frame the server sends (data frames before it are skipped)."""
    while True:
        opcode, data = ws.recv_data(control_frame=True)
        if opcode == websocket.ABNF.OPCODE_CLOSE:
            return int.from_bytes(data[:2], "big")


def ws_url(stack: Stack, path: str, token: str | None = None) -> str:
    """The WebSocket URL of ``path``; with ``token``, opened by a fresh ticket of its holder."""
    return stack.gateway.replace("http", "ws", 1) + (with_ticket(stack.gateway, path, token) if token else path)


def test_sse_streams_every_change_in_order_and_resumes(client: Client, stack: Stack) -> None:
    accepted = client.submit(application())
    stream = sse(stack, accepted)
    events = read_until(stream, "APPROVED")
    assert [json.loads(e.data)["status"] for e in events] == FINAL
    assert [e.id for e in events] == ["1", "2", "3", "4"]
    approved = json.loads(events[-1].data)
    assert approved["offer"]["monthly_payment"] and approved["application_id"] == accepted["id"]
    assert [e for e in stream if e.event == "status"] == []  # the stream ended: nothing follows APPROVED
    resumed = read_until(sse(stack, accepted, last_event_id="2"), "APPROVED")
    assert [e.id for e in resumed] == ["3", "4"]  # exactly what was missed
    headers = {"Authorization": f"Bearer {accepted['access_token']}", "Last-Event-ID": "4"}
    done = requests.get(f"{stack.gateway}/notify/applications/{accepted['id']}/events", headers=headers, timeout=5)
    assert done.status_code == 204  # everything received: EventSource stops reconnecting


def test_several_connections_on_several_workers_all_get_the_change(client: Client, stack: Stack) -> None:
    accepted = client.submit(application(applicant={"employment_status": "self_employed"}))
    client.wait_for(accepted, {"INFO_REQUESTED"})
    streams = [sse(stack, accepted) for _ in range(6)]
    for stream in streams:
        read_until(stream, "INFO_REQUESTED")
    received: list[float] = []

    def listen(stream: Iterator[Any]) -> None:
        read_until(stream, "APPROVED")
        received.append(time.monotonic())

    threads = [threading.Thread(target=listen, args=(s,)) for s in streams]
    for thread in threads:
        thread.start()
    answered = time.monotonic()
    assert client.post(accepted, "information", {"declared_income_year_1": "70000",
                                                  "declared_income_year_2": "66000"}).status_code == 200
    for thread in threads:
        thread.join(timeout=30)
    assert len(received) == 6
    assert max(received) - answered < 10  # functional bound only; latency is measured in bench/


def test_websocket_sends_history_then_changes(client: Client, stack: Stack) -> None:
    accepted = client.submit(application())
    ws = websocket.create_connection(ws_url(stack, f"/notify/ws/applications/{accepted['id']}",
                                            accepted["access_token"]), timeout=30)
    statuses = []
    while "APPROVED" not in statuses:
        message = json.loads(ws.recv())
        if message["type"] == "status":
            statuses.append(message["status"])
            assert {"event_id", "application_id", "status", "previous_status", "at"} <= set(message)
    ws.close()
    assert statuses == FINAL


def test_websocket_refuses_bad_and_foreign_tokens(client: Client, stack: Stack) -> None:
    """The exact code of each refusal reaches the client through the gateway, every time: a
    reserved code (1006: websocket-client raises on it) or a lost close frame fails the test.
    Repeated, because the close frame used to be lost in a race between the two sockets."""
    mine, theirs = client.submit(application()), client.submit(application())
    path = f"/notify/ws/applications/{mine['id']}"
    for _ in range(10):
        for url, code in [(ws_url(stack, f"{path}?ticket=garbage"), 4401),
                          (ws_url(stack, f"{path}?token={mine['access_token']}"), 4401),  # no token in a URL
                          (ws_url(stack, path, theirs["access_token"]), 4404)]:  # a fresh ticket each time
            assert close_code(websocket.create_connection(url, timeout=10)) == code
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(ws_url(stack, path, mine["access_token"]), origin="https://evil.example",
                                    timeout=10)
    assert refused.value.status_code == 403


def test_sse_refuses_other_applicants(client: Client, stack: Stack) -> None:
    mine, theirs = client.submit(application()), client.submit(application())
    url = f"{stack.gateway}/notify/applications/{mine['id']}/events"
    assert requests.get(url, timeout=5).status_code == 401
    def bearer(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}

    assert requests.get(url, headers=bearer(theirs["access_token"]), timeout=5).status_code == 404
    assert requests.get(f"{stack.gateway}/notify/events", headers=bearer(mine["access_token"]),
                        timeout=5).status_code == 403
    unknown = f"{stack.gateway}/notify/applications/00000000-0000-4000-8000-000000000000/events"
    assert requests.get(unknown, headers=bearer(STAFF_TOKEN), timeout=5).status_code == 404  # not held open
    ws = websocket.create_connection(ws_url(stack, "/notify/ws/applications/00000000-0000-4000-8000-000000000000",
                                            STAFF_TOKEN), timeout=10)
    assert close_code(ws) == 4404


def test_staff_websocket_sees_every_application(client: Client, stack: Stack) -> None:
    ws = websocket.create_connection(ws_url(stack, "/notify/ws", STAFF_TOKEN), timeout=30)
    accepted = [client.submit(application()) for _ in range(3)]
    wanted = {a["id"] for a in accepted}
    approved: set[str] = set()
    deadline = time.monotonic() + 40
    while approved != wanted and time.monotonic() < deadline:
        message = json.loads(ws.recv())
        if message["type"] == "status" and message["status"] == "APPROVED" and message["application_id"] in wanted:
            approved.add(message["application_id"])
    ws.close()
    assert approved == wanted


def test_a_slow_client_does_not_hold_back_the_others(client: Client, stack: Stack) -> None:
    staff = {"Authorization": f"Bearer {STAFF_TOKEN}"}
    stalled = requests.get(f"{stack.gateway}/notify/events", headers=staff, stream=True, timeout=30)
    assert stalled.status_code == 200  # opened, and never read
    accepted = client.submit(application())
    events = read_until(sse(stack, accepted), "APPROVED")
    assert len(events) == 4
    stalled.close()


def _refused(ws: websocket.WebSocket, size: int) -> None:
    """The server ends the connection: a 1009 close frame, or a reset when it closes while
    the rest of our frame is still unread in its socket (TCP then discards the close frame)."""
    try:
        ws.send("x" * size)
        assert close_code(ws) == 1009
    except (ConnectionResetError, BrokenPipeError, websocket.WebSocketConnectionClosedException):
        pass


def test_oversized_websocket_frames_are_refused(client: Client, stack: Stack) -> None:
    accepted = client.submit(application())
    for size in (128 * 1024, 1024 * 1024):  # above the 64 KiB limit
        url = ws_url(stack, f"/notify/ws/applications/{accepted['id']}", accepted["access_token"])
        _refused(websocket.create_connection(url, timeout=10), size)
    assert requests.get(f"{stack.gateway}/notify/health", timeout=5).status_code == 200


def test_sigterm_ends_live_streams_promptly_and_clients_resume(client: Client, stack: Stack) -> None:
    """A rolling restart of notify: its open streams end at SIGTERM (WebSocket close 1001, SSE end
    of stream), not at their next heartbeat 15 s later, and an SSE client resumes where it was.
    The application waits for information, so its stream stays open until the SIGTERM."""
    accepted = client.submit(application(applicant={"employment_status": "self_employed"}))
    stream = sse(stack, accepted)
    seen = read_until(stream, "INFO_REQUESTED")
    ws = websocket.create_connection(ws_url(stack, "/notify/ws", STAFF_TOKEN), timeout=30)
    assert json.loads(ws.recv())["type"] in {"snapshot", "status"}
    process = stack.processes["notify_web"]
    started = time.monotonic()
    try:
        stack.signal("notify_web", signal.SIGTERM)
        assert close_code(ws) == 1001
        ws.close()  # answer the close handshake, as a browser does (the server's reader thread ends)
        assert list(stream) == []  # the SSE response ends (heartbeats are comments, not events)
        process.wait(timeout=10)
        assert time.monotonic() - started < 10  # a stream's heartbeat comes every 15 s
    finally:
        stack.processes.pop("notify_web", None)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stack.start("notify_web")
        stack.wait_ready()
    resumed = read_until(sse(stack, accepted, last_event_id=seen[0].id), "INFO_REQUESTED")  # the restarted notify
    assert [json.loads(e.data)["status"] for e in resumed] == [json.loads(e.data)["status"] for e in seen[1:]]
