"""Opening a database: URL handling, SQLite pragmas and transaction modes.

A SQLite file this process may not write (another user's, or on a read-only mount) is opened
read-only (:func:`read_only_engine`) by the commands that only read: SQLite's ``mode=ro``, and
when even that cannot start (a WAL database whose ``-shm`` file does not exist, in a folder
this user cannot create it in, so no writer has it open) as ``immutable``.
"""

from __future__ import annotations

import errno
import os
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ingestd.config import sqlite_file
from ingestd.errors import StoreError

_SQLITE_FULL = 13  # sqlite3's error code for "database or disk is full"
_PG_DISK_FULL = "53100"  # PostgreSQL's SQLSTATE disk_full

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Page cache per connection, KiB (SQLite's default is 2 MiB). The key index of a million items
# is gigabytes; a bigger cache keeps its upper levels in memory so a lookup or insert reads
# fewer pages from the OS. It counts towards RSS, once per open connection.
SQLITE_CACHE_KIB = 32_768
# Size the WAL file is cut back to after a checkpoint has emptied it, bytes (it otherwise keeps
# the size of the largest burst of writes).
SQLITE_WAL_LIMIT_BYTES = 64 * 1024 * 1024
# With checkpoints in the background, the commit that takes the WAL past this many pages
# (64 MiB of 4 KiB pages) still checkpoints itself. A thread's passive checkpoint never catches
# up with a writer that writes without pause (the WAL is only reset between two transactions
# once all of it has been copied): without this backstop a long fill grew the WAL to 68 GB.
SQLITE_BACKSTOP_CHECKPOINT_PAGES = 16_384


# Connections kept open to PostgreSQL per process: one for each thread that uses the store at
# once (the writer, the pipeline's side threads — ``ingestd.pipeline.core.SIDE_THREADS`` — and
# one spare for the lease keeper and the CLI). A smaller pool made the threads beyond it open
# and close a connection per transaction (about 2,000 connections per 10,000 polls).
POSTGRES_POOL_SIZE = 10


def display_url(url: str) -> str:
    """``url`` with its password hidden (for logs and messages)."""
    return make_url(url).render_as_string(hide_password=True)


def engine_for(url: str, background_checkpoints: bool = False) -> Engine:
    """An engine for a ``sqlite:///`` or ``postgresql://`` URL (psycopg 3 driver).

    ``background_checkpoints``: for a process that runs a
    :class:`ingestd.store.checkpoint.Checkpointer`; SQLite's in-commit WAL checkpoint then only
    runs as a backstop, past ``SQLITE_BACKSTOP_CHECKPOINT_PAGES``.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
        return create_engine(
            parsed, pool_pre_ping=True, pool_size=POSTGRES_POOL_SIZE, max_overflow=4
        )
    if backend != "sqlite":
        raise StoreError(
            f"store: unsupported database URL {url!r} (use sqlite:/// or postgresql://)"
        )
    database = parsed.database
    if database and database != ":memory:":
        try:
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"store: cannot create the folder for {database}: {exc}") from None
    engine = create_engine(parsed, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    _configure_sqlite(engine, background_checkpoints)
    return engine


def cannot_write(url: str) -> bool:
    """True for an existing SQLite database file that this process may not write: the file
    or its folder (where SQLite creates its ``-wal`` and ``-shm`` files) is read-only to it."""
    path = sqlite_file(url)
    if path is None or not path.is_file():
        return False
    return not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def read_only_engine(url: str) -> Engine:
    """An engine that opens the SQLite file of ``url`` read-only (see the module); the
    database is never written, not even by a pragma."""
    path = sqlite_file(url)
    if path is None:
        raise StoreError(f"store: {url!r} is not a SQLite database file")
    location = quote(str(path))

    def connect() -> sqlite3.Connection:
        timeout_s = SQLITE_BUSY_TIMEOUT_MS / 1000
        conn = sqlite3.connect(
            f"file:{location}?mode=ro", uri=True, timeout=timeout_s, check_same_thread=False
        )
        try:
            conn.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.OperationalError:  # no -shm, and no right to create it: no writer
            conn.close()
            conn = sqlite3.connect(
                f"file:{location}?mode=ro&immutable=1",
                uri=True,
                timeout=timeout_s,
                check_same_thread=False,
            )
        return conn

    engine = create_engine("sqlite://", creator=connect)
    _configure_sqlite(engine, background_checkpoints=False, read_only=True)
    return engine


def is_disk_full(exc: BaseException) -> bool:
    """Whether a database error (SQLAlchemy's, or the driver's it wraps) means that there is
    no space left for the database: SQLite's SQLITE_FULL, PostgreSQL's disk_full, ENOSPC."""
    cause = getattr(exc, "orig", None) or exc
    if getattr(cause, "sqlite_errorcode", None) == _SQLITE_FULL:
        return True
    if getattr(cause, "sqlstate", None) == _PG_DISK_FULL:
        return True
    if getattr(cause, "errno", None) == errno.ENOSPC:
        return True
    text = str(cause).lower()
    return "database or disk is full" in text or "no space left on device" in text


def _configure_sqlite(
    engine: Engine, background_checkpoints: bool, read_only: bool = False
) -> None:
    """WAL, foreign keys, and explicit BEGIN (IMMEDIATE for writes) instead of pysqlite's own;
    ``read_only``: only the pragmas that write nothing."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        if not read_only:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        if not read_only:
            cursor.execute(f"PRAGMA journal_size_limit={SQLITE_WAL_LIMIT_BYTES}")
        if background_checkpoints:
            cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_BACKSTOP_CHECKPOINT_PAGES}")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Sent on the driver's connection: through SQLAlchemy it cost a tenth of an item's dedup.
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.execute("BEGIN IMMEDIATE" if conn.info.get("write") else "BEGIN")
        cursor.close()
