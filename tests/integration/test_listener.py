"""The daemon's HTTP listener under abuse: a slowloris crowd, idle connections, garbage
requests. /healthz stays quick, open connections stay bounded, the log gets a line per burst
and never a traceback."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import structlog
from structlog.testing import capture_logs

from ingestd.service.daemon import public_url
from ingestd.service.listener import Listener, Request, Response


async def _ok(_request: Request) -> Response:
    return Response(200, b"ok\n")


async def _get_healthz(host: str, port: int) -> tuple[float, bytes]:
    """Seconds a new client waits for /healthz, and the status line it got."""
    started = time.monotonic()
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return time.monotonic() - started, answer.split(b"\r\n")[0]


def _run(check: Any, **options: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Run ``check(listener, host, port)``; the log events and the event loop's unhandled
    exceptions it produced."""
    loop_errors: list[dict[str, Any]] = []

    async def main() -> None:
        asyncio.get_running_loop().set_exception_handler(lambda _l, ctx: loop_errors.append(ctx))
        listener = Listener("127.0.0.1:0", {"/healthz": _ok}, **options)
        host, port = await listener.start()
        try:
            await check(listener, host, port)
        finally:
            await listener.close()

    with capture_logs() as events:
        asyncio.run(main())
    structlog.reset_defaults()
    return events, loop_errors


def test_a_slowloris_crowd_does_not_stall_healthz_nor_flood_the_log() -> None:
    """600 clients that each send half a request head and wait: /healthz still answers within
    a second, at most ``max_connections`` stay open, and the log says so in a line or two."""
    clients: list[asyncio.StreamWriter] = []
    waits: list[float] = []

    async def check(listener: Listener, host: str, port: int) -> None:
        for _ in range(600):
            _reader, writer = await asyncio.open_connection(host, port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            clients.append(writer)
        await asyncio.sleep(0.2)
        assert len(listener.guard.open) <= listener.guard.max_connections
        for _ in range(3):
            wait, status = await _get_healthz(host, port)
            waits.append(wait)
            assert status == b"HTTP/1.1 200 OK"
        for writer in clients:
            writer.close()

    events, loop_errors = _run(check)

    assert max(waits) < 1.0, waits
    lines = [e for e in events if e["event"].startswith("listener:")]
    assert 1 <= len(lines) <= 3, lines
    assert "idle connections closed for new ones" in lines[0]["dropped"]
    assert not any("exc_info" in e or "exception" in e for e in events)
    assert loop_errors == []


def test_a_client_that_never_finishes_its_head_is_cut_off() -> None:
    async def check(listener: Listener, host: str, port: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /healthz HTTP/1.1\r\n")
        started = time.monotonic()
        assert await asyncio.wait_for(reader.read(), 5) == b""  # closed without an answer
        assert 0.2 <= time.monotonic() - started < 2
        writer.close()

    events, _ = _run(check, head_timeout_s=0.3)
    assert any("no request head within 0.3 s" in e.get("dropped", "") for e in events)


def test_garbage_requests_get_400_and_one_log_line_without_traceback() -> None:
    async def check(listener: Listener, host: str, port: int) -> None:
        for garbage in (
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad header\r\n\r\n",
            b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n\r\n",
            b"BREW /pot HTCPCP/1.0\r\n\r\n",
        ):
            reader, writer = await asyncio.open_connection(host, port)
            writer.write(garbage)
            answer = await asyncio.wait_for(reader.read(), 5)
            assert answer == b"" or answer.split(b" ")[1][:1] == b"4", answer[:80]
            writer.close()
        _wait, status = await _get_healthz(host, port)
        assert status == b"HTTP/1.1 200 OK"

    events, loop_errors = _run(check)
    assert 1 <= len(events) <= 2, events  # the burst's first line, and the rest at close
    assert not any("exc_info" in e or "exception" in e for e in events)
    assert loop_errors == []


def test_the_default_public_url_is_the_listen_address_with_the_bound_port() -> None:
    assert public_url("127.0.0.1:9464", 9464) == "http://127.0.0.1:9464/"
    assert public_url("localhost:0", 41234) == "http://localhost:41234/"
    assert public_url("[::1]:9464", 9464) == "http://[::1]:9464/"
