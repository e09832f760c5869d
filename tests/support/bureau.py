"""The bureau simulator served over real HTTP in a thread, for tests of the code that calls it."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import requests
from werkzeug.serving import BaseWSGIServer, make_server

from loanflow.bureau_simulator import create_app


@dataclass
class Bureau:
    """The running simulator: its base URL, a way to set its faults and to read an inquiry."""

    url: str

    def set_faults(self, **faults: Any) -> None:
        requests.put(f"{self.url}/v1/_faults", json=faults, timeout=2).raise_for_status()

    def inquiry_status(self, inquiry_id: str) -> str:
        """``active`` or ``cancelled``, as the bureau keeps it."""
        self.set_faults(failure_rate=0.0)  # reading must not be refused by an injected outage
        response = requests.get(f"{self.url}/v1/inquiries/{inquiry_id}", timeout=2)
        response.raise_for_status()
        return str(response.json()["status"])


@contextmanager
def served_bureau() -> Iterator[Bureau]:
    server: BaseWSGIServer = make_server("127.0.0.1", 0, create_app({"BUREAU_SEED": 1}), threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="bureau-simulator", daemon=True)
    thread.start()
    try:
        yield Bureau(f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
