"""systemd's notify protocol, against real datagram sockets (a path and the abstract namespace)."""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestd.service.notify import Notifier, watchdog_period_s


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket bound to a path, as systemd's ``$NOTIFY_SOCKET`` is."""
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    yield sock, str(path)
    sock.close()


def test_messages_arrive_as_one_datagram_each(receiver: tuple[socket.socket, str]) -> None:
    """READY, STATUS, WATCHDOG, RELOADING and STOPPING reach the socket, KEY=value per line."""
    sock, path = receiver
    notifier = Notifier(path)
    assert notifier.ready("started: 3 feeds")
    assert sock.recv(4096) == b"READY=1\nSTATUS=started: 3 feeds"
    assert notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"
    assert notifier.status("polled 3 feeds\nsecond line")
    assert sock.recv(4096) == b"STATUS=polled 3 feeds second line"  # one line, always
    assert notifier.reloading()
    lines = sock.recv(4096).decode().split("\n")
    assert lines[0] == "RELOADING=1" and lines[1].startswith("MONOTONIC_USEC=")
    assert int(lines[1].split("=")[1]) > 0
    assert notifier.stopping()
    assert sock.recv(4096) == b"STOPPING=1"
    notifier.close()


def test_abstract_namespace_address() -> None:
    """``@name`` addresses the abstract namespace (what systemd usually hands out)."""
    name = f"ingestd-test-{secrets.token_hex(6)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.settimeout(2)
    try:
        notifier = Notifier("@" + name)
        assert notifier.ready()
        assert sock.recv(4096) == b"READY=1"
        notifier.close()
    finally:
        sock.close()


def test_the_environment_names_the_socket(
    receiver: tuple[socket.socket, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    sock, path = receiver
    monkeypatch.setenv("NOTIFY_SOCKET", path)
    notifier = Notifier()
    assert notifier.enabled and notifier.watchdog()
    assert sock.recv(4096) == b"WATCHDOG=1"


def test_without_a_socket_nothing_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Not under systemd (or Type=simple): every call is a quiet no-op."""
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = Notifier()
    assert not notifier.enabled
    assert not notifier.ready() and not notifier.watchdog() and not notifier.stopping()


def test_a_vanished_socket_never_raises(tmp_path: Path) -> None:
    """A supervisor that went away must not take the service down."""
    notifier = Notifier(str(tmp_path / "gone.sock"))
    assert notifier.enabled
    assert not notifier.ready()


def test_watchdog_period_is_half_of_watchdog_sec() -> None:
    pid = str(os.getpid())
    assert watchdog_period_s({"WATCHDOG_USEC": "30000000"}) == 15.0
    assert watchdog_period_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": pid}) == 15.0
    assert watchdog_period_s({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_period_s({}) is None
    assert watchdog_period_s({"WATCHDOG_USEC": "soon"}) is None
