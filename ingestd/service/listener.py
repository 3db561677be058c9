"""The daemon's HTTP listener: aiohttp's server on the daemon's event loop, GET and HEAD.

Routes are a mapping of path → async handler; a handler gets a :class:`Request` and returns a
:class:`Response` (plain values: aiohttp's objects stay in this module). A path ending with
``/*`` (``/clusters/*``) is a prefix: it serves every path below it that no exact route
serves, and the handler reads the rest from :attr:`Request.path`. The daemon serves
``/metrics``, ``/healthz``, ``/feed.atom``, ``/feed.json`` and ``/``. Another method answers
405, another path 404, a handler that raises 500 (with one log line).

HTTP itself (parsing, limits on request lines and headers, HEAD without a body) is aiohttp's
low-level server. Around it, :class:`ConnectionGuard` keeps slow or numerous clients from
starving the others:

* at most ``max_connections`` connections are open; one more arriving closes the oldest
  connection that has not yet sent its whole request head (a slowloris client), else the
  oldest one, so that a new client (a health check) always gets its turn;
* a connection must send its request head within ``head_timeout_s`` and is closed
  ``lifetime_s`` after it opened, whatever it does; each serves one request;
* what it closes is logged as one line per minute at most (counts, no traceback), and so are
  malformed requests, which aiohttp would log with a traceback each.

It is meant for a scraper and feed readers on a trusted network: no TLS, no request bodies.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import parse_qs

import structlog
from aiohttp import web

MAX_CONNECTIONS = 128  # open connections at once
HEAD_TIMEOUT_S = 10.0  # a connection must send its whole request head within this
LIFETIME_S = 60.0  # a connection is closed this long after it opened, whatever it does
REPORT_EVERY_S = 60.0  # at most one log line about dropped connections per this long
_HEAD_END = b"\r\n\r\n"
log = structlog.get_logger("ingestd.listener")


@dataclass(frozen=True)
class Request:
    method: str  # GET or HEAD
    path: str  # decoded, without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # names lower-cased


@dataclass(frozen=True)
class Response:
    status: int = 200
    body: bytes = b""
    content_type: str = "text/plain; charset=utf-8"
    headers: Mapping[str, str] = field(default_factory=dict)  # Cache-Control: no-store unless set


Handler = Callable[[Request], Awaitable[Response]]


def split_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` → ("127.0.0.1", 9464); ``"[::1]:9464"`` → ("::1", 9464)."""
    host, _, port = address.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


class Listener:
    """Serves ``routes`` on ``address`` (``host:port``; port 0 picks a free one)."""

    def __init__(
        self,
        address: str,
        routes: Mapping[str, Handler],
        *,
        max_connections: int = MAX_CONNECTIONS,
        head_timeout_s: float = HEAD_TIMEOUT_S,
        lifetime_s: float = LIFETIME_S,
    ) -> None:
        self.address = address
        self.routes = dict(routes)
        self.guard = ConnectionGuard(max_connections, head_timeout_s, lifetime_s)
        self.port = 0  # the bound port, once started
        self._http: web.Server | None = None
        self._server: asyncio.Server | None = None

    async def start(self) -> tuple[str, int]:
        """Start listening; returns the bound host and port. OSError if the port is taken."""
        host, port = split_address(self.address)
        self._http = web.Server(
            self._handle,
            access_log=None,
            logger=_CountingLogger(self.guard),
            keepalive_timeout=0,
        )
        http = self._http
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: self.guard.wrap(http()), host, port, reuse_address=True
        )
        bound = self._server.sockets[0].getsockname()
        self.port = int(bound[1])
        return str(bound[0]), self.port

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self.guard.close_all()
            if self._http is not None:
                with contextlib.suppress(Exception):
                    await self._http.shutdown(timeout=2)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2)
            self._server = self._http = None
        self.guard.report()  # what was still waiting for its line

    async def _handle(self, raw: web.BaseRequest) -> web.StreamResponse:
        response = await self._answer(raw)
        headers = {
            "Cache-Control": "no-store",
            "X-Content-Type-Options": "nosniff",  # a text/plain answer is never run as HTML
            **response.headers,
        }
        answer = web.Response(status=response.status, body=response.body, headers=headers)
        answer.headers["Content-Type"] = response.content_type
        answer.force_close()  # one request per connection (see ConnectionGuard)
        return answer

    async def _answer(self, raw: web.BaseRequest) -> Response:
        if raw.method not in ("GET", "HEAD"):
            return _plain(405, "only GET and HEAD\n", {"Allow": "GET, HEAD"})
        handler = self.routes.get(raw.path) or self._below(raw.path)
        if handler is None:
            return _plain(404, f"no such path: {raw.path}\n")
        query = parse_qs(raw.query_string, keep_blank_values=True)
        headers = {name.lower(): value for name, value in raw.headers.items()}
        request = Request(raw.method, raw.path, query, headers)
        try:
            return await handler(request)
        except Exception as exc:  # a broken handler answers 500; the listener goes on
            log.error("listener: handler failed", path=raw.path, error=repr(exc))
            return _plain(500, "internal error\n")

    def _below(self, path: str) -> Handler | None:
        """The handler of the longest prefix route (``/clusters/*``) above ``path``, if any."""
        prefixes = [p[:-1] for p in self.routes if p.endswith("/*") and path.startswith(p[:-1])]
        return self.routes[max(prefixes, key=len) + "*"] if prefixes else None


def _plain(status: int, text: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status, text.encode("utf-8"), headers=headers or {})


class ConnectionGuard:
    """Bounds the listener's connections: how many, how slow, how long (see the module)."""

    def __init__(self, max_connections: int, head_timeout_s: float, lifetime_s: float) -> None:
        self.max_connections = max_connections
        self.head_timeout_s = head_timeout_s
        self.lifetime_s = lifetime_s
        self.open: dict[_Guarded, None] = {}  # insertion order: oldest first
        self.dropped: dict[str, int] = {}  # why → connections closed since the last report
        self._last_report = float("-inf")  # time.monotonic() of the last line
        self._pending: asyncio.TimerHandle | None = None

    def wrap(self, inner: asyncio.Protocol) -> asyncio.Protocol:
        """The protocol for one new connection: ``inner`` (aiohttp's) behind the guard."""
        return _Guarded(self, inner)

    def admit(self, connection: _Guarded) -> None:
        """Register a new connection, closing another one when the cap is reached: the oldest
        that has not sent its request head yet, else the oldest of all. A new client always
        gets its turn, so a crowd of idle or slow clients cannot lock the others out."""
        if len(self.open) >= self.max_connections:
            waiting = next((c for c in self.open if not c.head_done), None)
            if waiting is not None:
                waiting.close("idle connections closed for new ones (connection cap)")
            else:
                oldest = next(iter(self.open))
                oldest.close("busy connections closed for new ones (connection cap)")
        self.open[connection] = None

    def forget(self, connection: _Guarded) -> None:
        self.open.pop(connection, None)

    def close_all(self) -> None:
        for connection in list(self.open):
            connection.close(None)

    def drop(self, why: str) -> None:
        """Count a connection closed (or request refused) for ``why``; reported within a minute."""
        self.dropped[why] = self.dropped.get(why, 0) + 1
        if self._pending is not None:
            return
        wait = self._last_report + REPORT_EVERY_S - time.monotonic()
        if wait <= 0:
            self.report()
        else:
            loop = asyncio.get_running_loop()
            self._pending = loop.call_later(wait, self.report)

    def report(self) -> None:
        """One log line with what was dropped since the last one (nothing when nothing was)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if not self.dropped:
            return
        counts = ", ".join(f"{n} {why}" for why, n in sorted(self.dropped.items()))
        log.warning(
            "listener: connections closed or requests refused",
            dropped=counts,
            open=len(self.open),
            max_connections=self.max_connections,
        )
        self.dropped = {}
        self._last_report = time.monotonic()


class _Guarded(asyncio.Protocol):
    """One connection: aiohttp's protocol, watched for its request head and its age."""

    def __init__(self, guard: ConnectionGuard, inner: asyncio.Protocol) -> None:
        self.guard = guard
        self.inner = inner
        self.head_done = False
        self.transport: asyncio.Transport | None = None
        self._tail = b""  # the last bytes received before the head ended
        self._timers: list[asyncio.TimerHandle] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.guard.admit(self)
        loop = asyncio.get_running_loop()
        self._timers = [
            loop.call_later(self.guard.head_timeout_s, self._head_late),
            loop.call_later(self.guard.lifetime_s, self.close, "open longer than allowed"),
        ]
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.transport is None:
            return
        if not self.head_done:
            seen = self._tail + data
            self.head_done = _HEAD_END in seen
            self._tail = seen[-3:]
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self.inner.eof_received() if self.transport is not None else None

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in self._timers:
            timer.cancel()
        self.guard.forget(self)
        if self.transport is not None:
            self.transport = None
            self.inner.connection_lost(exc)

    def _head_late(self) -> None:
        if not self.head_done:
            self.close(f"no request head within {self.guard.head_timeout_s:g} s")

    def close(self, why: str | None) -> None:
        """Close at once (``why`` is counted for the log; None: a shutdown)."""
        self.guard.forget(self)
        if self.transport is not None:
            if why is not None:
                self.guard.drop(why)
            self.transport.abort()


class _CountingLogger(logging.Logger):
    """aiohttp's server logger: a malformed request or a client that hung up mid-answer is
    counted into the guard's next log line instead of a traceback each; debug messages are
    dropped."""

    def __init__(self, guard: ConnectionGuard) -> None:
        super().__init__("ingestd.service.listener.http")
        self.guard = guard

    def _count(self, msg: object, *args: Any, **kwargs: Any) -> None:
        self.guard.drop("malformed or broken requests")

    exception = error = warning = critical = _count

    def debug(self, msg: object, *args: Any, **kwargs: Any) -> None:
        return

    def info(self, msg: object, *args: Any, **kwargs: Any) -> None:
        return

    def log(self, level: int, msg: object, *args: Any, **kwargs: Any) -> None:
        if level >= logging.WARNING:
            self._count(msg)
