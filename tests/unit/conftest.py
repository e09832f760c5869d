"""Unit tests import code and call it: no process, no server, no socket (the tiers: tests/README.md).

Enforced rather than promised: a test here that starts a process or opens a network socket
fails and names the tier it belongs to, so ``make test-fast`` stays fast and needs nothing.
"""

from __future__ import annotations

import socket
import subprocess
from collections.abc import Callable
from typing import Any

import pytest


def _refuse(what: str) -> Callable[..., Any]:
    def refused(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError(f"a unit test may not {what}: it belongs in tests/integration (tests/README.md)")

    return refused


@pytest.fixture(autouse=True)
def no_process_and_no_socket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(subprocess.Popen, "__init__", _refuse("start a process"))
    for method in ("connect", "connect_ex", "bind"):
        monkeypatch.setattr(socket.socket, method, _refuse("open a network socket"))
