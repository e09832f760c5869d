"""A RabbitMQ outage confined to one virtual host, so that colleagues' vhosts on the shared broker live on.

Through the management API (``rabbitmqctl`` takes seconds per call on a busy machine): the vhost's
``max-connections`` limit set to 0 refuses every new connection, then its open connections are
closed. For the processes of that vhost the broker is gone until the limit is lifted.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from urllib.parse import quote, unquote, urlparse

import requests


def vhost_of(broker_url: str) -> str:
    """The virtual host an ``amqp://`` URL names."""
    return unquote(urlparse(broker_url).path.lstrip("/")) or "/"


class Management:
    """The few calls of RabbitMQ's management HTTP API the tests need."""

    def __init__(self, url: str) -> None:
        parts = urlparse(url)
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port}/api"
        self.auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))

    def _call(self, method: str, path: str, **kwargs: object) -> requests.Response:
        response = requests.request(method, self.base + path, auth=self.auth, timeout=10, **kwargs)  # type: ignore[arg-type]
        response.raise_for_status()
        return response

    def set_max_connections(self, vhost: str, value: int) -> None:
        path = f"/vhost-limits/{quote(vhost, safe='')}/max-connections"
        if value < 0:
            with contextlib.suppress(requests.HTTPError):
                self._call("DELETE", path)
        else:
            self._call("PUT", path, json={"value": value})

    def close_connections(self, vhost: str, reason: str) -> int:
        names = [c["name"] for c in self._call("GET", f"/vhosts/{quote(vhost, safe='')}/connections").json()]
        for name in names:
            with contextlib.suppress(requests.HTTPError):  # closed meanwhile
                self._call("DELETE", f"/connections/{quote(name, safe='')}", headers={"X-Reason": reason})
        return len(names)

    @contextlib.contextmanager
    def outage(self, vhost: str) -> Iterator[None]:
        """The vhost refuses connections and has none while the block runs; restored whatever happens."""
        self.set_max_connections(vhost, 0)
        try:
            self.close_connections(vhost, "test: broker blip")
            yield
        finally:
            self.set_max_connections(vhost, -1)
