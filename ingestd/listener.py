"""A tiny HTTP/1.1 listener on the daemon's event loop: GET and HEAD, one request per connection.

Routes are a mapping of path → async handler; a handler gets a :class:`Request` and returns a
:class:`Response`. The daemon serves ``/metrics`` and ``/healthz``; add a route by adding an
entry (``routes["/feed.atom"] = handler``) before :meth:`Listener.start`. It is meant for a
loopback or trusted-network scraper, not for the open internet: no TLS, no keep-alive, no
request bodies, headers limited to 16 KiB and 10 seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import parse_qs, unquote, urlsplit

import structlog

MAX_HEAD_BYTES = 16 * 1024
READ_TIMEOUT_S = 10.0
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
    headers: Mapping[str, str] = field(default_factory=dict)


Handler = Callable[[Request], Awaitable[Response]]


def split_address(address: str) -> tuple[str, int]:
    """``"127.0.0.1:9464"`` → ("127.0.0.1", 9464); ``"[::1]:9464"`` → ("::1", 9464)."""
    host, _, port = address.rpartition(":")
    return host.removeprefix("[").removesuffix("]"), int(port)


class Listener:
    """Serves ``routes`` on ``address`` (``host:port``; port 0 picks a free one)."""

    def __init__(self, address: str, routes: Mapping[str, Handler]) -> None:
        self.address = address
        self.routes = dict(routes)
        self._server: asyncio.Server | None = None

    async def start(self) -> tuple[str, int]:
        """Start listening; returns the bound host and port. OSError if the port is taken."""
        host, port = split_address(self.address)
        self._server = await asyncio.start_server(
            self._connection, host, port, limit=MAX_HEAD_BYTES, reuse_address=True
        )
        bound = self._server.sockets[0].getsockname()
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=2)
            self._server = None

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(_read_request(reader), READ_TIMEOUT_S)
            if isinstance(request, Response):
                response, method = request, "GET"
            else:
                response, method = await self._answer(request), request.method
            writer.write(_serialise(response, head_only=method == "HEAD"))
            await writer.drain()
        except (TimeoutError, ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _answer(self, request: Request) -> Response:
        handler = self.routes.get(request.path)
        if handler is None:
            return _plain(HTTPStatus.NOT_FOUND, f"no such path: {request.path}\n")
        try:
            return await handler(request)
        except Exception:  # a broken handler answers 500; the listener goes on
            log.exception("listener: handler failed", path=request.path)
            return _plain(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error\n")


async def _read_request(reader: asyncio.StreamReader) -> Request | Response:
    """The request's head, or the error response to send instead."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.LimitOverrunError:
        return _plain(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "request head too large\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        return _plain(HTTPStatus.BAD_REQUEST, "malformed request line\n")
    method, target, _version = parts
    if method not in ("GET", "HEAD"):
        return _plain(HTTPStatus.METHOD_NOT_ALLOWED, "only GET and HEAD\n", {"Allow": "GET, HEAD"})
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    url = urlsplit(target)
    return Request(method, unquote(url.path) or "/", parse_qs(url.query), headers)


def _plain(status: HTTPStatus, text: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(int(status), text.encode("utf-8"), headers=headers or {})


def _serialise(response: Response, head_only: bool) -> bytes:
    try:
        phrase = HTTPStatus(response.status).phrase
    except ValueError:
        phrase = "Status"
    head = [
        f"HTTP/1.1 {response.status} {phrase}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        "Connection: close",
        "Cache-Control: no-store",
        *(f"{name}: {value}" for name, value in response.headers.items()),
    ]
    data = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")
    return data if head_only else data + response.body
