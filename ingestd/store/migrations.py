"""Versioned schema migrations, applied in order at start (``Store.open``).

Each migration brings the schema from version N-1 to N inside one transaction. On PostgreSQL an
advisory lock makes concurrent starts of several workers safe: the first migrates, the others
wait and then find nothing to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Engine, inspect, select, text

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


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "feeds, items, clusters, lsh_keys, polls", _initial),
)
HEAD = MIGRATIONS[-1].version


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


def upgrade(engine: Engine) -> list[Migration]:
    """Apply every pending migration; returns those applied."""
    applied: list[Migration] = []
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_ID})
        schema.schema_version.create(conn, checkfirst=True)
        version = current_version(conn)
        for migration in MIGRATIONS:
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
