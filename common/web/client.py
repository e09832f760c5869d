"""Who the client of a request is, for the limits counted per client address.

Notify's caps on live connections and the rate limit of ``POST /loan/applications``
(:mod:`common.web.ratelimit`) count per address, so the address must be one a client cannot
choose. Direct, it is the peer's. Through a trusted proxy (our gateway, which appends the address
it saw to ``X-Forwarded-For``; :mod:`common.kernel.networks`), it is the last hop of that header:
the one the proxy wrote. Every earlier hop is whatever the client sent, and trusting one would let
anyone pick the address they are counted under (a fresh allowance per request).
"""

from __future__ import annotations

from collections.abc import Iterable

from flask import Request

from common.kernel.networks import is_trusted


def client_address(request: Request, trusted_proxies: Iterable[str]) -> str:
    """The address of the client of ``request``: the peer's, or, when the peer is a trusted
    proxy, the last ``X-Forwarded-For`` hop (the one that proxy appended)."""
    peer = request.remote_addr or ""
    if not is_trusted(peer, trusted_proxies):
        return peer
    hops = [hop.strip() for line in request.headers.getlist("X-Forwarded-For") for hop in line.split(",")]
    return next((hop for hop in reversed(hops) if hop), peer)
