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

import structlog
from sqlalchemy import Connection, Engine, Table, bindparam, inspect, select, text
from sqlalchemy.schema import CreateIndex, CreateTable

from ingestd.store import schema

MIGRATION_LOCK_ID = 7_140_212_001  # PostgreSQL advisory lock key for migrations

log = structlog.get_logger("ingestd.store")


@dataclass(frozen=True)
class Migration:
    """One schema step."""

    version: int
    description: str
    apply: Callable[[Connection], None]


def _initial(conn: Connection) -> None:
    schema.metadata.create_all(
        conn,
        tables=[schema.feeds, schema.clusters, schema.items, schema.legacy_lsh_keys, schema.polls],
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
    _create_index(conn, schema.items, "ix_items_fetched")


def _create_index(conn: Connection, table: Table, name: str) -> None:
    """Create ``table``'s index ``name`` (as schema.py defines it) unless it exists.

    ``CREATE INDEX IF NOT EXISTS`` rather than SQLAlchemy's ``checkfirst``, whose reflection
    cannot see SQLite's indexes on expressions (``ix_items_when``)."""
    (index,) = (index for index in table.indexes if index.name == name)
    conn.execute(CreateIndex(index, if_not_exists=True))


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


def integer_key(text: str) -> int:
    """The integer form (:mod:`ingestd.dedup.keys`) of a text key of ``lsh_keys``:
    ``a:<8 hex>`` → the value, ``p:<8 hex>`` → tag 1, ``b<band>:<16 hex>`` → tag 2 + band over
    the first 10 hex digits (40 bits). Anything else (no such key was ever written) → -1."""
    try:
        if text[:2] == "a:":
            return int(text[2:10], 16)
        if text[:2] == "p:":
            return (1 << 40) | int(text[2:10], 16)
        band, _colon, digest = text[1:].partition(":")
        return ((2 + int(band)) << 40) | int(digest[:10], 16)
    except ValueError:
        return -1


def _integer_key_sql(dialect: str) -> str:
    """:func:`integer_key` as SQL: on SQLite a function registered for the migration (3× faster
    than string functions there), on PostgreSQL an expression."""
    if dialect == "sqlite":
        return "ingestd_integer_key(key)"
    band = "substring(key from '^b([0-9]{1,3}):')"
    digits = "substring(key from ':([0-9a-f]{%d})')"
    return (
        f"CASE WHEN key ~ '^[ap]:[0-9a-f]{{8}}' THEN"
        f" (CASE WHEN left(key, 1) = 'p' THEN CAST(1 AS BIGINT) << 40 ELSE 0 END)"
        f" + ('x' || lpad({digits % 8}, 16, '0'))::bit(64)::bigint"
        f" WHEN key ~ '^b[0-9]{{1,3}}:[0-9a-f]{{10}}' THEN"
        f" ((2 + CAST({band} AS BIGINT)) << 40)"
        f" + ('x' || lpad({digits % 10}, 16, '0'))::bit(64)::bigint"
        f" ELSE -1 END"
    )


def _integer_keys(conn: Connection) -> None:
    """Move the dedup keys into ``dedup_keys`` as integers and drop ``lsh_keys``.

    One INSERT ... SELECT: SQLite reads the old keys in their primary key's order, in which
    each kind's integers also come in order, so the new B-tree grows at its ends; its item
    index is built afterwards. A key of no known form becomes -1 (it never matched anything).
    Measured at a million items (~45 million keys): see bench/RESULTS.md. Idempotent: a
    database created at a later version has no ``lsh_keys``.
    """
    dialect = conn.dialect.name
    table = schema.dedup_keys
    conn.execute(CreateTable(table, if_not_exists=True))
    if inspect(conn).has_table("lsh_keys"):
        if dialect == "sqlite":
            driver = conn.connection.dbapi_connection
            assert driver is not None
            driver.create_function("ingestd_integer_key", 1, integer_key, deterministic=True)
        # WHERE true: SQLite would otherwise read ON CONFLICT as a join's ON.
        order = " ORDER BY lsh_keys.key, lsh_keys.item_id" if dialect == "sqlite" else ""
        conn.execute(
            text(
                f"INSERT INTO dedup_keys (key, item_id) SELECT {_integer_key_sql(dialect)},"
                f" item_id FROM lsh_keys WHERE true{order} ON CONFLICT DO NOTHING"
            )
        )
        conn.execute(text("DROP TABLE lsh_keys"))
    for index in table.indexes:
        index.create(conn, checkfirst=True)


def _newest_first_index(conn: Connection) -> None:
    """The index of items by publication, else fetch time, for listings newest first; drop the
    index of publication time alone, which no query used (idempotent). One pass over the items
    table's rows (the two times are stored before the text, so no text is read)."""
    conn.execute(text("DROP INDEX IF EXISTS ix_items_published"))
    _create_index(conn, schema.items, "ix_items_when")


def _links_and_quality(conn: Connection) -> None:
    """The article-ness verdict on items and the table of verified links (idempotent).

    Clusters stored before have no links: each member is linked to its cluster's canonical
    item (strong, measure ``legacy``), so re-deciding a story from its links keeps it as it was.
    Their items keep the verdict ``article`` with no note: their texts are not read again."""
    _add_columns(conn, schema.items, ["quality", "quality_note"])
    conn.execute(CreateTable(schema.dedup_links, if_not_exists=True))
    for index in schema.dedup_links.indexes:
        index.create(conn, checkfirst=True)
    conn.execute(
        text(
            "INSERT INTO dedup_links (item_a, item_b, strong, child, reason, measure, score)"
            " SELECT CASE WHEN i.id < c.canonical_item_id THEN i.id ELSE c.canonical_item_id END,"
            " CASE WHEN i.id < c.canonical_item_id THEN c.canonical_item_id ELSE i.id END,"
            " true, NULL, coalesce(i.link_reason, i.match_reason, 'minhash'), 'legacy',"
            " coalesce(i.similarity, 1.0)"
            " FROM items i JOIN clusters c ON c.id = i.cluster_id"
            " WHERE c.canonical_item_id IS NOT NULL AND i.id != c.canonical_item_id"
            " ON CONFLICT DO NOTHING"
        )
    )


def _feed_settings(conn: Connection) -> None:
    """Feeds: the URL key that finds a feed under another spelling, OPML folder and text, and
    per-feed settings (idempotent). Every stored feed's key is computed here, once."""
    from ingestd.urls import feed_url_key

    _add_columns(conn, schema.feeds, ["url_key", "folder", "opml_text", "options"])
    _add_columns(conn, schema.feeds, ["request_headers"])
    rows = conn.execute(select(schema.feeds.c.id, schema.feeds.c.url)).fetchall()
    keys = [{"_id": row.id, "key": feed_url_key(row.url)} for row in rows]
    if keys:
        conn.execute(
            schema.feeds.update()
            .where(schema.feeds.c.id == bindparam("_id"))
            .values(url_key=bindparam("key")),
            keys,
        )
    _create_index(conn, schema.feeds, "ix_feeds_url_key")


def _web_page_indexes(conn: Connection) -> None:
    """Clusters by their last change, and items by link reason, for the web pages'
    listing and its signal filter (idempotent)."""
    _create_index(conn, schema.clusters, "ix_clusters_updated")
    _create_index(conn, schema.items, "ix_items_link_reason")


def _recent_polls_on_feeds(conn: Connection) -> None:
    """feeds.recent_polls: the schedule's memory kept on the row, so a 304 reads no poll
    history. Left NULL here; each feed's first poll after the upgrade reads its history once."""
    _add_columns(conn, schema.feeds, ["recent_polls"])


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "feeds, items, clusters, lsh_keys, polls", _initial),
    Migration(2, "feeds: source (config file or command line)", _feed_source),
    Migration(3, "retention: pruned_entries, items by fetch time", _retention),
    Migration(4, "feeds: failure class, Retry-After, redirects, aliases", _feed_politeness),
    Migration(5, "feeds: leases; host_turns shared between workers", _leases),
    Migration(6, "host_slots: per-host request slots shared between workers", _host_slots),
    Migration(7, "feeds: index of due feeds by next poll time", _feeds_due_index),
    Migration(8, "dedup_keys: integer keys, clustered; replaces lsh_keys", _integer_keys),
    Migration(9, "items: listed newest first by an index", _newest_first_index),
    Migration(10, "items: article-ness verdict; dedup_links: verified links", _links_and_quality),
    Migration(11, "feeds: URL key, OPML folder and text, per-feed settings", _feed_settings),
    Migration(12, "web pages: clusters by last change, items by link reason", _web_page_indexes),
    Migration(13, "feeds: the latest polls' counts kept on the row", _recent_polls_on_feeds),
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


def upgrade(engine: Engine, before: Callable[[Migration], None] | None = None) -> list[Migration]:
    """Apply every pending migration; returns those applied.

    ``before`` is called with each migration just before it runs (the daemon tells systemd to
    extend its start timeout: migration 8 rewrites the key index, minutes at a million items).
    """
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
            if version:  # an upgrade (a new database's steps are not worth a line each)
                log.info("applying schema migration", version=migration.version)
            if before is not None:
                before(migration)
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
