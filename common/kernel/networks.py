"""Trusted proxies as IP networks: which peers may tell us the client's address.

``LOANFLOW_TRUSTED_PROXIES`` lists the proxies (our gateway) whose ``X-Forwarded-For`` a service
believes (:mod:`common.web.client`). An entry is an address (``127.0.0.1``, the Procfile's
gateway) or a range (``10.0.0.0/8``: in compose and Kubernetes the platform picks the gateway's
address). Pure functions: the settings check the entries at start-up with them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=16)
def proxy_networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    """The networks of ``entries`` (addresses are one-address networks).

    Raises:
      ValueError: an entry is neither an address nor a network; the message names it, so that a
        typo stops the process at start-up instead of silently trusting nobody.
    """
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError:
            raise ValueError(f"LOANFLOW_TRUSTED_PROXIES: {entry!r} is not an IP address or network "
                             "(e.g. 127.0.0.1 or 10.0.0.0/8)") from None
    return tuple(networks)


def is_trusted(peer: str, trusted_proxies: Iterable[str]) -> bool:
    """Is ``peer`` (an address as the server saw it) within one of ``trusted_proxies``?"""
    try:
        address = ipaddress.ip_address(peer)
    except ValueError:
        return False  # a Unix socket, or no peer at all: not a proxy we know
    return any(address in network for network in proxy_networks(tuple(trusted_proxies)))
