"""The fetch stage: a URL in, a :data:`~ingestd.model.FetchResult` value out.

``http``/``https`` go through aiohttp, ``file`` URLs are read from disk. Network and HTTP
problems are :class:`~ingestd.model.FetchFailed` values; only programming errors raise.

* Validators are sent as ``If-None-Match``/``If-Modified-Since``; 304 gives ``NotModified``.
* Redirects are followed here, at most ``max_redirects`` hops, each checked by the address
  guard (:mod:`ingestd.netguard`): its host must be written canonically and, unless private
  networks are allowed, an IP literal must be public before anything is sent, and a name's
  addresses are checked by the connector's own resolver, so the connection goes to exactly
  the addresses checked. Cookies a redirect sets are
  sent on the later hops to its host (a consent or bot check that redirects back), and
  forgotten when the fetch ends: a daemon polling for months keeps no cookie store.
* ``max_bytes`` bounds the *decoded* body: gzip/deflate are inflated here chunk by chunk, never
  beyond the bytes still allowed, so a compression bomb costs no memory.
* Each hop holds a per-host slot (``per_host_concurrency``), then a global one.
* aiohttp rather than httpx: on loopback, 16 requests at once, aiohttp spent 0.12-0.16 ms of
  CPU per request on kept-alive connections where httpx spent 0.9-3.3 ms (its pool looks at
  every pooled connection on each request), and 0.42-0.46 ms against 1.3-1.8 ms on new
  connections. The daemon's main process spends most of a pass with nothing new on requests.
* With ``proxy`` set, every request goes through it and it resolves names. https is tunnelled
  (``CONNECT``) first; if the proxy refuses the tunnel (4xx but 407, or 501), hangs up, or TLS
  in the tunnel fails, the request is sent once more in absolute form (``GET https://...``
  over plain HTTP to the proxy), as plain forward and replay proxies expect. Once such a retry
  gets a status below 400, later https requests go that way directly (the proxy then checks
  certificates).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import hashlib
import mimetypes
import time
import zlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit
from urllib.request import url2pathname

import aiohttp
from aiohttp.client_reqrep import ConnectionKey
from yarl import URL

from ingestd import netguard
from ingestd.config import HttpSettings
from ingestd.model import FailureKind, Fetched, FetchFailed, FetchResult, NotModified, Validators

__all__ = ["MAX_RETRY_AFTER_S", "Fetcher", "HostTurns", "parse_retry_after"]

MAX_RETRY_AFTER_S = 86_400.0  # Retry-After values are capped at 24 h
GAP_SLACK_S = 0.05  # added to min_host_gap_s so that servers never see requests closer
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}
_ACCEPT_ENCODING = "gzip, deflate"  # the codings _Inflater decodes within max_bytes
_MAX_HEADER_BYTES = 65_536  # per header line (aiohttp's default, 8 KiB, is short of some CSPs)


class HostTurns(Protocol):
    """Request turns per host shared by several workers (e.g. through the database)."""

    async def reserve(self, host: str, gap_s: float) -> float:
        """Reserve the next request start for ``host``; returns seconds to wait for it."""
        ...

    async def acquire(self, host: str, limit: int, hold_s: float) -> int:
        """Wait for one of ``host``'s ``limit`` request slots (held at most ``hold_s``)."""
        ...

    async def release(self, host: str, slot: int) -> None:
        """Give a slot back."""
        ...


@dataclass(frozen=True)
class _Redirect:
    """A hop answered with a redirect to ``location`` (absolute)."""

    location: URL
    permanent: bool  # 301 or 308
    cookies: tuple[tuple[str, str], ...] = ()  # what the redirect set (name, value)


@dataclass
class _HostSlot:
    """One host's semaphore and how many hops hold or await it."""

    semaphore: asyncio.Semaphore
    users: int = 0


class _Request(aiohttp.ClientRequest):
    """A request whose connection, when it goes to the proxy in absolute form (``GET
    http://host/path``), is any of the proxy's: aiohttp's pool keys connections by the target
    host, which opened a new connection to the proxy for every host. A tunnel (``CONNECT``)
    leads to one host and stays keyed by it."""

    @property
    def connection_key(self) -> ConnectionKey:
        key = super().connection_key
        if self.proxy is None or self.is_ssl():
            return key
        return key._replace(host=self.proxy.raw_host or "", port=self.proxy.port, is_ssl=False)


class _AbsoluteForm(_Request):
    """A request that goes to the proxy as ``GET https://host/path`` over plain HTTP.

    aiohttp tunnels (``CONNECT``) every request whose ``is_ssl()`` is true and otherwise sends
    the URL in absolute form to the proxy, which then speaks TLS to the origin itself."""

    def is_ssl(self) -> bool:
        return False


class Fetcher:
    """Async fetcher; one per run. Use as ``async with Fetcher(settings) as f:``."""

    def __init__(self, settings: HttpSettings, turns: HostTurns | None = None) -> None:
        """``turns`` shares each host's request turns with other workers (PostgreSQL); without
        it the minimum gap between requests to one host is kept within this process."""
        self._settings = settings
        self._turns = turns
        self._proxy = URL(settings.proxy) if settings.proxy else None
        self._session: aiohttp.ClientSession | None = None  # guarded, unless through a proxy
        self._private: aiohttp.ClientSession | None = None  # unguarded: allow_private requests
        self._absolute: aiohttp.ClientSession | None = None  # made for the first absolute form
        self._https_absolute = False  # the proxy does not tunnel: send https in absolute form
        self._global = asyncio.Semaphore(settings.max_concurrency)
        self._hosts: dict[str, _HostSlot] = {}
        self._next_start: dict[str, float] = {}  # host → loop time its next request may start

    async def __aenter__(self) -> Fetcher:
        self._session = self._make_session(_Request, guarded=self._proxy is None)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for session in (self._session, self._private, self._absolute):
            if session is not None:
                await session.close()
        self._session = self._private = self._absolute = None

    def _make_session(
        self, request_class: type[aiohttp.ClientRequest], guarded: bool = False
    ) -> aiohttp.ClientSession:
        """A session with the configured timeouts and connection limit, no environment proxy
        and no decoding of the body (see :func:`_read_limited`). TLS certificates are checked
        against the system's store (``SSL_CERT_FILE``/``SSL_CERT_DIR`` are honoured).
        ``guarded``: names resolve through :class:`~ingestd.netguard.GuardedResolver`."""
        settings = self._settings
        resolver = netguard.GuardedResolver() if guarded else None
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=settings.max_concurrency, limit_per_host=0, resolver=resolver
            ),
            timeout=aiohttp.ClientTimeout(
                total=None, connect=settings.timeout_s, sock_read=settings.timeout_s
            ),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": _ACCEPT_ENCODING},
            auto_decompress=False,
            max_field_size=_MAX_HEADER_BYTES,
            max_line_size=_MAX_HEADER_BYTES,
            trust_env=False,  # the [http] proxy setting is the only proxy
            cookie_jar=aiohttp.DummyCookieJar(),  # no cookies kept between fetches: see _follow
            request_class=request_class,
        )

    async def fetch(
        self,
        url: str,
        validators: Validators | None = None,
        *,
        allow_private: bool | None = None,
        accept: str | None = None,
    ) -> FetchResult:
        """Fetch ``url``; ``allow_private`` overrides ``allow_private_networks`` unless None.

        ``accept`` is sent as the ``Accept`` header. Never raises for network or HTTP problems.
        """
        scheme = url.partition(":")[0].lower() if ":" in url else ""
        if scheme == "file":
            return await asyncio.to_thread(_read_file, url, self._settings.max_bytes, validators)
        if scheme not in _DEFAULT_PORTS:
            return _failed(url, f"unsupported URL scheme {scheme!r} in {url}")
        if allow_private is None:
            allow_private = self._settings.allow_private_networks
        headers = _request_headers(validators, accept)
        return await self._follow(url, headers, allow_private)

    async def _follow(self, url: str, headers: dict[str, str], allow_private: bool) -> FetchResult:
        """Request ``url`` and follow its redirects, checking every hop with the guard."""
        try:
            current = _parse_url(url)
        except ValueError as exc:
            return _failed(url, f"invalid URL {url}: {exc}")
        permanent = True  # so far every redirect hop was 301/308
        jars: dict[str, dict[str, str]] = {}  # host → cookies its redirects set, this fetch only
        for hop in range(self._settings.max_redirects + 1):
            refusal = await self._guard(current, allow_private)
            if refusal is not None:
                return refusal
            host = current.raw_host or ""
            outcome = await self._hop(
                current, _with_cookies(headers, jars.get(host)), allow_private
            )
            if not isinstance(outcome, _Redirect):
                moved = str(current) if hop and permanent else None
                return _with_move(outcome, moved)
            if outcome.cookies:
                jars.setdefault(host, {}).update(outcome.cookies)
            permanent = permanent and outcome.permanent
            current = outcome.location
            if current.scheme not in _DEFAULT_PORTS:
                return _failed(str(current), f"redirect to unsupported URL {current} from {url}")
        limit = self._settings.max_redirects
        return _failed(str(current), f"more than {limit} redirects from {url}")

    async def _guard(self, url: URL, allow_private: bool) -> FetchFailed | None:
        """Refuse a hop whose host is missing or not written canonically, or (unless allowed)
        an IP literal or ``localhost`` in a private network. Names are checked as they are
        resolved for the connection (see :meth:`_make_session`), not here."""
        host = url.raw_host
        if not host:
            return _failed(str(url), f"no host in URL {url}")
        problem = netguard.host_problem(host)
        if problem is not None:
            return _failed(str(url), f"{problem} in {url}")
        if allow_private:
            return None
        port = url.port or _DEFAULT_PORTS[url.scheme]
        blocked = await netguard.forbidden_address(host, port, resolve=False)
        if blocked is not None:
            return _failed(str(url), f"blocked private address {blocked} for {url}")
        return None

    @contextlib.asynccontextmanager
    async def _slot(self, host: str) -> AsyncIterator[None]:
        """Hold one of ``host``'s slots, wait for the host's turn, then hold a global slot."""
        per_host = self._settings.per_host_concurrency
        slot = self._hosts.setdefault(host, _HostSlot(asyncio.Semaphore(per_host)))
        slot.users += 1
        try:
            async with slot.semaphore, self._shared_slot(host), self._turn(host):
                yield
        finally:
            slot.users -= 1
            if slot.users == 0:
                del self._hosts[host]

    @contextlib.asynccontextmanager
    async def _shared_slot(self, host: str) -> AsyncIterator[None]:
        """With shared turns, also hold one of the host's slots counted across all workers."""
        if self._turns is None:
            yield
            return
        hold_s = self._settings.total_timeout_s + 5  # a dead worker's slot frees itself then
        number = await self._turns.acquire(host, self._settings.per_host_concurrency, hold_s)
        try:
            yield
        finally:
            await self._turns.release(host, number)

    @contextlib.asynccontextmanager
    async def _turn(self, host: str) -> AsyncIterator[None]:
        """Start requests to one host at least ``min_host_gap_s`` apart (feeds and pages alike,
        across workers when turns are shared), holding a global slot only once the turn has come:
        a request waiting for its host's turn must not keep other hosts' requests from going.
        A turn missed while waiting for a global slot (or woken up late on a busy machine) is
        given back for a new one, so that a late request never lands on the next one's heels.
        """
        if self._settings.min_host_gap_s <= 0:
            async with self._global:
                yield
            return
        # Turns are spaced a little wider than the gap: the server sees a request only after
        # its connection is set up, which takes longer for some requests than for others.
        gap = self._settings.min_host_gap_s + GAP_SLACK_S
        for attempt in range(5):
            wait = await self._reserve(host, gap)
            due = time.monotonic() + wait
            if wait > 0:
                await asyncio.sleep(wait)
            await self._global.acquire()
            if time.monotonic() - due <= GAP_SLACK_S or attempt == 4:
                break
            self._global.release()
        try:
            yield
        finally:
            self._global.release()

    async def _reserve(self, host: str, gap: float) -> float:
        """Seconds until this host's next turn, which is hereby taken."""
        if self._turns is not None:
            return await self._turns.reserve(host, gap)
        now = time.monotonic()
        start = max(now, self._next_start.get(host, 0.0))
        self._next_start[host] = start + gap
        if len(self._next_start) > 4096:  # forget hosts whose gap is long over
            self._next_start = {h: t for h, t in self._next_start.items() if t > now}
        return start - now

    async def _hop(
        self, url: URL, headers: dict[str, str], allow_private: bool
    ) -> FetchResult | _Redirect:
        """One request, classified; transport errors become TRANSIENT failures, an address the
        guard refuses a PERMANENT one.

        ``total_timeout_s`` bounds the request itself (connection, answer and body), not the
        wait for the host's slot and turn: politeness towards a busy host is no failure."""
        session = self._session_for(allow_private)
        async with self._slot(url.raw_host or ""):
            limit = self._settings.total_timeout_s
            budget = asyncio.timeout(limit)
            try:
                async with budget:
                    response = await self._open(session, url, headers)
                    try:
                        return await self._outcome(url, response)
                    finally:
                        response.release()
            except aiohttp.InvalidURL as exc:
                return _failed(str(url), f"invalid URL {url}: {exc}")
            except TimeoutError as exc:  # before OSError, its base class: which limit fired
                if budget.expired():
                    reason = f"no complete answer within {limit:g} s (total_timeout_s) from {url}"
                    return FetchFailed(str(url), FailureKind.TRANSIENT, reason)
                return _transport_failure(str(url), exc, self._settings.timeout_s)
            except aiohttp.ClientConnectorError as exc:
                return _connector_failure(url, exc, self._settings.timeout_s)
            except (aiohttp.ClientError, OSError) as exc:
                return _transport_failure(str(url), exc, self._settings.timeout_s)

    def _session_for(self, allow_private: bool) -> aiohttp.ClientSession:
        """The guarded session, or (private networks allowed, no proxy) an unguarded one."""
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        if not allow_private or self._proxy is not None:
            return self._session
        if self._private is None:
            self._private = self._make_session(_Request)
        return self._private

    async def _open(
        self, session: aiohttp.ClientSession, url: URL, headers: dict[str, str]
    ) -> aiohttp.ClientResponse:
        """Send a GET for ``url``; the response's body is unread and the caller must release it."""
        if url.scheme == "https" and self._https_absolute:
            return await self._open_absolute(url, headers)
        try:
            return await session.get(
                url.with_fragment(None), headers=headers, proxy=self._proxy, allow_redirects=False
            )
        except aiohttp.ClientError as exc:
            failure = _tunnel_failure(exc) if self._proxy and url.scheme == "https" else None
            if failure is None:
                raise
            refused = failure == "refused"
            return await self._retry_absolute(url, headers, exc, refused=refused)

    async def _retry_absolute(
        self, url: URL, headers: dict[str, str], exc: aiohttp.ClientError, *, refused: bool
    ) -> aiohttp.ClientResponse:
        """Retry a failed tunnelled request in absolute form; re-raise ``exc`` if that fails too.

        The retry's answer is kept when it is below 400, or whatever it is when the proxy
        refused the tunnel outright; only then do later https requests skip the tunnel.
        """
        try:
            response = await self._open_absolute(url, headers)
        except aiohttp.ClientError:
            raise exc from None
        self._https_absolute = self._https_absolute or response.status < 400
        if response.status < 400 or refused:
            return response
        response.release()
        raise exc

    async def _open_absolute(self, url: URL, headers: dict[str, str]) -> aiohttp.ClientResponse:
        """Send ``GET <absolute url>`` straight to the proxy, as to a plain forward proxy."""
        if self._absolute is None:
            self._absolute = self._make_session(_AbsoluteForm)
        return await self._absolute.get(
            url.with_fragment(None), headers=headers, proxy=self._proxy, allow_redirects=False
        )

    async def _outcome(self, url: URL, response: aiohttp.ClientResponse) -> FetchResult | _Redirect:
        """Turn a response into a result, reading the body only for 2xx."""
        status = response.status
        if status in _REDIRECT_STATUSES:
            return _redirect(url, response)
        if status == 304:
            return NotModified(str(url))
        if 200 <= status < 300:
            return await self._body(url, response)
        return _status_failure(str(url), response)

    async def _body(self, url: URL, response: aiohttp.ClientResponse) -> FetchResult:
        """Read and decode the body, failing as soon as it exceeds ``max_bytes``."""
        limit, status = self._settings.max_bytes, response.status
        too_large = _failed(str(url), f"body larger than {limit} bytes from {url}")
        coding = response.headers.get("content-encoding", "identity").strip().lower()
        length = response.headers.get("content-length", "")
        if coding == "identity" and length.isdigit() and int(length) > limit:
            return too_large
        try:
            body = await _read_limited(response, coding, limit)
        except zlib.error:
            reason = f"undecodable {coding} body from {url}"
            return FetchFailed(str(url), FailureKind.TRANSIENT, reason, status)
        if body is None:
            return too_large
        headers = _header_dict(response.headers)
        validators = Validators(headers.get("etag"), headers.get("last-modified"))
        content_type = headers.get("content-type")
        return Fetched(str(url), status, body, content_type, validators, headers)


class _Inflater:
    """Decodes gzip or deflate chunk by chunk without producing more than asked for."""

    def __init__(self, coding: str) -> None:
        self._passthrough = coding not in ("gzip", "x-gzip", "deflate")
        self._raw_fallback = coding == "deflate"  # some servers send raw deflate, no zlib header
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header

    def feed(self, data: bytes, max_out: int) -> bytes:
        """Decode ``data``; at most ``max_out`` bytes, truncated (input left over) if more."""
        if self._passthrough:
            return data[:max_out]
        try:
            out = self._zlib.decompress(data, max_out)
        except zlib.error:
            if not self._raw_fallback:
                raise
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, max_out)
        self._raw_fallback = False
        return out

    def flush(self) -> bytes:
        """Whatever output is still buffered at the end of the body."""
        return b"" if self._passthrough else self._zlib.flush()


async def _read_limited(response: aiohttp.ClientResponse, coding: str, limit: int) -> bytes | None:
    """The decoded body, or None as soon as it is known to exceed ``limit`` bytes.

    Raises :class:`zlib.error` for a corrupt gzip/deflate body.
    """
    inflater = _Inflater(coding)
    chunks: list[bytes] = []
    size = 0
    async for raw in response.content.iter_any():
        piece = inflater.feed(raw, limit - size + 1)
        size += len(piece)
        if size > limit:
            return None
        chunks.append(piece)
    tail = inflater.flush()
    if size + len(tail) > limit:
        return None
    chunks.append(tail)
    return b"".join(chunks)


def _with_move(result: FetchResult, moved_to: str | None) -> FetchResult:
    """The result, noting that the URL moved permanently to ``moved_to``."""
    if moved_to is None or isinstance(result, FetchFailed):
        return result
    return dataclasses.replace(result, moved_to=moved_to)


def _with_cookies(headers: dict[str, str], cookies: dict[str, str] | None) -> dict[str, str]:
    """``headers`` with a Cookie header for ``cookies``, if any."""
    if not cookies:
        return headers
    return {**headers, "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def _request_headers(validators: Validators | None, accept: str | None) -> dict[str, str]:
    """Per-request headers: Accept and the conditional-request validators, when given."""
    v = validators or Validators()
    pairs = {"Accept": accept, "If-None-Match": v.etag, "If-Modified-Since": v.last_modified}
    # A validator with non-ASCII characters cannot be sent back byte for byte: none is sent
    # (the answer is then a 200, whose body is compared with the last one instead).
    return {name: value for name, value in pairs.items() if value and value.isascii()}


def _redirect(url: URL, response: aiohttp.ClientResponse) -> _Redirect | FetchFailed:
    """The absolute target of a redirect response."""
    status = response.status
    location = _readable(response.headers.get("location", "")).strip()
    if not location:
        return _failed(str(url), f"HTTP {status} without Location from {url}", status)
    try:
        target = url.join(_parse_url(location))
    except ValueError:
        return _failed(str(url), f"HTTP {status} with bad Location from {url}", status)
    cookies = tuple((name, morsel.value) for name, morsel in response.cookies.items())
    return _Redirect(target, permanent=status in (301, 308), cookies=cookies)


def _parse_url(text: str) -> URL:
    """``text`` as a URL; ValueError if it cannot be one (a bad IPv6 literal or port), or if its
    host holds characters no host name has (spaces, controls), which yarl would pass on."""
    url = URL(text)
    host = url.raw_host
    if host is not None and (not host.isprintable() or " " in host):
        raise ValueError(f"invalid host {host!r}")
    return url


def _header_dict(headers: Mapping[str, str]) -> dict[str, str]:
    """Response headers with lower-cased names, the values of a repeated header joined by ", ".

    A value that is not UTF-8 reads as ISO-8859-1 (aiohttp leaves such bytes as lone
    surrogates, which no database or log can encode)."""
    joined: dict[str, str] = {}
    for name, raw in headers.items():
        key = name.lower()
        value = _readable(raw)
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def _readable(value: str) -> str:
    """A header value from aiohttp as text: bytes that were not UTF-8 (left as lone surrogates)
    read as ISO-8859-1."""
    if value.isascii() or not any("\udc80" <= char <= "\udcff" for char in value):
        return value
    return value.encode("utf-8", "surrogateescape").decode("latin-1")


def _status_failure(url: str, response: aiohttp.ClientResponse) -> FetchFailed:
    """Classify a non-2xx, non-redirect, non-304 status.

    429, or 503 with a usable Retry-After, is RATE_LIMITED; 5xx and 408 are TRANSIENT; anything
    else (404, 410, 403, ...) is PERMANENT.
    """
    status = response.status
    reason = f"HTTP {status} from {url}"
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429 or (status == 503 and retry_after is not None):
        if retry_after is not None:
            reason += f" (retry in {retry_after:.0f} s)"
        return FetchFailed(url, FailureKind.RATE_LIMITED, reason, status, retry_after)
    if status >= 500 or status == 408:
        return FetchFailed(url, FailureKind.TRANSIENT, reason, status)
    return _failed(url, reason, status)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), capped at 24 h.

    Past dates give 0, a missing or unreadable value None; ``now`` defaults to the UTC time.
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def _tunnel_failure(exc: aiohttp.ClientError) -> str | None:
    """Why a tunnelled https request through the proxy failed, if a plain proxy explains it.

    "refused": the proxy answered CONNECT with a 4xx other than 407, or 501. "broken": it hung
    up, or the TLS inside the tunnel failed. None: anything else (timeouts, 407, 502, no
    connection to the proxy at all, ...).
    """
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        status = exc.status
        return "refused" if (400 <= status < 500 and status != 407) or status == 501 else None
    if isinstance(exc, aiohttp.ClientSSLError):
        return "broken"
    if isinstance(exc, aiohttp.ClientConnectorError | TimeoutError):
        return None
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return "broken"
    return None


def _transport_failure(
    url: str, exc: aiohttp.ClientError | OSError, timeout_s: float
) -> FetchFailed:
    """A TRANSIENT failure for a timeout, connection or proxy problem."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        reason = f"no connection within {timeout_s:g} s (timeout_s) to {url}"
    elif isinstance(exc, TimeoutError):
        reason = f"no data for {timeout_s:g} s (timeout_s) from {url}"
    elif isinstance(exc, aiohttp.ClientHttpProxyError):
        reason = f"proxy answered CONNECT with {exc.status} {exc.message} for {url}"
    else:
        reason = f"connection failed for {url}: {str(exc) or type(exc).__name__}"
    return FetchFailed(url, FailureKind.TRANSIENT, reason)


def _connector_failure(
    url: URL, exc: aiohttp.ClientConnectorError, timeout_s: float
) -> FetchFailed:
    """A refused address (PERMANENT), a name that does not resolve, or no connection."""
    cause = exc.os_error
    if isinstance(cause, netguard.ForbiddenAddressError):
        return _failed(str(url), f"blocked private address {cause.address} for {url}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        reason = f"cannot resolve {url.raw_host} for {url}: {cause.strerror or cause}"
        return FetchFailed(str(url), FailureKind.TRANSIENT, reason)
    return _transport_failure(str(url), exc, timeout_s)


def _failed(url: str, reason: str, status: int | None = None) -> FetchFailed:
    """A PERMANENT failure."""
    return FetchFailed(url, FailureKind.PERMANENT, reason, status)


def _read_file(url: str, max_bytes: int, validators: Validators | None) -> FetchResult:
    """Read a ``file:`` URL (absolute, or relative to the working directory); blocking.

    At most ``max_bytes`` + 1 bytes are read. The ETag is a hash of the content, so an
    unchanged file gives :class:`NotModified`.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. a bad [IPv6] host
        return _failed(url, f"invalid URL {url}: {exc}")
    if parts.netloc not in ("", "localhost"):
        return _failed(url, f"file URL with a remote host is not supported: {url}")
    path = Path(url2pathname(parts.path))
    try:
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return _failed(url, f"file not found: {path}")
    except OSError as exc:
        return _failed(url, f"cannot read {path}: {exc.strerror or exc}")
    if len(body) > max_bytes:
        return _failed(url, f"body larger than {max_bytes} bytes in {path}")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if validators is not None and validators.etag == etag:
        return NotModified(url)
    content_type = mimetypes.guess_type(path.name)[0]
    headers = {"content-type": content_type} if content_type else {}
    return Fetched(url, 200, body, content_type, Validators(etag=etag), headers)
