"""What every part of a :class:`~ingestd.store.Transaction` shares: its connection, the
dedup lock, and the helpers for SQL sent to the driver as is."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

from sqlalchemy import (
    Connection,
    Table,
    text,
)

from ingestd.store.statements import (
    _KNOWN_CHUNK,
    DEDUP_LOCK_ID,
)


class TransactionBase:
    """Queries and writes within one open transaction (the parts below add them by entity)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_dedup(self) -> None:
        """Serialise dedup decisions across workers (PostgreSQL; SQLite has one writer)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DEDUP_LOCK_ID})

    def _insert_new(self, table: Table) -> Any:
        """The dialect's INSERT, which has ``on_conflict_do_nothing`` (imported on first use:
        the PostgreSQL dialect costs a SQLite-only start 60 ms)."""
        if self.conn.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            return pg_insert(table)
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table)

    def _chunks(self, values: Iterable[str]) -> Iterator[tuple[list[str], str]]:
        """The distinct ``values`` in chunks of :data:`_KNOWN_CHUNK`, each with its parameter
        markers, for an ``IN (...)`` list sent to the driver as is."""
        wanted = list(set(values))
        for start in range(0, len(wanted), _KNOWN_CHUNK):
            chunk = wanted[start : start + _KNOWN_CHUNK]
            yield chunk, self.markers(len(chunk))

    def markers(self, count: int) -> str:
        """``count`` positional parameter markers for SQL sent to the driver as is."""
        marker = "?" if self.conn.dialect.paramstyle == "qmark" else "%s"
        return ", ".join([marker] * count)
