"""The fetch stage against real HTTP servers and proxies on 127.0.0.1 (no mocks of the client)."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import ipaddress
import socket
import threading
import time
import tracemalloc
import zlib
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ingestd.config import HttpSettings
from ingestd.fetch import MAX_RETRY_AFTER_S, Fetcher, netguard, parse_retry_after
from ingestd.model import FailureKind, Fetched, FetchFailed, FetchResult, NotModified, Validators
from tests.support.httpserver import LoopbackServer, Reply, Request

LOCAL = HttpSettings(min_host_gap_s=0.0, timeout_s=3.0, allow_private_networks=True)
RSS = b"<rss version='2.0'><channel><title>t</title></channel></rss>"


def fetch(
    settings: HttpSettings, url: str, validators: Validators | None = None, **kwargs: Any
) -> FetchResult:
    """One fetch with a fresh Fetcher, in its own event loop."""
    return fetch_all(settings, [url], validators, **kwargs)[0]


def fetch_all(
    settings: HttpSettings, urls: list[str], validators: Validators | None = None, **kwargs: Any
) -> list[FetchResult]:
    """Fetch ``urls`` one after another with one Fetcher."""

    async def run() -> list[FetchResult]:
        async with Fetcher(settings) as fetcher:
            return [await fetcher.fetch(url, validators, **kwargs) for url in urls]

    return asyncio.run(run())


def failed(result: FetchResult, kind: FailureKind) -> FetchFailed:
    """Assert ``result`` is a failure of ``kind`` and return it."""
    assert isinstance(result, FetchFailed), result
    assert result.kind is kind, result
    return result


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


@pytest.fixture
def proxy() -> Iterator[LoopbackServer]:
    """A forward proxy: routes are absolute URLs (and ``host:port`` for CONNECT)."""
    with LoopbackServer() as srv:
        yield srv


def via(proxy: LoopbackServer, **overrides: Any) -> HttpSettings:
    return HttpSettings(min_host_gap_s=0.0, timeout_s=3.0, proxy=proxy.base_url, **overrides)


# --- responses ---------------------------------------------------------------------------


def test_200_returns_body_validators_and_lowercased_headers(server: LoopbackServer) -> None:
    headers = {
        "Content-Type": "application/rss+xml; charset=utf-8",
        "ETag": '"v1"',
        "Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT",
        "Cache-Control": "max-age=300",
        "Content-Location": "/feed.xml",
    }
    server.route("/feed", Reply(200, headers, RSS))
    result = fetch(LOCAL, server.url("/feed"), accept="application/rss+xml")
    assert isinstance(result, Fetched)
    assert (result.url, result.status, result.body) == (server.url("/feed"), 200, RSS)
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.validators == Validators('"v1"', "Mon, 01 Jan 2024 00:00:00 GMT")
    assert result.headers["cache-control"] == "max-age=300"
    assert result.headers["content-location"] == "/feed.xml"
    sent = server.requests[0].headers
    assert sent["user-agent"] == LOCAL.user_agent
    assert sent["accept"] == "application/rss+xml"
    assert "if-none-match" not in sent and "if-modified-since" not in sent


def test_long_and_repeated_headers_are_kept(server: LoopbackServer) -> None:
    """A 20 KB header line (some Content-Security-Policy values are) is no failure, and a
    header sent twice reads as one value, its parts joined by ", "."""
    policy = "default-src 'self'" + "; img-src https://cdn.example" * 700
    headers = [("Content-Security-Policy", policy), ("Vary", "Accept"), ("Vary", "Cookie")]
    server.route("/feed", Reply(200, headers, RSS))
    result = fetch(LOCAL, server.url("/feed"))
    assert isinstance(result, Fetched), result
    assert result.headers["content-security-policy"] == policy
    assert result.headers["vary"] == "Accept, Cookie"


def test_a_validator_that_is_not_ascii_is_kept_readable_and_not_sent_back(
    server: LoopbackServer,
) -> None:
    """An ETag byte that is not UTF-8 (0xE9) reads as ISO-8859-1, so that it can be stored, and
    the next request goes without it rather than with other bytes than the server sent."""
    server.route("/feed", Reply(200, {"ETag": '"café"', "Last-Modified": "Mon, 01 Jan 2024"}, RSS))
    first = fetch(LOCAL, server.url("/feed"))
    assert isinstance(first, Fetched) and first.validators.etag == '"café"'
    first.validators.etag.encode("utf-8")  # no lone surrogates left
    again = fetch(LOCAL, server.url("/feed"), first.validators)
    assert isinstance(again, Fetched)
    sent = server.requests[-1].headers
    assert "if-none-match" not in sent and sent["if-modified-since"] == "Mon, 01 Jan 2024"


def test_a_redirect_to_a_location_that_is_not_utf8_is_followed(server: LoopbackServer) -> None:
    server.route("/old", Reply(301, {"Location": "/café"}))  # sent as ISO-8859-1: 0xE9
    server.route("/caf%C3%A9", Reply(200, body=RSS))
    result = fetch(LOCAL, server.url("/old"))
    assert isinstance(result, Fetched) and result.url == server.url("/caf%C3%A9")


def test_conditional_request_sends_validators_and_304_is_not_modified(
    server: LoopbackServer,
) -> None:
    def conditional(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(200, {"ETag": '"v1"'}, RSS)

    server.route("/feed", conditional)
    validators = Validators('"v1"', "Mon, 01 Jan 2024 00:00:00 GMT")
    result = fetch(LOCAL, server.url("/feed"), validators)
    assert result == NotModified(server.url("/feed"))
    assert server.requests[0].headers["if-modified-since"] == validators.last_modified


@pytest.mark.parametrize("status", [403, 404, 410])
def test_client_errors_are_permanent_with_status(server: LoopbackServer, status: int) -> None:
    server.route("/feed", Reply(status))
    result = failed(fetch(LOCAL, server.url("/feed")), FailureKind.PERMANENT)
    assert result.status == status
    assert result.reason == f"HTTP {status} from {server.url('/feed')}"


@pytest.mark.parametrize("status", [500, 502, 503])
def test_server_errors_are_transient(server: LoopbackServer, status: int) -> None:
    server.route("/feed", Reply(status))
    assert failed(fetch(LOCAL, server.url("/feed")), FailureKind.TRANSIENT).status == status


def test_429_with_retry_after_seconds_is_rate_limited(server: LoopbackServer) -> None:
    server.route("/feed", Reply(429, {"Retry-After": "120"}))
    result = failed(fetch(LOCAL, server.url("/feed")), FailureKind.RATE_LIMITED)
    assert (result.status, result.retry_after_s) == (429, 120.0)
    assert result.reason == f"HTTP 429 from {server.url('/feed')} (retry in 120 s)"


def test_429_with_retry_after_http_date_is_rate_limited(server: LoopbackServer) -> None:
    def later(_: Request) -> Reply:
        when = datetime.now(UTC) + timedelta(seconds=600)
        return Reply(429, {"Retry-After": email.utils.format_datetime(when, usegmt=True)})

    server.route("/feed", later)
    result = failed(fetch(LOCAL, server.url("/feed")), FailureKind.RATE_LIMITED)
    assert result.retry_after_s is not None and 590 <= result.retry_after_s <= 600


def test_503_with_retry_after_is_rate_limited_and_capped_at_a_day(server: LoopbackServer) -> None:
    server.route("/feed", Reply(503, {"Retry-After": "999999"}))
    result = failed(fetch(LOCAL, server.url("/feed")), FailureKind.RATE_LIMITED)
    assert result.retry_after_s == MAX_RETRY_AFTER_S == 86_400.0


def test_parse_retry_after_forms() -> None:
    now = datetime(2024, 1, 1, tzinfo=UTC)
    assert parse_retry_after("30", now) == 30.0
    assert parse_retry_after("Mon, 01 Jan 2024 00:02:00 GMT", now) == 120.0
    assert parse_retry_after("Sun, 31 Dec 2023 00:00:00 GMT", now) == 0.0  # in the past
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None


# --- redirects ---------------------------------------------------------------------------


def test_redirects_are_followed_and_the_final_url_reported(server: LoopbackServer) -> None:
    server.route("/old", Reply(301, {"Location": "/middle"}))
    server.route("/middle", Reply(302, {"Location": server.url("/new")}))
    server.route("/new", Reply(200, {"ETag": '"n"'}, RSS))
    result = fetch(LOCAL, server.url("/old"), Validators(etag='"n"'))
    assert isinstance(result, Fetched) and result.url == server.url("/new")
    assert server.targets() == ["/old", "/middle", "/new"]
    assert all(r.headers["if-none-match"] == '"n"' for r in server.requests)


def test_cookies_set_by_a_redirect_go_with_the_next_hops_of_this_fetch_only(
    proxy: LoopbackServer,
) -> None:
    """A consent wall: without its cookie /feed redirects to /consent, which sets the cookie and
    sends the client back. The next fetch starts without it (no cookies kept between fetches).
    Through the proxy, so that the host is a name (cookie stores ignore IP addresses)."""
    feed_url, consent_url = "http://wall.example/feed", "http://wall.example/consent"

    def feed(request: Request) -> Reply:
        if "consent=yes" in request.headers.get("cookie", ""):
            return Reply(200, body=RSS)
        return Reply(302, {"Location": "/consent"})

    proxy.route(feed_url, feed)
    proxy.route(consent_url, Reply(302, {"Location": "/feed", "Set-Cookie": "consent=yes; Path=/"}))
    first, second = fetch_all(via(proxy), [feed_url, feed_url])
    assert isinstance(first, Fetched) and first.body == RSS
    assert isinstance(second, Fetched)
    sent = [(r.target, r.headers.get("cookie")) for r in proxy.requests]
    assert sent == [(feed_url, None), (consent_url, None), (feed_url, "consent=yes")] * 2


def test_redirect_loop_is_capped_at_max_redirects(server: LoopbackServer) -> None:
    server.route("/a", Reply(302, {"Location": "/b"}))
    server.route("/b", Reply(302, {"Location": "/a"}))
    settings = HttpSettings(
        min_host_gap_s=0.0, timeout_s=3.0, allow_private_networks=True, max_redirects=3
    )
    result = failed(fetch(settings, server.url("/a")), FailureKind.PERMANENT)
    assert "more than 3 redirects" in result.reason
    assert len(server.requests) == 4  # the first request and three hops


def test_redirect_to_a_file_url_is_refused(server: LoopbackServer) -> None:
    server.route("/feed", Reply(302, {"Location": "file:///etc/passwd"}))
    result = failed(fetch(LOCAL, server.url("/feed")), FailureKind.PERMANENT)
    assert "unsupported URL" in result.reason


# --- body limits and decoding ------------------------------------------------------------


def test_gzip_body_is_decoded(server: LoopbackServer) -> None:
    server.route("/feed", Reply(200, {"Content-Encoding": "gzip"}, gzip.compress(RSS)))
    server.route("/raw", Reply(200, {"Content-Encoding": "deflate"}, _raw_deflate(RSS)))
    for path in ("/feed", "/raw"):
        result = fetch(LOCAL, server.url(path))
        assert isinstance(result, Fetched) and result.body == RSS
    assert server.requests[0].headers["accept-encoding"] == "gzip, deflate"


def _raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


def test_gzip_bomb_is_cut_off_quickly_without_inflating_it(server: LoopbackServer) -> None:
    bomb = gzip.compress(bytes(50_000_000), compresslevel=9)  # ~49 KB on the wire
    server.route("/bomb", Reply(200, {"Content-Encoding": "gzip"}, bomb))
    settings = HttpSettings(
        min_host_gap_s=0.0, timeout_s=3.0, allow_private_networks=True, max_bytes=1_000_000
    )
    tracemalloc.start()
    started = time.monotonic()
    try:
        result = fetch(settings, server.url("/bomb"))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert failed(result, FailureKind.PERMANENT).reason.startswith("body larger than 1000000 bytes")
    assert time.monotonic() - started < 5
    assert peak < 10_000_000  # nowhere near the 50 MB the bomb inflates to


def test_body_over_max_bytes_is_refused_by_content_length(server: LoopbackServer) -> None:
    server.route("/big", Reply(200, body=bytes(2000)))
    settings = HttpSettings(
        min_host_gap_s=0.0, timeout_s=3.0, allow_private_networks=True, max_bytes=1000
    )
    assert (
        "body larger than 1000 bytes"
        in failed(fetch(settings, server.url("/big")), FailureKind.PERMANENT).reason
    )


def test_body_exactly_max_bytes_is_accepted(server: LoopbackServer) -> None:
    server.route("/gz", Reply(200, {"Content-Encoding": "gzip"}, gzip.compress(bytes(1000))))
    settings = HttpSettings(
        min_host_gap_s=0.0, timeout_s=3.0, allow_private_networks=True, max_bytes=1000
    )
    result = fetch(settings, server.url("/gz"))
    assert isinstance(result, Fetched) and len(result.body) == 1000


def test_corrupt_gzip_body_is_a_failure_not_an_exception(server: LoopbackServer) -> None:
    server.route("/bad", Reply(200, {"Content-Encoding": "gzip"}, b"this is not gzip"))
    assert (
        "undecodable gzip" in failed(fetch(LOCAL, server.url("/bad")), FailureKind.TRANSIENT).reason
    )


# --- network failures --------------------------------------------------------------------


def test_slow_server_times_out_as_transient(server: LoopbackServer) -> None:
    server.route("/slow", Reply(200, body=RSS, delay_s=1.5))
    settings = HttpSettings(timeout_s=0.2, allow_private_networks=True)
    started = time.monotonic()
    result = failed(fetch(settings, server.url("/slow")), FailureKind.TRANSIENT)
    assert result.reason == f"no data for 0.2 s (timeout_s) from {server.url('/slow')}"
    assert time.monotonic() - started < 1.2


def test_a_trickling_server_is_cut_off_by_the_total_timeout_and_says_so(
    server: LoopbackServer,
) -> None:
    """Each byte comes within timeout_s, so only total_timeout_s can stop it: the message
    names that limit, not the read timeout."""
    server.route("/trickle", Reply(200, body=RSS, trickle_s=0.05))
    settings = HttpSettings(timeout_s=0.5, total_timeout_s=0.6, allow_private_networks=True)
    started = time.monotonic()
    result = failed(fetch(settings, server.url("/trickle")), FailureKind.TRANSIENT)
    assert result.reason == (
        f"no complete answer within 0.6 s (total_timeout_s) from {server.url('/trickle')}"
    )
    assert time.monotonic() - started < 1.5


def test_connection_refused_is_transient() -> None:
    with LoopbackServer() as gone:
        url = gone.url("/feed")
    assert "connection failed" in failed(fetch(LOCAL, url), FailureKind.TRANSIENT).reason


def test_unsupported_scheme_and_invalid_url_are_permanent() -> None:
    result = failed(fetch(LOCAL, "ftp://example.org/feed"), FailureKind.PERMANENT)
    assert result.reason.startswith("unsupported URL scheme 'ftp'")
    assert "invalid URL" in failed(fetch(LOCAL, "http://[zz]/"), FailureKind.PERMANENT).reason


# --- address guard -----------------------------------------------------------------------


def test_guard_blocks_loopback_unless_allowed(server: LoopbackServer) -> None:
    server.route("/feed", Reply(200, body=RSS))
    strict = HttpSettings(min_host_gap_s=0.0, timeout_s=3.0)
    result = failed(fetch(strict, server.url("/feed")), FailureKind.PERMANENT)
    assert result.reason.startswith("blocked private address 127.0.0.1")
    assert server.requests == []  # refused before connecting
    assert isinstance(fetch(strict, server.url("/feed"), allow_private=True), Fetched)
    assert isinstance(fetch(LOCAL, server.url("/feed")), Fetched)
    failed(fetch(LOCAL, server.url("/feed"), allow_private=False), FailureKind.PERMANENT)


def test_guard_blocks_localhost_names(server: LoopbackServer) -> None:
    url = f"http://localhost:{server.port}/feed"
    assert (
        "blocked private address"
        in failed(
            fetch(HttpSettings(min_host_gap_s=0.0, timeout_s=3.0), url), FailureKind.PERMANENT
        ).reason
    )


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255", "::1", "::", "fe80::1",
        "fc00::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "2002:7f00:1::",
        "64:ff9b::a00:1",
    ],
)  # fmt: skip
def test_netguard_forbids_non_public_addresses(address: str) -> None:
    assert netguard.is_forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1::1", "::ffff:8.8.8.8"])
def test_netguard_allows_public_addresses(address: str) -> None:
    assert not netguard.is_forbidden(ipaddress.ip_address(address))


@pytest.mark.parametrize("host", ["127.1", "0x7f000001", "2130706433", "[::1]", "localhost."])
def test_netguard_refuses_literals_without_resolving(host: str) -> None:
    assert asyncio.run(netguard.forbidden_address(host, 80, resolve=False)) is not None


def test_netguard_leaves_names_to_the_proxy_when_not_resolving() -> None:
    assert asyncio.run(netguard.forbidden_address("feeds.example", 80, resolve=False)) is None


def _fetch_resolving(
    settings: HttpSettings, url: str, answers: list[str], **kwargs: Any
) -> tuple[FetchResult, list[str], list[str]]:
    """Fetch ``url`` on a loop whose ``getaddrinfo`` gives ``answers[n]`` at its n-th call (the
    last one from then on) and whose connections to anything but loopback are refused without
    a packet sent. Returns the result, the names looked up and the addresses connected to."""
    looked_up: list[str] = []
    connected: list[str] = []

    async def run() -> FetchResult:
        loop = asyncio.get_running_loop()
        real_connect = loop.sock_connect

        async def getaddrinfo(host: Any, port: Any, *args: Any, **kw: Any) -> Any:
            looked_up.append(str(host))
            address = answers[min(len(looked_up), len(answers)) - 1]
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, int(port or 0)))]

        async def sock_connect(sock: socket.socket, address: Any) -> None:
            connected.append(str(address[0]))
            if address[0] != "127.0.0.1":
                raise ConnectionRefusedError(111, "refused by the test (no packet sent)")
            await real_connect(sock, address)

        loop.getaddrinfo = getaddrinfo  # type: ignore[method-assign]
        loop.sock_connect = sock_connect  # type: ignore[method-assign]
        async with Fetcher(settings) as fetcher:
            return await fetcher.fetch(url, **kwargs)

    return asyncio.run(run()), looked_up, connected


STRICT = HttpSettings(min_host_gap_s=0.0, timeout_s=3.0)


def test_a_name_is_checked_by_the_resolver_the_connection_uses(server: LoopbackServer) -> None:
    """One lookup per hop, inside aiohttp's connector: a name that resolves to loopback is
    refused there, before any connection."""
    server.route("/feed", Reply(200, body=RSS))
    url = f"http://feeds.test:{server.port}/feed"
    result, looked_up, connected = _fetch_resolving(STRICT, url, ["127.0.0.1"])
    assert failed(result, FailureKind.PERMANENT).reason == (
        f"blocked private address 127.0.0.1 for {url}"
    )
    assert (looked_up, connected, server.requests) == (["feeds.test"], [], [])
    allowed, looked_up, _ = _fetch_resolving(STRICT, url, ["127.0.0.1"], allow_private=True)
    assert isinstance(allowed, Fetched) and looked_up == ["feeds.test"]


def test_dns_rebinding_between_check_and_connect_is_impossible(server: LoopbackServer) -> None:
    """A name that answers a public address first and loopback afterwards (DNS rebinding):
    the connection goes to the address that was checked, never to loopback."""
    server.route("/feed", Reply(200, body=RSS))
    url = f"http://rebind.test:{server.port}/feed"
    result, looked_up, connected = _fetch_resolving(STRICT, url, ["93.184.216.34", "127.0.0.1"])
    assert "connection failed" in failed(result, FailureKind.TRANSIENT).reason
    assert looked_up == ["rebind.test"]
    assert connected == ["93.184.216.34"] and server.requests == []


@pytest.mark.parametrize(
    "host",
    [
        "%31%32%37.0.0.1",
        "127.0.0.1%2e",
        "ex%41mple.com",
        "0x7f.1",
        "127.1",
        "2130706433",
        "0x08080808",
        "a..b",
        "-dash.example",
    ],
)
def test_non_canonical_hosts_are_refused_before_reaching_a_proxy(
    server: LoopbackServer, host: str
) -> None:
    """Through a proxy names are not resolved here: a host the proxy could read differently
    (percent-decoding it, or a legacy IPv4 spelling) is refused before anything is sent."""
    settings = HttpSettings(min_host_gap_s=0.0, timeout_s=3.0, proxy=server.url(""))
    result = failed(fetch(settings, f"http://{host}/feed"), FailureKind.PERMANENT)
    assert "non-canonical" in result.reason or "malformed" in result.reason, result.reason
    assert server.requests == []


@pytest.mark.parametrize(
    "host", ["news.example.org", "news.example.org.", "xn--bcher-kva.example", "a_b.example"]
)
def test_canonical_hosts_pass(host: str) -> None:
    assert netguard.host_problem(host) is None


# --- file URLs ---------------------------------------------------------------------------


def test_file_url_is_read_and_unchanged_file_is_not_modified(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(RSS)
    first = fetch(HttpSettings(), path.as_uri())
    assert isinstance(first, Fetched) and first.body == RSS
    assert first.content_type == "application/xml" and first.validators.etag
    assert fetch(HttpSettings(), path.as_uri(), first.validators) == NotModified(path.as_uri())


def test_missing_file_is_permanent_and_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "missing.xml"
    result = failed(fetch(HttpSettings(), path.as_uri()), FailureKind.PERMANENT)
    assert str(path) in result.reason


def test_file_over_max_bytes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.xml"
    path.write_bytes(bytes(2000))
    result = failed(fetch(HttpSettings(max_bytes=1000), path.as_uri()), FailureKind.PERMANENT)
    assert "body larger than 1000 bytes" in result.reason


# --- proxy -------------------------------------------------------------------------------


def test_http_urls_go_through_the_proxy_in_absolute_form(proxy: LoopbackServer) -> None:
    proxy.route("http://feeds.example/rss", Reply(200, {"ETag": '"p"'}, RSS))
    result = fetch(via(proxy), "http://feeds.example/rss")
    assert isinstance(result, Fetched) and result.body == RSS
    assert result.url == "http://feeds.example/rss"
    assert proxy.targets() == ["http://feeds.example/rss"]
    assert proxy.requests[0].headers["host"] == "feeds.example"


@pytest.mark.parametrize(
    "connect_reply",
    [Reply(405), Reply(501), Reply(404), Reply(close=True), Reply(200)],
    ids=["405", "501", "404", "hangs-up", "200-then-no-tls"],
)
def test_https_urls_fall_back_to_absolute_form_on_a_plain_proxy(
    proxy: LoopbackServer, connect_reply: Reply
) -> None:
    proxy.route("secure.example:443", connect_reply)
    proxy.route("https://secure.example/rss", Reply(200, {"ETag": '"s"'}, RSS))
    proxy.route("https://secure.example/atom?x=1", Reply(200, body=b"<feed/>"))
    urls = ["https://secure.example/rss", "https://secure.example/atom?x=1"]
    first, second = fetch_all(via(proxy), urls)
    assert isinstance(first, Fetched) and first.body == RSS and first.url == urls[0]
    assert isinstance(second, Fetched) and second.body == b"<feed/>"
    # The second went straight. (aiohttp sends a request once more when its connection was
    # dropped before any answer, as RFC 9112 9.3.1 allows: hence the hang-up's two CONNECTs.)
    connects = ["secure.example:443"] * (2 if connect_reply.close else 1)
    assert proxy.targets("CONNECT") == connects
    assert proxy.targets("GET") == urls
    assert {r.headers["host"] for r in proxy.requests if r.method == "GET"} == {"secure.example"}


def test_proxy_redirects_are_followed_and_checked_before_connecting(
    proxy: LoopbackServer,
) -> None:
    proxy.route("http://feeds.example/old", Reply(301, {"Location": "/new"}))
    proxy.route("http://feeds.example/new", Reply(200, body=RSS))
    proxy.route("http://feeds.example/evil", Reply(302, {"Location": "http://10.255.255.1/"}))
    proxy.route("http://feeds.example/evil6", Reply(302, {"Location": "http://[::1]:8080/"}))
    urls = ["http://feeds.example/old", "http://feeds.example/evil", "http://feeds.example/evil6"]
    moved, evil, evil6 = fetch_all(via(proxy), urls)
    assert isinstance(moved, Fetched) and moved.url == "http://feeds.example/new"
    assert "blocked private address 10.255.255.1" in failed(evil, FailureKind.PERMANENT).reason
    assert "blocked private address ::1" in failed(evil6, FailureKind.PERMANENT).reason
    assert proxy.targets() == ["http://feeds.example/old", "http://feeds.example/new", *urls[1:]]


def test_proxy_does_not_relay_private_ip_literals(proxy: LoopbackServer) -> None:
    result = failed(fetch(via(proxy), "http://192.168.0.1/admin"), FailureKind.PERMANENT)
    assert "blocked private address 192.168.0.1" in result.reason
    assert proxy.requests == []


# --- concurrency -------------------------------------------------------------------------


def _in_flight_counter(server: LoopbackServer, paths: list[str]) -> list[int]:
    """Route ``paths`` to a slow reply that records the peak number of requests in flight."""
    lock, state, peak = threading.Lock(), [0], [0]

    def slow(_: Request) -> Reply:
        with lock:
            state[0] += 1
            peak[0] = max(peak[0], state[0])
        time.sleep(0.15)
        with lock:
            state[0] -= 1
        return Reply(200, body=RSS)

    for path in paths:
        server.route(path, slow)
    return peak


# (8, 16, 4): all four requests at once when neither limit holds them back.
@pytest.mark.parametrize(("per_host", "overall", "expected"), [(1, 16, 1), (8, 2, 2), (8, 16, 4)])
def test_requests_in_flight_are_bounded(
    server: LoopbackServer, per_host: int, overall: int, expected: int
) -> None:
    paths = [f"/f{i}" for i in range(4)]
    peak = _in_flight_counter(server, paths)
    settings = HttpSettings(
        timeout_s=3.0,
        min_host_gap_s=0.0,
        allow_private_networks=True,
        per_host_concurrency=per_host,
        max_concurrency=overall,
    )

    async def run() -> list[FetchResult]:
        async with Fetcher(settings) as fetcher:
            return await asyncio.gather(*(fetcher.fetch(server.url(p)) for p in paths))

    assert all(isinstance(r, Fetched) for r in asyncio.run(run()))
    assert peak[0] == expected


def test_a_request_waiting_for_its_hosts_turn_does_not_hold_back_other_hosts(
    proxy: LoopbackServer,
) -> None:
    """One global slot, a 1 s gap: b.example's request goes while a.example's second request
    waits for its turn (it used to wait with the only global slot in hand)."""
    arrived: dict[str, float] = {}

    def record(request: Request) -> Reply:
        arrived[request.target] = time.monotonic()
        return Reply(200, body=RSS)

    for url in ("http://a.example/1", "http://a.example/2", "http://b.example/1"):
        proxy.route(url, record)
    settings = replace(via(proxy, max_concurrency=1, per_host_concurrency=2), min_host_gap_s=1.0)

    async def run() -> list[FetchResult]:
        async with Fetcher(settings) as fetcher:
            first = asyncio.create_task(fetcher.fetch("http://a.example/1"))
            second = asyncio.create_task(fetcher.fetch("http://a.example/2"))
            await asyncio.sleep(0.2)  # a.example/2 is now waiting for a.example's next turn
            other = asyncio.create_task(fetcher.fetch("http://b.example/1"))
            return await asyncio.gather(first, second, other)

    started = time.monotonic()
    assert all(isinstance(r, Fetched) for r in asyncio.run(run()))
    assert arrived["http://b.example/1"] - started < 0.7
    assert arrived["http://a.example/2"] - arrived["http://a.example/1"] >= 1.0


def test_https_tunnel_errors_that_a_plain_proxy_does_not_explain_are_transient(
    proxy: LoopbackServer,
) -> None:
    proxy.route("secure.example:443", Reply(502))
    result = failed(fetch(via(proxy), "https://secure.example/rss"), FailureKind.TRANSIENT)
    assert "proxy" in result.reason and "502" in result.reason
    assert proxy.targets("GET") == []  # a tunnelling proxy that failed: no absolute-form retry


def test_absolute_form_retry_answer_is_kept_only_when_the_tunnel_was_refused(
    proxy: LoopbackServer,
) -> None:
    proxy.route("refused.example:443", Reply(405))
    proxy.route("broken.example:443", Reply(close=True))
    urls = ["https://broken.example/rss", "https://refused.example/rss"]
    broken, refused = fetch_all(via(proxy), urls)  # the proxy has no page for either: 404
    assert "disconnected" in failed(broken, FailureKind.TRANSIENT).reason
    assert failed(refused, FailureKind.PERMANENT).status == 404
    assert proxy.targets("GET") == urls


def test_requests_in_absolute_form_share_the_proxys_connections(proxy: LoopbackServer) -> None:
    """Four hosts over plain HTTP through the proxy: one connection to it, not one per host;
    then four https hosts after the proxy refused the tunnel: one more for all of them."""
    plain = [f"http://h{n}.example/rss" for n in range(4)]
    secure = [f"https://s{n}.example/rss" for n in range(4)]
    for url in plain + secure:
        proxy.route(url, Reply(200, body=RSS))
    proxy.route("s0.example:443", Reply(405))
    assert all(isinstance(r, Fetched) for r in fetch_all(via(proxy), plain))
    assert len(proxy.connections) == 1
    assert all(isinstance(r, Fetched) for r in fetch_all(via(proxy), secure))
    assert proxy.targets("CONNECT") == ["s0.example:443"]
    assert len(proxy.connections) == 1 + 2  # the refused tunnel's, then one in absolute form


def test_proxy_credentials_are_sent_in_both_forms(proxy: LoopbackServer) -> None:
    proxy.route("http://feeds.example/rss", Reply(200, body=RSS))
    proxy.route("https://secure.example/rss", Reply(200, body=RSS))
    settings = HttpSettings(
        min_host_gap_s=0.0, timeout_s=3.0, proxy=f"http://user:pw@127.0.0.1:{proxy.port}"
    )
    results = fetch_all(settings, ["http://feeds.example/rss", "https://secure.example/rss"])
    assert all(isinstance(r, Fetched) for r in results)
    gets = [r for r in proxy.requests if r.method == "GET"]
    assert [r.headers.get("proxy-authorization") for r in gets] == ["Basic dXNlcjpwdw=="] * 2
    assert all("authorization" not in r.headers for r in gets)


def test_fetcher_must_be_entered_before_use(server: LoopbackServer) -> None:
    async def run() -> FetchResult:
        return await Fetcher(LOCAL).fetch(server.url("/feed"))

    with pytest.raises(RuntimeError, match="async with"):
        asyncio.run(run())
