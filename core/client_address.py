"""The client address a request came from: the peer, or what a trusted proxy says it saw.

`X-Forwarded-For` is written by whoever sends the request, so it is believed only when the peer
is one of `TRUSTED_PROXIES` (IP addresses or networks). Each proxy appends the address it got the
request from; walking the list from the right, past every trusted hop, the first untrusted
address is the client (anything further left was written by the client itself).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Address = ipaddress.IPv4Address | ipaddress.IPv6Address


@dataclass(frozen=True)
class TrustedProxies:
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, raw: str) -> TrustedProxies:
        """"10.0.0.0/8, 127.0.0.1" → the networks; raises ValueError naming the setting and the fix."""
        networks = []
        for part in (p.strip() for p in raw.split(",")):
            if not part:
                continue
            try:
                networks.append(ipaddress.ip_network(part, strict=False))
            except ValueError:
                raise ValueError(
                    f"TRUSTED_PROXIES={raw!r}: {part!r} is not an IP address or network; "
                    "use comma-separated addresses or CIDRs such as 127.0.0.1,10.0.0.0/8"
                ) from None
        return cls(tuple(networks))

    def text(self) -> str:
        """The networks as TRUSTED_PROXIES spells them (checked, normalised)."""
        return ",".join(str(n) for n in self.networks)

    def trusts(self, address: Address) -> bool:
        address = _unmapped(address)
        return any(address.version == n.version and address in n for n in self.networks)


def _unmapped(address: Address) -> Address:
    """::ffff:192.0.2.1 (an IPv4 client on a dual-stack socket) → 192.0.2.1."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _parse(raw: str | None) -> Address | None:
    try:
        return _unmapped(ipaddress.ip_address((raw or "").strip()))
    except ValueError:
        return None


def client_address(request: web.Request, trusted: TrustedProxies) -> str:
    """The client's IP address as text ("" when the transport has none, e.g. a Unix socket)."""
    peer = _parse(request.remote)
    if peer is None:
        return ""
    if not trusted.trusts(peer):
        return str(peer)
    hops = [h for header in request.headers.getall("X-Forwarded-For", []) for h in header.split(",")]
    nearest = peer
    for raw in reversed(hops):
        hop = _parse(raw)
        if hop is None:  # not an address: written by the client, not by a proxy of ours
            return str(nearest)
        if not trusted.trusts(hop):
            return str(hop)
        nearest = hop
    return str(nearest)  # every hop is ours: the left-most one is as close as we get


def limit_key(address: str) -> str:
    """What the per-address limits count by: the address, or for IPv6 its /64 network (one
    customer line gets a whole /64 and can pick a new address from it at will)."""
    parsed = _parse(address)
    if isinstance(parsed, ipaddress.IPv6Address):
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed) if parsed is not None else address
