"""The gateway relays a WebSocket's close with the other side's code, never a reserved one.

RFC 6455 §7.4.1 reserves 1004, 1005, 1006 and 1015 (they *report* a missing status, a lost
connection, a TLS failure) and forbids sending them; 1016–2999 belong to future standards, and a
code is 1000–4999. Browsers and websocket-client fail the connection on a forbidden code instead of
reporting it. Every possible input is checked, so no code slips through by chance.
"""

from __future__ import annotations

import pytest
from aiohttp import WSMessage, WSMsgType

from loanflow.gateway import CLIENT_LOST, UPSTREAM_LOST, relayed_close


def forbidden(code: int) -> bool:
    """May no endpoint put ``code`` in a close frame?"""
    return code < 1000 or code in (1004, 1005, 1006, 1015) or 1016 <= code < 3000 or code >= 5000


def close(code: int, reason: str = "") -> WSMessage:
    return WSMessage(WSMsgType.CLOSE, code, reason)


@pytest.mark.parametrize("lost", [UPSTREAM_LOST, CLIENT_LOST])
def test_no_received_close_frame_is_relayed_with_a_forbidden_code(lost: int) -> None:
    for code in [*range(0, 5100), 65535]:
        sent, reason = relayed_close(close(code, "why"), lost)
        assert not forbidden(sent), (code, sent)
        assert len(reason) <= 123


@pytest.mark.parametrize("ending", [None, WSMessage(WSMsgType.CLOSED, None, None),
                                    WSMessage(WSMsgType.ERROR, ConnectionResetError(), None),
                                    WSMessage(WSMsgType.CLOSING, None, None)])
def test_a_side_lost_without_a_close_frame(ending: WSMessage | None) -> None:
    assert relayed_close(ending, UPSTREAM_LOST) == (1011, b"")  # the service failed
    assert relayed_close(ending, CLIENT_LOST) == (1001, b"")  # the client went away
    assert not forbidden(UPSTREAM_LOST) and not forbidden(CLIENT_LOST)


@pytest.mark.parametrize("code", [1000, 1001, 1008, 1009, 1011, 1013, 4401, 4404, 4408, 4429])
def test_the_services_codes_and_reasons_pass_through(code: int) -> None:
    assert relayed_close(close(code, "not found"), UPSTREAM_LOST) == (code, b"not found")


def test_reported_codes_become_what_they_mean() -> None:
    assert relayed_close(close(0), UPSTREAM_LOST) == (1000, b"")  # a close frame without a code
    assert relayed_close(close(1005), UPSTREAM_LOST) == (1000, b"")  # the same, as some libraries report it
    assert relayed_close(close(1006), UPSTREAM_LOST)[0] == 1011
    assert relayed_close(close(1015), UPSTREAM_LOST)[0] == 1011
    long = relayed_close(close(4401, "é" * 100), UPSTREAM_LOST)[1]
    assert long.decode() == "é" * 61  # 122 bytes: whole characters only, valid UTF-8
