"""Opening a database: URL handling, SQLite pragmas and transaction modes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

from ingestd.errors import StoreError

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
        return create_engine(parsed, pool_pre_ping=True, pool_size=4, max_overflow=4)
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


def _configure_sqlite(engine: Engine, background_checkpoints: bool) -> None:
    """WAL, foreign keys, and explicit BEGIN (IMMEDIATE for writes) instead of pysqlite's own."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
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
