"""Names kept for their records' TTL (``ingestd.fetch.resolver``), against a real DNS server on
loopback (UDP, answering A queries from a table), with a clock the test moves."""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections.abc import Iterator

import pytest

from ingestd.fetch.netguard import ForbiddenAddressError, GuardedResolver
from ingestd.fetch.resolver import MIN_TTL_S, CachingResolver

pytest.importorskip("aiodns", reason="aiodns (c-ares) is not installed")


class DnsServer:
    """Answers A queries for the names in :attr:`records` (address, TTL); counts the queries."""

    def __init__(self) -> None:
        self.records: dict[str, tuple[str, int]] = {}
        self.queries: list[str] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data, peer = self.sock.recvfrom(512)
            except OSError:
                return
            self.sock.sendto(self._answer(data), peer)

    def _answer(self, query: bytes) -> bytes:
        ident = query[:2]
        labels, at = [], 12
        while query[at]:
            length = query[at]
            labels.append(query[at + 1 : at + 1 + length].decode())
            at += 1 + length
        question = query[12 : at + 5]
        qtype = struct.unpack("!H", query[at + 1 : at + 3])[0]
        name = ".".join(labels)
        self.queries.append(name)
        record = self.records.get(name)
        if record is None or qtype != 1:  # NXDOMAIN, or no AAAA: an empty answer
            rcode = 3 if record is None else 0
            return ident + struct.pack("!HHHHH", 0x8180 | rcode, 1, 0, 0, 0) + question
        address, ttl = record
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, ttl, 4) + socket.inet_aton(address)
        return ident + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0) + question + answer

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def dns() -> Iterator[DnsServer]:
    server = DnsServer()
    yield server
    server.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_name_is_kept_for_its_records_ttl_and_asked_again_after(dns: DnsServer) -> None:
    """Within the TTL the first answer stands (the server changed it meanwhile); after it,
    the new one is seen. (c-ares keeps answers for their TTL too, in real time: the test
    waits the real TTL out before it moves its clock past it.)"""
    clock = Clock()
    resolver = CachingResolver(clock, nameservers=[f"127.0.0.1:{dns.port}"])
    dns.records["feeds.ttl.test"] = ("203.0.113.7", 6)

    async def run() -> list[str]:
        seen = [(await resolver.resolve("feeds.ttl.test", 80))[0]["host"]]
        dns.records["feeds.ttl.test"] = ("203.0.113.8", 6)
        clock.now += 5  # within the TTL
        seen.append((await resolver.resolve("feeds.ttl.test", 80))[0]["host"])
        await asyncio.sleep(6.2)
        clock.now += 2  # past it
        seen.append((await resolver.resolve("feeds.ttl.test", 80))[0]["host"])
        await resolver.close()
        return seen

    assert asyncio.run(run()) == ["203.0.113.7", "203.0.113.7", "203.0.113.8"]


def test_a_very_short_ttl_is_kept_a_few_seconds_and_a_failure_not_at_all(dns: DnsServer) -> None:
    clock = Clock()
    resolver = CachingResolver(clock, nameservers=[f"127.0.0.1:{dns.port}"])
    dns.records["short.ttl.test"] = ("203.0.113.9", 1)

    async def run() -> list[str]:
        seen = [(await resolver.resolve("short.ttl.test", 80))[0]["host"]]
        dns.records["short.ttl.test"] = ("203.0.113.10", 1)
        await asyncio.sleep(1.2)  # the record's TTL is over (c-ares asks again)...
        clock.now += MIN_TTL_S - 1  # ...but a name is kept at least MIN_TTL_S
        seen.append((await resolver.resolve("short.ttl.test", 80))[0]["host"])
        clock.now += 2
        seen.append((await resolver.resolve("short.ttl.test", 80))[0]["host"])
        for _ in range(2):
            with pytest.raises(OSError):
                await resolver.resolve("missing.ttl.test", 80)
        await resolver.close()
        return seen

    assert asyncio.run(run()) == ["203.0.113.9", "203.0.113.9", "203.0.113.10"]
    assert dns.queries.count("short.ttl.test") >= 2
    assert dns.queries.count("missing.ttl.test") >= 2  # asked each time, never kept


def test_the_guard_checks_every_answer_even_a_kept_one(dns: DnsServer) -> None:
    clock = Clock()
    names = CachingResolver(clock, nameservers=[f"127.0.0.1:{dns.port}"])
    guarded = GuardedResolver(names)
    dns.records["inside.ttl.test"] = ("10.1.2.3", 300)

    async def run() -> None:
        for _ in range(2):
            with pytest.raises(ForbiddenAddressError):
                await guarded.resolve("inside.ttl.test", 80)
        await guarded.close()

    asyncio.run(run())
    assert dns.queries.count("inside.ttl.test") == 1  # the second refusal came from the cache
