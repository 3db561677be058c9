"""Address guard: refuse hosts in loopback, private or otherwise non-public networks.

It keeps a feed, or a redirect a feed serves, from making ingestd fetch internal services
(server-side request forgery).

* :func:`host_problem`: a host that is not written canonically (percent-encoded, a legacy IPv4
  spelling such as ``127.1``, ``0x7f000001`` or ``2130706433``, empty labels, spaces) is
  refused before anything else, so no proxy or resolver can read it differently from us.
* IP literals are judged directly, including IPv4 embedded in IPv6 (IPv4-mapped, 6to4, NAT64).
* ``localhost`` and names under ``.localhost`` are always refused (RFC 6761).
* Other names are judged inside the HTTP client's own connection path:
  :class:`GuardedResolver` is the resolver of aiohttp's connector, and the connector connects
  only to the addresses it returns, all checked. There is no second lookup a name could
  answer differently (DNS rebinding). When a proxy resolves names instead, they are let
  through (the proxy is trusted).
"""

from __future__ import annotations

import asyncio
import ipaddress
import re
import socket

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_LEGACY_IPV4 = re.compile(r"[0-9a-fA-FxX.]+")
_LABEL = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?")


class ForbiddenAddressError(OSError):
    """A name resolved to an address the guard refuses (raised inside the connector)."""

    def __init__(self, host: str, address: str) -> None:
        super().__init__(f"blocked private address {address} for {host}")
        self.host = host
        self.address = address


class GuardedResolver(AbstractResolver):
    """A resolver (by default aiohttp's threaded one, the loop's ``getaddrinfo``) whose every
    answer, cached or not, is checked: a name is refused when any of its addresses is
    forbidden. What is checked is what the connector connects to."""

    def __init__(self, inner: AbstractResolver | None = None) -> None:
        self._inner = inner if inner is not None else ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of ``host``; :class:`ForbiddenAddressError` when one is forbidden."""
        if _local_name(host):
            raise ForbiddenAddressError(host, host)
        found = await self._inner.resolve(host, port, family)
        for info in found:
            address = ipaddress.ip_address(info["host"])
            if is_forbidden(address):
                raise ForbiddenAddressError(host, str(address))
        return found

    async def close(self) -> None:
        await self._inner.close()


def host_problem(host: str) -> str | None:
    """Why ``host`` (a URL's host as yarl gives it: lower case, IDNA-encoded) is not written
    canonically, or None: a bracket-less IPv6 literal, a dotted-quad IPv4 address, or a DNS
    name of letters, digits, ``-`` and ``_`` in non-empty labels (a final dot allowed)."""
    if ":" in host:
        try:
            ipaddress.IPv6Address(host.strip("[]"))
        except ValueError:
            return f"malformed IPv6 host {host!r}"
        return None
    name = host.removesuffix(".")
    if not name or len(name) > 253:
        return f"malformed host {host!r}"
    if _LEGACY_IPV4.fullmatch(name) and parse_literal(name) is not None:
        try:
            ipaddress.IPv4Address(name)
        except ValueError:
            return f"non-canonical IPv4 host {host!r} (write it as a dotted quad)"
        return None
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return f"non-canonical host name {host!r}"
    return None


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


def _local_name(host: str) -> bool:
    """``localhost`` or a name under ``.localhost`` (always loopback, RFC 6761)."""
    name = host.rstrip(".").lower()
    return name == "localhost" or name.endswith(".localhost")


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
    if _local_name(name):
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
