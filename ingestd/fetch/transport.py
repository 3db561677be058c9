"""Sending one GET: aiohttp sessions, the proxy, and the absolute-form fallback.

* aiohttp rather than httpx: on loopback, 16 requests at once, aiohttp spent 0.12-0.16 ms of
  CPU per request on kept-alive connections where httpx spent 0.9-3.3 ms (its pool looks at
  every pooled connection on each request), and 0.42-0.46 ms against 1.3-1.8 ms on new
  connections. The daemon's main process spends most of a pass with nothing new on requests.
* Names are resolved by :class:`~ingestd.fetch.netguard.GuardedResolver` inside the connector, so a
  connection goes to exactly the addresses the guard checked (no rebinding between check and
  connect); requests allowed to reach private networks use a session without the guard.
* A name's addresses are kept for their records' TTL (:mod:`ingestd.fetch.resolver`; the
  guard checks them on every use), and a connection is kept open :data:`KEEPALIVE_S` after
  its answer, so the feeds and pages of one host share a connection and a lookup within their
  politeness gaps.
* With ``proxy`` set, every request goes through it and it resolves names. https is tunnelled
  (``CONNECT``) first; if the proxy refuses the tunnel (4xx but 407, or 501), hangs up, or TLS
  in the tunnel fails, the request is sent once more in absolute form (``GET https://...``
  over plain HTTP to the proxy), as plain forward and replay proxies expect. Once such a retry
  gets a status below 400, later https requests go that way directly (the proxy then checks
  certificates).
"""

from __future__ import annotations

import aiohttp
from aiohttp.client_reqrep import ConnectionKey
from yarl import URL

from ingestd.config import HttpSettings
from ingestd.fetch import netguard
from ingestd.fetch.body import ACCEPT_ENCODING
from ingestd.fetch.resolver import CachingResolver
from ingestd.fetch.status import tunnel_failure

KEEPALIVE_S = 15.0  # an idle connection is kept this long (a host's requests are ~1 s apart)
MAX_HEADER_BYTES = 65_536  # per header line (aiohttp's default, 8 KiB, is short of some CSPs)


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


def raise_open_files_limit() -> int:
    """Raise this process's soft limit of open files to its hard limit (kept-alive connections
    to thousands of hosts need more than the usual soft 1,024); returns the limit now."""
    try:
        import resource
    except ImportError:  # not a Unix
        return -1
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        wanted = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError):
            pass
    return soft


class Transport:
    """The aiohttp sessions of one fetcher. :meth:`close` them when done."""

    def __init__(self, settings: HttpSettings) -> None:
        raise_open_files_limit()
        self._resolvers: list[CachingResolver] = []
        self._settings = settings
        self._proxy = URL(settings.proxy) if settings.proxy else None
        self._session = self._make_session(_Request, guarded=self._proxy is None)
        self._private: aiohttp.ClientSession | None = None  # unguarded: allow_private requests
        self._absolute: aiohttp.ClientSession | None = None  # made for the first absolute form
        self._https_absolute = False  # the proxy does not tunnel: send https in absolute form

    async def close(self) -> None:
        for session in (self._session, self._private, self._absolute):
            if session is not None:
                await session.close()
        for resolver in self._resolvers:
            await resolver.close()
        self._resolvers = []
        self._private = self._absolute = None

    @property
    def proxied(self) -> bool:
        """Requests go through a proxy (which resolves names)."""
        return self._proxy is not None

    def _make_session(
        self, request_class: type[aiohttp.ClientRequest], guarded: bool = False
    ) -> aiohttp.ClientSession:
        """A session with the configured timeouts and connection limit, no environment proxy
        and no decoding of the body (see :mod:`ingestd.fetch.body`). TLS certificates are
        checked against the system's store (``SSL_CERT_FILE``/``SSL_CERT_DIR`` are honoured).
        ``guarded``: names resolve through :class:`~ingestd.fetch.netguard.GuardedResolver`."""
        settings = self._settings
        names = CachingResolver()
        self._resolvers.append(names)
        resolver = netguard.GuardedResolver(names) if guarded else names
        return aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=settings.max_concurrency,
                limit_per_host=0,
                resolver=resolver,
                use_dns_cache=False,  # the resolver keeps names for their TTL
                keepalive_timeout=KEEPALIVE_S,
            ),
            timeout=aiohttp.ClientTimeout(
                total=None, connect=settings.timeout_s, sock_read=settings.timeout_s
            ),
            headers={"User-Agent": settings.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
            auto_decompress=False,
            max_field_size=MAX_HEADER_BYTES,
            max_line_size=MAX_HEADER_BYTES,
            trust_env=False,  # the [http] proxy setting is the only proxy
            cookie_jar=aiohttp.DummyCookieJar(),  # no cookies kept between fetches
            request_class=request_class,
        )

    def _session_for(self, allow_private: bool) -> aiohttp.ClientSession:
        """The guarded session, or (private networks allowed, no proxy) an unguarded one."""
        if not allow_private or self._proxy is not None:
            return self._session
        if self._private is None:
            self._private = self._make_session(_Request)
        return self._private

    async def open(
        self, url: URL, headers: dict[str, str], allow_private: bool
    ) -> aiohttp.ClientResponse:
        """Send a GET for ``url``; the response's body is unread and the caller must release
        it. aiohttp's errors are raised as they are (:mod:`ingestd.fetch.status` names them)."""
        if url.scheme == "https" and self._https_absolute:
            return await self._open_absolute(url, headers)
        session = self._session_for(allow_private)
        try:
            return await session.get(
                url.with_fragment(None), headers=headers, proxy=self._proxy, allow_redirects=False
            )
        except aiohttp.ClientError as exc:
            failure = tunnel_failure(exc) if self._proxy and url.scheme == "https" else None
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
