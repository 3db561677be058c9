"""Versioned schema migrations, applied in order at start (``Store.open``).

Each migration brings the schema from version N-1 to N inside one transaction. On PostgreSQL an
advisory lock makes concurrent starts of several workers safe: the first migrates, the others
wait and then find nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, Table, inspect, select, text

from ingestd.store import schema

MIGRATION_LOCK_ID = 7_140_212_001  # PostgreSQL advisory lock key for migrations


@dataclass(frozen=True)
class Migration:
    """One schema step."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _initial(conn: Connection) -> None:
    schema.metadata.create_all(
        conn, tables=[schema.feeds, schema.clusters, schema.items, schema.lsh_keys, schema.polls]
    )


def _add_columns(conn: Connection, table: Table, names: list[str]) -> None:
    """Add ``names`` (defined on ``table`` in schema.py) where missing: idempotent on both
    dialects, so a database created by ``create_all`` at a later version is left alone."""
    present = {column["name"] for column in inspect(conn).get_columns(table.name)}
    for name in names:
        if name in present:
            continue
        column = table.c[name]
        kind = column.type.compile(dialect=conn.dialect)
        default = getattr(column.default, "arg", None)
        clause = ""
        if default is not None and not callable(default):
            literal = f"'{default}'" if isinstance(default, str) else str(int(default))
            clause = f" NOT NULL DEFAULT {literal}"
        conn.execute(text(f"ALTER TABLE {table.name} ADD COLUMN {name} {kind}{clause}"))


def _feed_politeness(conn: Connection) -> None:
    names = [
        "failure_kind",
        "not_before_at",
        "body_fetched_at",
        "redirect_to",
        "redirect_seen",
        "aliases",
    ]
    _add_columns(conn, schema.feeds, names)


def _feed_source(conn: Connection) -> None:
    """feeds.source: existing feeds came from the configuration file (idempotent)."""
    _add_columns(conn, schema.feeds, ["source"])


def _retention(conn: Connection) -> None:
    """The tombstones of pruned entries and the index retention scans (idempotent)."""
    schema.pruned_entries.create(conn, checkfirst=True)
    for index in schema.items.indexes:
        if index.name == "ix_items_fetched":
            index.create(conn, checkfirst=True)


def _leases(conn: Connection) -> None:
    """Feed leases and shared per-host request turns, for several workers (idempotent)."""
    _add_columns(conn, schema.feeds, ["lease_owner", "lease_until"])
    schema.host_turns.create(conn, checkfirst=True)


def _host_slots(conn: Connection) -> None:
    """Per-host concurrency slots for several workers (idempotent)."""
    schema.host_slots.create(conn, checkfirst=True)


def _feeds_due_index(conn: Connection) -> None:
    """The index a claim walks to find the next due feed (idempotent)."""
    for index in schema.feeds.indexes:
        if index.name == "ix_feeds_due":
            index.create(conn, checkfirst=True)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "feeds, items, clusters, lsh_keys, polls", _initial),
    Migration(2, "feeds: source (config file or command line)", _feed_source),
    Migration(3, "retention: pruned_entries, items by fetch time", _retention),
    Migration(4, "feeds: failure class, Retry-After, redirects, aliases", _feed_politeness),
    Migration(5, "feeds: leases; host_turns shared between workers", _leases),
    Migration(6, "host_slots: per-host request slots shared between workers", _host_slots),
    Migration(7, "feeds: index of due feeds by next poll time", _feeds_due_index),
)
HEAD = max(migration.version for migration in MIGRATIONS)


def current_version(conn: Connection) -> int:
    """The schema version of the database (0 when empty)."""
    if not inspect(conn).has_table("schema_version"):
        return 0
    value = conn.execute(
        select(schema.schema_version.c.version)
        .order_by(schema.schema_version.c.version.desc())
        .limit(1)
    ).scalar()
    return int(value or 0)


@contextmanager
def _write_transaction(conn: Connection) -> Iterator[None]:
    """A transaction that holds the write lock from its start (SQLite: ``BEGIN IMMEDIATE``).

    A deferred one that read the schema and then wrote would fail at once ("database is
    locked", no busy wait) if another process, a daemon starting, migrated meanwhile.
    """
    conn.info["write"] = True
    with conn.begin():
        yield


def upgrade(engine: Engine) -> list[Migration]:
    """Apply every pending migration; returns those applied."""
    applied: list[Migration] = []
    if engine.dialect.name == "sqlite":
        with engine.connect() as conn:  # the usual case, read only: nothing to do
            if current_version(conn) >= HEAD:
                return applied
    with engine.connect() as conn, _write_transaction(conn):
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_ID})
        schema.schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
        for migration in sorted(MIGRATIONS, key=lambda m: m.version):
            if migration.version <= version:
                continue
            migration.apply(conn)
            conn.execute(
                schema.schema_version.insert().values(
                    version=migration.version,
                    description=migration.description,
                    applied_at=datetime.now(UTC),
                )
            )
            applied.append(migration)
    return applied
