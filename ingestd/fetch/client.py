"""The fetch stage: a URL in, a :data:`~ingestd.model.FetchResult` value out.

``http``/``https`` go through aiohttp, ``file`` URLs are read from disk
(:mod:`ingestd.fetch.files`). Network and HTTP problems are
:class:`~ingestd.model.FetchFailed` values; only programming errors raise. The layers, each
in its own module:

* this client: redirects and the address guard, per request;
* :mod:`~ingestd.fetch.frontier`: politeness, which request goes next;
* :mod:`~ingestd.fetch.transport`: aiohttp sessions, the proxy and its fallbacks;
* :mod:`~ingestd.fetch.body`: the body within ``max_bytes``, decoded;
* :mod:`~ingestd.fetch.status`: what a status means, and transport failures in words.

Validators are sent as ``If-None-Match``/``If-Modified-Since``; 304 gives ``NotModified``.
Redirects are followed here, at most ``max_redirects`` hops, each checked by the address guard
(:mod:`ingestd.fetch.netguard`): its host must be written canonically and, unless private networks
are allowed, an IP literal must be public before anything is sent, and a name's addresses are
checked by the connector's own resolver. Cookies a redirect sets are sent on the later hops to
its host (a consent or bot check that redirects back), and forgotten when the fetch ends: a
daemon polling for months keeps no cookie store.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

import aiohttp
from yarl import URL

from ingestd.config import HttpSettings
from ingestd.fetch import netguard
from ingestd.fetch.body import read_body
from ingestd.fetch.files import read_file
from ingestd.fetch.frontier import Frontier, HostTurns
from ingestd.fetch.status import (
    REDIRECT_STATUSES,
    Redirect,
    connector_failure,
    failed,
    parse_url,
    redirect,
    status_failure,
    transport_failure,
)
from ingestd.fetch.transport import Transport
from ingestd.model import (
    FailureKind,
    FeedOptions,
    FetchFailed,
    FetchResult,
    NotModified,
    Validators,
)

DEFAULT_PORTS = {"http": 80, "https": 443}


class Fetcher:
    """Async fetcher; one per run. Use as ``async with Fetcher(settings) as f:``."""

    def __init__(self, settings: HttpSettings, turns: HostTurns | None = None) -> None:
        """``turns`` shares each host's request turns with other workers (PostgreSQL); without
        it the minimum gap between requests to one host is kept within this process."""
        self._settings = settings
        self._frontier = Frontier(
            settings.max_concurrency,
            settings.per_host_concurrency,
            settings.min_host_gap_s,
            turns,
            hold_s=settings.total_timeout_s + 5,
        )
        self._transport: Transport | None = None

    async def __aenter__(self) -> Fetcher:
        self._transport = Transport(self._settings)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._frontier.close()
        if self._transport is not None:
            await self._transport.close()
        self._transport = None

    async def fetch(
        self,
        url: str,
        validators: Validators | None = None,
        *,
        allow_private: bool | None = None,
        accept: str | None = None,
        on_start: Callable[[], None] | None = None,
        options: FeedOptions | None = None,
    ) -> FetchResult:
        """Fetch ``url``; ``allow_private`` overrides ``allow_private_networks`` unless None.

        ``accept`` is sent as the ``Accept`` header; ``on_start`` is called when the first
        request is about to go (the frontier let it). ``options`` are the feed's own settings:
        its ``User-Agent`` on every hop, its extra headers (a cookie) only to the URL's own
        host and port, never to another a redirect leads to. Never raises for network or HTTP
        problems.
        """
        scheme = url.partition(":")[0].lower() if ":" in url else ""
        if scheme == "file":
            if on_start is not None:
                on_start()
            return await asyncio.to_thread(read_file, url, self._settings.max_bytes, validators)
        if scheme not in DEFAULT_PORTS:
            return failed(url, f"unsupported URL scheme {scheme!r} in {url}")
        if allow_private is None:
            allow_private = self._settings.allow_private_networks
        headers = request_headers(validators, accept)
        if options is not None and options.user_agent:
            headers["User-Agent"] = options.user_agent
        extra = dict(options.headers) if options is not None else {}
        return await self._follow(url, headers, allow_private, on_start, extra)

    async def _follow(
        self,
        url: str,
        headers: dict[str, str],
        allow_private: bool,
        on_start: Callable[[], None] | None = None,
        extra: dict[str, str] | None = None,
    ) -> FetchResult:
        """Request ``url`` and follow its redirects, checking every hop with the guard;
        ``extra`` headers go only to ``url``'s own host."""
        try:
            current = parse_url(url)
        except ValueError as exc:
            return failed(url, f"invalid URL {url}: {exc}")
        own_host = (current.raw_host, current.port)
        permanent = True  # so far every redirect hop was 301/308
        jars: dict[str, dict[str, str]] = {}  # host → cookies its redirects set, this fetch only
        for hop in range(self._settings.max_redirects + 1):
            refusal = await self._guard(current, allow_private)
            if refusal is not None:
                return refusal
            host = current.raw_host or ""
            same = (current.raw_host, current.port) == own_host
            sent = {**headers, **extra} if extra and same else headers
            cookies = with_cookies(sent, jars.get(host))
            outcome = await self._hop(
                current, cookies, allow_private, on_start if hop == 0 else None
            )
            if not isinstance(outcome, Redirect):
                moved = str(current) if hop and permanent else None
                return with_move(outcome, moved)
            if outcome.cookies:
                jars.setdefault(host, {}).update(outcome.cookies)
            permanent = permanent and outcome.permanent
            current = outcome.location
            if current.scheme not in DEFAULT_PORTS:
                return failed(str(current), f"redirect to unsupported URL {current} from {url}")
        limit = self._settings.max_redirects
        return failed(str(current), f"more than {limit} redirects from {url}")

    async def _guard(self, url: URL, allow_private: bool) -> FetchFailed | None:
        """Refuse a hop whose host is missing or not written canonically, or (unless allowed)
        an IP literal or ``localhost`` in a private network. Names are checked as they are
        resolved for the connection (see :mod:`ingestd.fetch.transport`), not here."""
        host = url.raw_host
        if not host:
            return failed(str(url), f"no host in URL {url}")
        problem = netguard.host_problem(host)
        if problem is not None:
            return failed(str(url), f"{problem} in {url}")
        if allow_private:
            return None
        port = url.port or DEFAULT_PORTS[url.scheme]
        blocked = await netguard.forbidden_address(host, port, resolve=False)
        if blocked is not None:
            return failed(str(url), f"blocked private address {blocked} for {url}")
        return None

    async def _hop(
        self,
        url: URL,
        headers: dict[str, str],
        allow_private: bool,
        on_start: Callable[[], None] | None = None,
    ) -> FetchResult | Redirect:
        """One request, once the frontier lets it go; classified. Transport errors become
        TRANSIENT failures, an address the guard refuses a PERMANENT one.

        ``total_timeout_s`` bounds the request itself (connection, answer and body), not the
        wait for the host's turn: politeness towards a busy host is no failure."""
        if self._transport is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        async with self._frontier.slot(url.raw_host or "", on_start):
            limit = self._settings.total_timeout_s
            budget = asyncio.timeout(limit)
            try:
                async with budget:
                    response = await self._transport.open(url, headers, allow_private)
                    try:
                        return await self._outcome(url, response)
                    finally:
                        response.release()
            except aiohttp.InvalidURL as exc:
                return failed(str(url), f"invalid URL {url}: {exc}")
            except TimeoutError as exc:  # before OSError, its base class: which limit fired
                if budget.expired():
                    reason = f"no complete answer within {limit:g} s (total_timeout_s) from {url}"
                    return FetchFailed(str(url), FailureKind.TRANSIENT, reason)
                return transport_failure(str(url), exc, self._settings.timeout_s)
            except aiohttp.ClientConnectorError as exc:
                return connector_failure(url, exc, self._settings.timeout_s)
            except (aiohttp.ClientError, OSError) as exc:
                return transport_failure(str(url), exc, self._settings.timeout_s)

    async def _outcome(self, url: URL, response: aiohttp.ClientResponse) -> FetchResult | Redirect:
        """Turn a response into a result, reading the body only for 2xx."""
        status = response.status
        if status in REDIRECT_STATUSES:
            return redirect(url, response)
        if status == 304:
            return NotModified(str(url))
        if 200 <= status < 300:
            return await read_body(url, response, self._settings.max_bytes)
        return status_failure(str(url), response)


def with_move(result: FetchResult, moved_to: str | None) -> FetchResult:
    """The result, noting that the URL moved permanently to ``moved_to``."""
    if moved_to is None or isinstance(result, FetchFailed):
        return result
    return dataclasses.replace(result, moved_to=moved_to)


def with_cookies(headers: dict[str, str], cookies: dict[str, str] | None) -> dict[str, str]:
    """``headers`` with a Cookie header for ``cookies``, if any."""
    if not cookies:
        return headers
    return {**headers, "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items())}


def request_headers(validators: Validators | None, accept: str | None) -> dict[str, str]:
    """Per-request headers: Accept and the conditional-request validators, when given."""
    v = validators or Validators()
    pairs = {"Accept": accept, "If-None-Match": v.etag, "If-Modified-Since": v.last_modified}
    # A validator with non-ASCII characters cannot be sent back byte for byte: none is sent
    # (the answer is then a 200, whose body is compared with the last one instead).
    return {name: value for name, value in pairs.items() if value and value.isascii()}
