"""Who is really asking: the client's address and whether it came over TLS, behind a proxy.

Behind a reverse proxy every request comes from the proxy's address. The proxy says who the
client was in `X-Forwarded-For` (and the scheme in `X-Forwarded-Proto`), but anyone can send
those headers: they are read only when the request comes from an address listed in
`server.trusted_proxies`, and the client is the last address in the chain that is not one of
those proxies (the left part of the header is whatever the client wrote).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def trusted_networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """`server.trusted_proxies` read as networks (a bare address is a network of one)."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


class ProxyView:
    """The real client address and scheme of a request, trusting only the named proxies."""

    def __init__(self, trusted: Iterable[str]) -> None:
        self._trusted = trusted_networks(trusted)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address.strip())
        except ValueError:
            return False
        return any(ip in network for network in self._trusted)

    def _from_trusted_proxy(self, request: web.Request) -> bool:
        return bool(self._trusted) and self._is_trusted(request.remote or "")

    def client_address(self, request: web.Request) -> str:
        """The client's address: the peer, or behind a trusted proxy the address it reports."""
        peer = request.remote or "?"
        if not self._from_trusted_proxy(request):
            return peer
        chain = [
            hop.strip()
            for header in request.headers.getall("X-Forwarded-For", [])
            for hop in header.split(",")
        ]
        for hop in reversed(chain):
            if not hop:
                continue
            if not self._is_trusted(hop):
                return hop if _is_address(hop) else peer
        return peer

    def is_tls(self, request: web.Request) -> bool:
        """Whether the browser reached us over TLS: directly, or through a trusted proxy that
        says so in `X-Forwarded-Proto`."""
        transport = request.transport
        if transport is not None and transport.get_extra_info("sslcontext") is not None:
            return True
        if not self._from_trusted_proxy(request):
            return False
        proto = request.headers.get("X-Forwarded-Proto", "")
        return proto.split(",")[-1].strip().lower() == "https"


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def throttle_key(address: str) -> str:
    """What guesses are counted under: an IPv4 address, or an IPv6 address's /64 (one
    customer's whole allocation, which a guesser could otherwise rotate through)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)
