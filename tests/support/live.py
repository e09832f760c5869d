"""Opening live channels as browsers do: with a single-use live ticket, never the token, in the URL."""

from __future__ import annotations

from urllib.parse import quote

import requests


def live_ticket(base: str, token: str) -> str:
    """A fresh ticket for the holder of ``token`` (``POST /notify/live/tickets`` on ``base``)."""
    answer = requests.post(f"{base}/notify/live/tickets", headers={"Authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["ticket"])


def with_ticket(base: str, path: str, token: str) -> str:
    """``path`` (``/notify/…``) with a fresh ticket of ``token``'s holder as ``?ticket=``."""
    return f"{path}{'&' if '?' in path else '?'}ticket={quote(live_ticket(base, token))}"
