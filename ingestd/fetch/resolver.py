"""Names to addresses, kept as long as their DNS records say (their TTL).

A pass polls thousands of hosts, most several times (a host's feeds and pages), so each name is
looked up once and its addresses kept for the records' TTL, clamped to
[:data:`MIN_TTL_S`, :data:`MAX_TTL_S`]. The lookup is c-ares' ``getaddrinfo`` (aiodns), which
reads ``/etc/hosts`` and ``/etc/resolv.conf`` as the system does and, unlike the C library's,
says each record's TTL; a name it cannot resolve is asked of the system's resolver
(``nsswitch``: mDNS, LDAP, ...) before it is given up. Without aiodns, or for names whose
records carry no TTL (``/etc/hosts``), addresses are kept :data:`FALLBACK_TTL_S`. Failures are
not kept. The address guard (:class:`ingestd.fetch.netguard.GuardedResolver`) checks what this
returns on every call, cached or not.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

MIN_TTL_S = 5.0  # a record with a shorter TTL is still kept this long (not asked per request)
MAX_TTL_S = 3600.0  # nor longer than this, whatever it says
FALLBACK_TTL_S = 60.0  # records with no TTL (/etc/hosts, the system's resolver)
MAX_NAMES = 65_536  # names kept; beyond it the expired ones, then the oldest, are dropped
_NUMERIC = socket.AI_NUMERICHOST | socket.AI_NUMERICSERV

Clock = Callable[[], float]


class CachingResolver(AbstractResolver):
    """aiohttp's resolver interface over c-ares (or the system's resolver), with a TTL cache."""

    def __init__(
        self,
        clock: Clock = time.monotonic,
        use_cares: bool = True,
        nameservers: list[str] | None = None,
    ) -> None:
        """``nameservers`` (``"ip"`` or ``"ip:port"``) instead of ``/etc/resolv.conf``'s."""
        self._clock = clock
        self._use_cares = use_cares
        self._nameservers = nameservers
        self._cares: object | None = None  # aiodns.DNSResolver, made on the running loop
        self._system: ThreadedResolver | None = None  # made on the running loop
        self._cache: dict[tuple[str, int, int], tuple[float, list[ResolveResult]]] = {}

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        """The addresses of ``host``, from the cache while its records' TTL lasts."""
        key = (host, port, int(family))
        now = self._clock()
        kept = self._cache.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        found, ttl_s = await self._lookup(host, port, family)
        self._make_room(now)
        self._cache[key] = (now + min(max(ttl_s, MIN_TTL_S), MAX_TTL_S), found)
        return found

    async def close(self) -> None:
        if self._system is not None:
            await self._system.close()
        self._system = None
        cares = self._cares
        if cares is not None:
            closing = getattr(cares, "close", None)
            if closing is not None:
                await closing()
        self._cares = None

    async def _lookup(
        self, host: str, port: int, family: socket.AddressFamily
    ) -> tuple[list[ResolveResult], float]:
        """The addresses and how long they may be kept (s)."""
        if self._use_cares:
            found = await self._cares_lookup(host, port, family)
            if found is not None:
                return found
        if self._system is None:
            self._system = ThreadedResolver()
        return await self._system.resolve(host, port, family), FALLBACK_TTL_S

    async def _cares_lookup(
        self, host: str, port: int, family: socket.AddressFamily
    ) -> tuple[list[ResolveResult], float] | None:
        """c-ares' answer, or None when aiodns is missing or c-ares found nothing."""
        try:
            import aiodns
        except ImportError:
            self._use_cares = False
            return None
        if self._cares is None:
            self._cares = aiodns.DNSResolver(nameservers=self._nameservers)
        resolver: aiodns.DNSResolver = self._cares  # type: ignore[assignment]
        try:
            answer = await resolver.getaddrinfo(
                host, family=family, port=port, type=socket.SOCK_STREAM
            )
        except aiodns.error.DNSError:
            return None
        found: list[ResolveResult] = []
        ttls = []
        for node in answer.nodes:
            address = node.addr[0]
            text = address.decode() if isinstance(address, bytes) else str(address)
            found.append(
                ResolveResult(
                    hostname=host,
                    host=text,
                    port=port,
                    family=node.family,
                    proto=0,
                    flags=_NUMERIC,
                )
            )
            ttls.append(node.ttl)
        if not found:
            return None
        ttl = min(ttls)
        return found, float(ttl) if ttl > 0 else FALLBACK_TTL_S

    def _make_room(self, now: float) -> None:
        """Keep at most :data:`MAX_NAMES` names: drop the expired ones, then the oldest."""
        if len(self._cache) < MAX_NAMES:
            return
        for key in [k for k, (until, _) in self._cache.items() if until <= now]:
            del self._cache[key]
        while len(self._cache) >= MAX_NAMES:
            del self._cache[next(iter(self._cache))]
