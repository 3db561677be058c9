"""Address guard: refuse hosts in loopback, private or otherwise non-public networks.

It keeps a feed, or a redirect a feed serves, from making ingestd fetch internal services
(server-side request forgery). The fetch stage asks it about the host of every hop before any
connection is opened.

* IP literals are judged directly, including IPv4 embedded in IPv6 (IPv4-mapped, 6to4, NAT64)
  and the legacy IPv4 spellings a resolver accepts (``127.1``, ``0x7f000001``, ``2130706433``).
* ``localhost`` and names under ``.localhost`` are always refused (RFC 6761).
* Other names are resolved with the running loop's ``getaddrinfo`` and refused when any address
  is refused; when a proxy resolves names instead (``resolve=False``) they are let through.

The connection is not pinned to the address checked here, so a name that resolves differently
a moment later (DNS rebinding) is not caught.
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"[0-9a-fA-FxX.]+")


def is_forbidden(address: IPAddress) -> bool:
    """True for loopback, private, link-local, multicast, reserved, unspecified or non-global.

    An IPv6 address that embeds an IPv4 one (IPv4-mapped, 6to4, NAT64) is judged by the IPv4
    address it leads to.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None:
            address = embedded
    return (
        address.is_loopback
        or address.is_private
        or address.is_link_local
        or address.is_multicast
        or address.is_reserved
        or address.is_unspecified
        or not address.is_global
    )


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address stands for, if it embeds one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def parse_literal(host: str) -> IPAddress | None:
    """The address ``host`` spells, if it is an IP literal (brackets and legacy IPv4 allowed)."""
    text = host.strip("[]")
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        pass
    if not _LEGACY_IPV4.fullmatch(text):
        return None
    try:
        return ipaddress.IPv4Address(socket.inet_aton(text))
    except OSError:
        return None


async def forbidden_address(host: str, port: int, *, resolve: bool = True) -> str | None:
    """Return the address (as text) that makes ``host`` forbidden, or None when it may be fetched.

    ``host`` is an ASCII (IDNA-encoded) host name or IP literal; ``port`` is only passed to
    ``getaddrinfo``. With ``resolve=False`` names other than localhost are not looked up.
    Raises :class:`OSError` (``socket.gaierror``) when a name must be resolved and cannot be.
    """
    name = host.rstrip(".").lower()
    if name == "localhost" or name.endswith(".localhost"):
        return name
    literal = parse_literal(name)
    if literal is not None:
        return str(literal) if is_forbidden(literal) else None
    if not resolve:
        return None
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(name, port, type=socket.SOCK_STREAM)
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(str(sockaddr[0]))
        if is_forbidden(address):
            return str(address)
    return None
