"""systemd's notify protocol (``sd_notify(3)``) without a dependency.

Each message is one datagram of ``KEY=value`` lines to the ``AF_UNIX`` socket named by
``$NOTIFY_SOCKET`` (a path, or ``@name`` for the abstract namespace). Without the variable (not
under systemd, or ``Type=simple``) every call does nothing. Sending never raises: a service must
not die because its supervisor went away.
"""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Mapping

import structlog

NOTIFY_ENV = "NOTIFY_SOCKET"
log = structlog.get_logger("ingestd.notify")


class Notifier:
    """Sends state changes to systemd; a no-op when ``$NOTIFY_SOCKET`` is not set."""

    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get(NOTIFY_ENV)
        self.address: str | None = None
        self._socket: socket.socket | None = None
        if address:
            self.address = "\0" + address[1:] if address.startswith("@") else address
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, *lines: str) -> bool:
        """Send ``KEY=value`` lines in one datagram; False when not sent."""
        if self._socket is None or self.address is None:
            return False
        try:
            self._socket.sendto("\n".join(lines).encode("utf-8"), self.address)
        except OSError as exc:
            log.debug("notify failed", error=str(exc))
            return False
        return True

    def ready(self, status: str | None = None) -> bool:
        """Startup (or a reload) is complete."""
        return self.send("READY=1", *_status(status))

    def reloading(self) -> bool:
        """A reload starts (systemd ≥ 253 wants the monotonic time with it)."""
        usec = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.send("RELOADING=1", f"MONOTONIC_USEC={usec}")

    def stopping(self, status: str | None = None) -> bool:
        return self.send("STOPPING=1", *_status(status))

    def status(self, text: str) -> bool:
        """The one-line status ``systemctl status`` shows."""
        return self.send(*_status(text))

    def watchdog(self) -> bool:
        """Tell the watchdog the service is alive."""
        return self.send("WATCHDOG=1")

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _status(text: str | None) -> list[str]:
    return [f"STATUS={' '.join(text.split())}"] if text else []


def watchdog_period_s(env: Mapping[str, str] | None = None) -> float | None:
    """How often to ping the watchdog (half of ``WatchdogSec``), None when it is off.

    ``$WATCHDOG_USEC`` is systemd's ``WatchdogSec``; ``$WATCHDOG_PID``, when set, names the
    process meant to ping (another process ignores it).
    """
    env = os.environ if env is None else env
    try:
        usec = int(env.get("WATCHDOG_USEC", "0"))
        pid = int(env.get("WATCHDOG_PID", "0") or 0)
    except ValueError:
        return None
    if usec <= 0 or (pid and pid != os.getpid()):
        return None
    return usec / 1_000_000 / 2
