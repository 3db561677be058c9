"""A real HTTP/1.1 server on 127.0.0.1 for tests, with canned replies and a request log.

Usage::

    with LoopbackServer() as server:
        server.route("/feed", Reply(200, {"Content-Type": "application/rss+xml"}, b"<rss/>"))
        url = server.url("/feed")          # "http://127.0.0.1:<port>/feed"
        ...
        assert server.requests[0].headers["user-agent"] == "..."

Routes are keyed by the request target exactly as received: a path (``/feed?x=1``) for
ordinary requests, an absolute URL (``http://example.org/feed``) when the server is used as a
forward proxy, ``host:port`` for ``CONNECT``. A route is a :class:`Reply` or a function of the
:class:`Request` returning one. Unknown targets get 404. Every request is recorded, in order,
before it is answered.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

__all__ = ["LoopbackServer", "Reply", "Request", "Route"]


@dataclass(frozen=True)
class Request:
    """One request as the server saw it; header names are lower-cased."""

    method: str
    target: str
    headers: dict[str, str]


@dataclass(frozen=True)
class Reply:
    """A canned response.

    ``delay_s`` is slept before anything is sent (to provoke client timeouts); ``trickle_s``
    is slept before each byte of the body (a server that keeps a client waiting without ever
    going quiet); ``close`` makes the server hang up without answering. ``Content-Length`` is
    added unless given.
    """

    status: int = 200
    headers: dict[str, str] | Iterable[tuple[str, str]] = field(default_factory=dict)
    body: bytes = b""
    delay_s: float = 0.0
    close: bool = False
    trickle_s: float = 0.0


Route = Reply | Callable[[Request], Reply]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def _dispatch(self) -> None:
        request = Request(self.command, self.path, {k.lower(): v for k, v in self.headers.items()})
        self.server.owner.requests.append(request)
        route = self.server.owner.routes.get(self.path, Reply(404, body=b"not found"))
        reply = route(request) if callable(route) else route
        if reply.delay_s:
            time.sleep(reply.delay_s)
        if reply.close:
            self.close_connection = True
            return
        self.send_response(reply.status)
        pairs = reply.headers.items() if isinstance(reply.headers, dict) else reply.headers
        names = set()
        for name, value in pairs:
            self.send_header(name, value)
            names.add(name.lower())
        if "content-length" not in names:
            self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        if self.command != "HEAD" and reply.trickle_s:
            for byte in reply.body:
                time.sleep(reply.trickle_s)
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
        elif self.command != "HEAD":
            self.wfile.write(reply.body)

    do_GET = do_HEAD = do_POST = do_CONNECT = _dispatch  # noqa: N815 (http.server's names)

    def setup(self) -> None:
        super().setup()
        # Each write leaves at once, as from a web server: with Nagle on, a body written after
        # its headers waits for the client's delayed ACK, 40 ms a request on a reused connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner.connections.append(self.client_address)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, owner: LoopbackServer) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up early (timeouts, size limits) are expected: stay quiet."""


class LoopbackServer:
    """A threaded HTTP server on an ephemeral loopback port; use as a context manager."""

    def __init__(self, routes: dict[str, Route] | None = None) -> None:
        self.routes: dict[str, Route] = dict(routes or {})
        self.requests: list[Request] = []
        self.connections: list[object] = []  # the client address of each accepted connection
        self._server = _Server(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def port(self) -> int:
        """The TCP port the server listens on."""
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``, without a trailing slash."""
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str = "/") -> str:
        """The absolute URL of ``path`` on this server."""
        return self.base_url + path

    def route(self, target: str, route: Route) -> None:
        """Answer requests for ``target`` (path, absolute URL or ``host:port``) with ``route``."""
        self.routes[target] = route

    def targets(self, method: str | None = None) -> list[str]:
        """The targets requested so far, in order, optionally only those of one method."""
        return [r.target for r in self.requests if method is None or r.method == method]

    def __enter__(self) -> LoopbackServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
