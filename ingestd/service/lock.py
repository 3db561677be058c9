"""One writer per SQLite database: an exclusive ``flock`` on ``<database file>.lock``.

The daemon and ``ingest --once`` take the lock before opening the store and hold it until they
exit; a second one on the same file refuses to start with :class:`DatabaseBusyError` (exit code 1:
the command and configuration are fine, the database is busy right now, and the same command
succeeds once the other process has stopped). The kernel releases the lock when its holder dies,
even by ``kill -9``, so a stale lock file never blocks a restart. Read-only commands (``clusters``,
``items``, ``stats``) do not take it. PostgreSQL databases are not locked here (several workers
are allowed there; the database serialises their writes).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from ingestd.config import sqlite_file
from ingestd.errors import StoreError


class DatabaseBusyError(StoreError):
    """Another ingestd process is writing to this SQLite database."""


def lock_path(database_url: str) -> Path | None:
    """The lock file of a SQLite database file; None for PostgreSQL and in-memory SQLite."""
    path = sqlite_file(database_url)
    return None if path is None else path.with_name(path.name + ".lock")


@contextlib.contextmanager
def writer_lock(database_url: str) -> Iterator[Path | None]:
    """Hold the database's writer lock for the block (no lock for PostgreSQL)."""
    path = lock_path(database_url)
    if path is None:
        yield None
        return
    descriptor = _acquire(path)
    try:
        yield path
    finally:
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, 0)
        os.close(descriptor)  # releases the lock; the file stays (unlinking it would race)


def _acquire(path: Path) -> int:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise StoreError(f"store: cannot create the lock file {path}: {exc.strerror}") from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.pread(descriptor, 64, 0).decode("ascii", "replace").strip()
        os.close(descriptor)
        who = f"process {holder}" if holder.isdigit() else "another process"
        database = path.with_name(path.name.removesuffix(".lock"))
        raise DatabaseBusyError(
            f"store: {database} is in use by another ingestd ({who} holds {path}); "
            "one daemon or --once run at a time per SQLite database"
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
    return descriptor
