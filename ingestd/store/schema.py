"""Table definitions (the current schema, one for SQLite and PostgreSQL).

Changing a table here requires a new migration in :mod:`ingestd.store.migrations` that brings
a database of the previous version to this shape.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData()
Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER keys only


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on both dialects (SQLite stores it naive, in UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # type: ignore[no-any-return]
        return value.astimezone(UTC)  # type: ignore[no-any-return]


schema_version = Table(
    "schema_version",
    metadata,
    Column("version", Integer, primary_key=True),
    Column("description", Text, nullable=False),
    Column("applied_at", UtcDateTime, nullable=False),
)

feeds = Table(
    "feeds",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("url", Text, nullable=False, unique=True),
    Column("name", Text),
    Column("title", Text),
    Column("site_url", Text),
    Column("active", Boolean, nullable=False, default=True),
    # new, ok, not_modified, failing, rate_limited, gone, redirected
    Column("status", String(16), nullable=False, default="new"),
    Column("interval_s", Float),
    Column("etag", Text),
    Column("last_modified", Text),
    Column("body_hash", String(64)),
    Column("next_poll_at", UtcDateTime),
    Column("last_polled_at", UtcDateTime),
    Column("last_success_at", UtcDateTime),
    Column("consecutive_failures", Integer, nullable=False, default=0),
    Column("last_error", Text),
    Column("created_at", UtcDateTime, nullable=False),
    # politeness state (migration 4)
    Column("failure_kind", String(16)),  # transient, rate_limited, permanent
    Column("not_before_at", UtcDateTime),  # Retry-After: no request before this time
    Column("body_fetched_at", UtcDateTime),  # last 200 answer (unconditional fetch after a day)
    Column("redirect_to", Text),  # a permanent redirect seen on the latest polls
    Column("redirect_seen", Integer, nullable=False, default=0),  # consecutive polls seeing it
    Column("aliases", Text, nullable=False, default=""),  # earlier URLs, newline-separated
    # work leases between workers (migration 5)
    Column("lease_owner", Text),  # the worker polling the feed now
    Column("lease_until", UtcDateTime),  # its claim lapses then (a dead worker's feeds return)
    # where the subscription comes from (migration 2): "config" ([[feeds]], deactivated when
    # dropped from the file) or "cli" (`ingest feeds add/import`, never touched by config sync)
    Column("source", String(8), nullable=False, default="config", server_default="config"),
    # OPML and per-feed settings (migration 11)
    Column("url_key", Text),  # ingestd.urls.feed_url_key: scheme, www. and trailing / ignored
    Column("folder", Text),  # the OPML folder path, "/"-joined (outermost first), or NULL
    Column("opml_text", Text),  # the OPML outline's text when it differs from its title
    Column("options", Text),  # JSON: user_agent, fetch_pages, favor, allow_private_networks
    Column("request_headers", Text),  # JSON: extra request headers (cookies: never shown)
    # the schedule's memory (migration 13): "new:republications" of the latest successful
    # polls, newest first, comma-separated (NULL: not yet kept; read from polls once)
    Column("recent_polls", Text),
)
Index("ix_feeds_url_key", feeds.c.url_key)

clusters = Table(
    "clusters",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("canonical_item_id", Id, nullable=True),
    Column("canonical_reason", String(32), nullable=False, default="earliest"),
    Column("evidence", Text, nullable=False, default=""),
    Column("pinned_item_id", Id, nullable=True),
    Column("size", Integer, nullable=False, default=0),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

items = Table(
    "items",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed_id", Id, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("entry_key", Text, nullable=False),  # the GUID, else the normalised URL
    Column("guid", Text),
    Column("url", Text),
    Column("url_norm", Text),
    Column("canonical_url", Text),
    Column("canonical_norm", Text),
    Column("site_host", Text),
    Column("site_name", Text),
    Column("title", Text, nullable=False, default=""),
    Column("published_at", UtcDateTime),
    Column("fetched_at", UtcDateTime, nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("text_source", String(8), nullable=False, default="page"),
    Column("extract_note", Text),
    Column("body_hash", String(64)),
    Column("n_words", Integer, nullable=False, default=0),
    Column("shingles", LargeBinary, nullable=False, default=b""),
    Column("narrative", LargeBinary, nullable=False, default=b""),
    Column("minhash", LargeBinary, nullable=False, default=b""),
    Column("attribution", Text, nullable=False, default=""),  # newline-separated source keys
    Column("compilation", Boolean, nullable=False, default=False),
    Column("cluster_id", Id, ForeignKey("clusters.id", ondelete="SET NULL"), nullable=True),
    Column("role", String(16), nullable=False, default="single"),
    Column("match_reason", String(16)),  # how it joined its cluster
    Column("link_reason", String(16)),  # why it is a republication of the canonical item
    Column("matched_item_id", Id),  # the item it was matched to
    Column("similarity", Float),  # to the cluster's canonical item
    Column("similarity_measure", String(16)),
    Column("split", Boolean, nullable=False, default=False),  # kept out of clusters by an operator
    # the article-ness verdict (migration 10): article, compilation, short, gallery, listing,
    # stub (ingestd.model.TextKind), and why, in words (NULL: stored before the verdict existed)
    Column("quality", String(16), nullable=False, default="article"),
    Column("quality_note", Text),
    UniqueConstraint("feed_id", "entry_key", name="uq_items_feed_entry"),
)
Index("ix_items_url_norm", items.c.url_norm)
Index("ix_items_canonical_norm", items.c.canonical_norm)
Index("ix_items_body_hash", items.c.body_hash)
Index("ix_items_guid", items.c.guid)
Index("ix_items_cluster", items.c.cluster_id)
Index("ix_items_site", items.c.site_host, items.c.id)

# The dedup key index (migration 8; it replaced the text keys of ``lsh_keys``): one row per
# distinct key of an item (:mod:`ingestd.dedup.keys`). SQLite keeps it clustered on its primary
# key (no rowid table beside it), so a lookup or an insert touches one B-tree. The dedup window
# is bounded by item id (items are numbered in the order they are stored), which leaves the
# rows without a time column.
dedup_keys = Table(
    "dedup_keys",
    metadata,
    Column("key", BigInteger, primary_key=True, autoincrement=False),
    Column(
        "item_id",
        Id,
        ForeignKey("items.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    sqlite_with_rowid=False,
)
Index("ix_dedup_keys_item", dedup_keys.c.item_id)

# The links verified between items (migration 10): one row per linked pair, ``item_a`` the
# smaller id. Stories are re-decided from these rows (ingestd.dedup.partition), so the stories
# of a set of items do not depend on the order they arrived in. ``strong``: a near-copy both
# ways, identity or attribution; otherwise ``child`` is the contained item (an excerpt).
dedup_links = Table(
    "dedup_links",
    metadata,
    Column(
        "item_a",
        Id,
        ForeignKey("items.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column(
        "item_b",
        Id,
        ForeignKey("items.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    ),
    Column("strong", Boolean, nullable=False),
    Column("child", Id),
    Column("reason", String(16), nullable=False),
    Column("measure", String(16), nullable=False),
    Column("score", Float, nullable=False),
)
Index("ix_dedup_links_b", dedup_links.c.item_b)

# The key index before migration 8 (text keys, a rowid table and two more indexes): migration 1
# still creates it, migration 8 converts its rows into ``dedup_keys`` and drops it.
legacy_lsh_keys = Table(
    "lsh_keys",
    metadata,
    Column("key", String(40), primary_key=True),
    Column("item_id", Id, ForeignKey("items.id", ondelete="CASCADE"), primary_key=True),
    Column("at", BigInteger, nullable=False),
)
Index("ix_lsh_keys_item", legacy_lsh_keys.c.item_id)
Index("ix_lsh_keys_at", legacy_lsh_keys.c.at)

host_turns = Table(
    "host_turns",
    metadata,
    Column("host", Text, primary_key=True),
    Column("next_at_ms", BigInteger, nullable=False),  # Unix ms the next request may start
)

host_slots = Table(
    "host_slots",
    metadata,
    Column("host", Text, primary_key=True),
    Column("slot", Integer, primary_key=True),
    Column("held_until_ms", BigInteger, nullable=False, default=0),  # Unix ms; 0 = free
)

polls = Table(
    "polls",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("feed_id", Id, ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("outcome", String(16), nullable=False),  # new, unchanged, not_modified, failed
    Column("status_code", Integer),
    Column("entries", Integer, nullable=False, default=0),
    Column("new_items", Integer, nullable=False, default=0),
    Column("republications", Integer, nullable=False, default=0),
    Column("error", Text),
)
Index("ix_polls_feed", polls.c.feed_id, polls.c.started_at)
Index("ix_feeds_due", feeds.c.next_poll_at, feeds.c.id)  # claims walk it (migration 7)

# --- retention (migration 3) -------------------------------------------------------------------
Index("ix_items_fetched", items.c.fetched_at)

# --- newest first (migration 9) ----------------------------------------------------------------
# Stories and items are listed by publication time, else fetch time, newest first (the export,
# the daemon's /feed.atom and /feed.json, `ingest items list`). Walked backwards, this index
# yields them in that order, so a listing of N items reads N rows, not the whole table.
# Migration 9 dropped the index on published_at alone, which no query could use.
NEWEST_FIRST = func.coalesce(items.c.published_at, items.c.fetched_at)
Index("ix_items_when", NEWEST_FIRST, items.c.id)

# --- web pages (migration 12) -----------------------------------------------------------------
# The web pages list clusters most recently changed first (``/``), walking this index backwards
# with a keyset cursor; the signal filter (clusters with a member linked by attribution, say)
# starts from the second, a short range per signal instead of a scan of the items.
Index("ix_clusters_updated", clusters.c.updated_at, clusters.c.id)
Index("ix_items_link_reason", items.c.link_reason, items.c.cluster_id)

pruned_entries = Table(  # entries whose items retention deleted, while their feed still lists them
    "pruned_entries",
    metadata,
    Column("feed_id", Id, ForeignKey("feeds.id", ondelete="CASCADE"), primary_key=True),
    Column("entry_key", Text, primary_key=True),
    Column("pruned_at", UtcDateTime, nullable=False),
)
