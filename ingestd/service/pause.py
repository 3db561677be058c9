"""When the daemon's store is full: what to say, how often, and when to try again.

A full store (:class:`~ingestd.errors.StoreFullError`) pauses the daemon. :class:`StorePause`
keeps the reason (``/healthz`` serves it), allows one log line per ``REPORT_EVERY_S``, and says
when a new attempt is due: ``RETRY_EVERY_S`` after the last failure, or at once when a SQLite
database's filesystem has gained ``RESUME_GROWTH_BYTES`` of free space since (an operator freed
some). Pure bookkeeping: the daemon probes and runs the passes.
"""

from __future__ import annotations

import os
import time

from ingestd.config import sqlite_file

REPORT_EVERY_S = 60.0  # while the store is full, one log line per this long
RETRY_EVERY_S = 60.0  # while the store is full, a pass is tried again this often
RESUME_GROWTH_BYTES = 1 << 20  # free space gained on SQLite's filesystem that retries at once


class StorePause:
    """The state of a pause for a full store (``problem`` is None while not paused)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.problem: str | None = None
        self._failed_at = 0.0  # time.monotonic() of the last failure
        self._reported_at = float("-inf")  # time.monotonic() of the last log line
        self._free_then: int | None = None  # free bytes on SQLite's filesystem at the failure

    def failed(self, reason: str) -> bool:
        """Record a failure for lack of space; True when a log line is due (the first, then
        one per ``REPORT_EVERY_S``)."""
        now = self._failed_at = time.monotonic()
        self.problem = reason
        self._free_then = free_bytes(self.database_url)
        if now - self._reported_at < REPORT_EVERY_S:
            return False
        self._reported_at = now
        return True

    def retry_due(self) -> bool:
        """Whether to try the store again now (see the module)."""
        free, before = free_bytes(self.database_url), self._free_then
        if free is not None and before is not None and free - before >= RESUME_GROWTH_BYTES:
            return True
        return time.monotonic() - self._failed_at >= RETRY_EVERY_S

    def resumed(self) -> None:
        """The store took a write again: the pause is over."""
        self.problem = None
        self._reported_at = float("-inf")


def free_bytes(database_url: str) -> int | None:
    """Free bytes (for unprivileged users) on the filesystem of a SQLite database file; None
    for PostgreSQL or when it cannot be told."""
    path = sqlite_file(database_url)
    if path is None:
        return None
    try:
        found = os.statvfs(path.parent)
    except OSError:
        return None
    return found.f_bavail * found.f_frsize
