"""Background WAL checkpoints for the SQLite writer process.

SQLite's automatic checkpoint runs inside the commit that crosses ``wal_autocheckpoint`` pages
(1,000 by default): that commit copies a thousand scattered pages into the database file and
fsyncs it, ~30 ms on this machine kind, so one commit in ten of a busy ingest paid sixty times
the median. The writer process (the daemon, ``ingest --once``) runs passive checkpoints from
this thread every half second instead: they never block a writer or a reader, and SQLite
releases the GIL while it copies, so the copying runs beside the writer rather than inside its
commits. The WAL is reset (written from its start again) by the first transaction after a
checkpoint has copied all of it. A writer that never pauses leaves no such moment, so its
connections keep an automatic checkpoint as a backstop at 64 MiB of WAL
(``SQLITE_BACKSTOP_CHECKPOINT_PAGES``), which bounds the file.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import structlog
from sqlalchemy import Engine

log = structlog.get_logger("ingestd.store")

CHECKPOINT_EVERY_S = 0.5  # how often the thread checkpoints (no-op when the WAL is empty)


class Checkpointer:
    """A thread running ``PRAGMA wal_checkpoint(PASSIVE)`` every ``every_s`` seconds on its own
    connection of ``engine``, and once more, after the last commit, when stopped."""

    def __init__(self, engine: Engine, every_s: float = CHECKPOINT_EVERY_S) -> None:
        self._engine = engine
        self._every_s = every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
        self._connection: Any = None
        self._failed = False
        self.busy_s = 0.0  # seconds spent checkpointing, all together (for benchmarks)

    def start(self) -> None:
        self._connection = self._engine.raw_connection()
        self._thread.start()

    def stop(self) -> None:
        """Stop the thread, checkpoint what the last commits wrote, release the connection."""
        if self._connection is None:
            return
        self._stop.set()
        self._thread.join()
        self.checkpoint()
        self._connection.close()
        self._connection = None

    def checkpoint(self) -> None:
        """One passive checkpoint; a failure is logged once and retried next time."""
        began = time.perf_counter()
        try:
            cursor = self._connection.cursor()
            try:
                cursor.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                cursor.close()
        except Exception as exc:  # sqlite3.Error, or a closed file during shutdown
            if not self._failed:
                log.warning("WAL checkpoint failed; retrying", error=str(exc))
            self._failed = True
        else:
            self._failed = False
        finally:
            self.busy_s += time.perf_counter() - began

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            self.checkpoint()
