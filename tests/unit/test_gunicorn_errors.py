"""gunicorn's own error answers, made JSON like the application's, and its limits."""

from __future__ import annotations

import json
import runpy
from pathlib import Path

import pytest
from gunicorn import util

from common.web import gunicorn_errors
from loanflow import gateway
from loanflow.gateway import HANDLER_LIMITS

ROOT = Path(__file__).resolve().parents[2]


class _Socket:
    """What gunicorn's ``write_nonblock`` calls on a client socket, recording what is sent."""

    def __init__(self) -> None:
        self.sent = b""

    def gettimeout(self) -> float | None:
        return None

    def setblocking(self, flag: bool) -> None:
        pass

    def sendall(self, data: bytes) -> None:
        self.sent += data


def test_an_error_gunicorn_writes_is_json_with_the_common_error_fields() -> None:
    client = _Socket()
    gunicorn_errors.write_json_error(client, 414, "URI Too Long",  # type: ignore[arg-type]
                                     "Request Line is too large (9042 > 8190)")
    raw = client.sent
    head, body = raw.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    assert lines[0] == "HTTP/1.1 414 URI Too Long"
    assert "Content-Type: application/json" in lines
    assert f"Content-Length: {len(body)}" in lines
    assert json.loads(body) == {"code": 414, "status": "URI Too Long",
                                "message": "Request Line is too large (9042 > 8190)"}


def test_install_replaces_gunicorns_html_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(util, "write_error", util.write_error)  # restored after the test
    gunicorn_errors.install()
    assert util.write_error is gunicorn_errors.write_json_error


def test_the_deployed_gunicorn_config_has_the_documented_limits() -> None:
    config = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert {name: config[name] for name in gunicorn_errors.LIMITS} == gunicorn_errors.LIMITS


def test_the_gateway_forwards_what_the_services_refuse_in_json() -> None:
    assert HANDLER_LIMITS["max_line_size"] > gunicorn_errors.LIMITS["limit_request_line"]
    assert HANDLER_LIMITS["max_field_size"] > gunicorn_errors.LIMITS["limit_request_field_size"]


def test_the_gateway_drops_idle_upstream_connections_before_gunicorn_does() -> None:
    """Else a request can go out on a connection gunicorn is closing: a 502 for a lost POST."""
    config = runpy.run_path(str(ROOT / "deploy" / "gunicorn.conf.py"))
    assert 0 < gateway.UPSTREAM_KEEPALIVE_SECONDS < config["keepalive"]
