"""Where a feed comes from (``feeds.source``, migration 2) on SQLite and PostgreSQL: a version-1
database migrates to head with its feeds marked ``config``; configuration sync deactivates only
configured feeds; feeds added on the command line stay until removed."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import inspect, text

from ingestd.config import FeedConfig
from ingestd.store import Store
from ingestd.store import migrations as migrations_module
from ingestd.store.engine import engine_for
from ingestd.store.migrations import HEAD, MIGRATIONS
from ingestd.store.schema import schema_version
from ingestd.store.subscriptions import CLI, count_active, find_feed, subscribe, unsubscribe

NOW = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
OLD = "http://old.example/feed.xml"
V1_FEED_COLUMNS = {
    "id",
    "url",
    "name",
    "title",
    "site_url",
    "active",
    "status",
    "interval_s",
    "etag",
    "last_modified",
    "body_hash",
    "next_poll_at",
    "last_polled_at",
    "last_success_at",
    "consecutive_failures",
    "last_error",
    "created_at",
}


def make_version_1(url: str) -> None:
    """A database as ingestd 0.1 left it: migration 1's tables with version 1's feeds columns
    (later migrations' columns, ``source`` among them, dropped)."""
    engine = engine_for(url)
    try:
        with engine.begin() as conn:
            migrations_module._initial(conn)
            conn.execute(text("DROP INDEX IF EXISTS ix_feeds_url_key"))  # on a later column
            for column in inspect(conn).get_columns("feeds"):
                if column["name"] not in V1_FEED_COLUMNS:
                    conn.execute(text(f"ALTER TABLE feeds DROP COLUMN {column['name']}"))
            schema_version.create(conn)
            conn.execute(
                schema_version.insert().values(version=1, description="v1", applied_at=NOW)
            )
            conn.execute(
                text(
                    "INSERT INTO feeds (url, active, status, consecutive_failures, created_at)"
                    " VALUES (:url, :active, 'ok', 0, :at)"
                ),
                {"url": OLD, "active": True, "at": NOW.replace(tzinfo=None)},
            )
    finally:
        engine.dispose()


def test_migration_2_is_registered() -> None:
    assert 2 in {m.version for m in MIGRATIONS}
    assert HEAD >= 2


def test_a_version_1_database_migrates_to_head_with_config_feeds(database_url: str) -> None:
    make_version_1(database_url)

    store = Store.open(database_url)
    try:
        assert store.schema_version() == HEAD
        with store.engine.connect() as conn:
            columns = {c["name"] for c in inspect(conn).get_columns("feeds")}
        assert "source" in columns
        with store.transaction() as tx:
            feed = find_feed(tx, OLD)
            assert feed is not None and feed.source == "config" and feed.active
            tx.sync_feeds([], NOW)  # dropped from the file: deactivated, as before
            assert find_feed(tx, OLD).active is False  # type: ignore[union-attr]
    finally:
        store.close()
    again = Store.open(database_url)  # idempotent: nothing left to do
    try:
        assert again.schema_version() == HEAD
    finally:
        again.close()


def test_a_fresh_database_has_source_with_a_server_default(store: Store) -> None:
    """Fresh databases get the migrated shape: NOT NULL, and ``config`` for rows written by
    other tools."""
    with store.engine.connect() as conn:
        [column] = [c for c in inspect(conn).get_columns("feeds") if c["name"] == "source"]
    assert column["nullable"] is False
    assert "config" in str(column["default"])


def test_config_sync_leaves_command_line_feeds_alone(store: Store) -> None:
    configured = [FeedConfig("http://a.example/feed", "A"), FeedConfig("http://b.example/feed")]
    with store.transaction() as tx:
        tx.sync_feeds(configured, NOW)
        subscribe(tx, "http://cli.example/feed", NOW, name="Mine", interval_s=3600.0)
        tx.sync_feeds(configured[:1], NOW)  # b dropped from the file

        feeds = {f.url: f for f in tx.feeds()}
        assert {u: (f.source, f.active) for u, f in feeds.items()} == {
            "http://a.example/feed": ("config", True),
            "http://b.example/feed": ("config", False),
            "http://cli.example/feed": ("cli", True),
        }
        assert (
            feeds["http://cli.example/feed"].name,
            feeds["http://cli.example/feed"].interval_s,
        ) == (
            "Mine",
            3600.0,
        )
        assert count_active(tx) == 2 and count_active(tx, CLI) == 1


def test_a_command_line_feed_listed_in_the_file_becomes_a_config_feed(store: Store) -> None:
    url = "http://cli.example/feed"
    with store.transaction() as tx:
        subscribe(tx, url, NOW)
        tx.sync_feeds([FeedConfig(url, "Now configured")], NOW)
        assert find_feed(tx, url).source == "config"  # type: ignore[union-attr]
        tx.sync_feeds([], NOW)
        assert find_feed(tx, url).active is False  # type: ignore[union-attr]


def test_removing_and_re_adding_keeps_the_feed_and_its_state(store: Store) -> None:
    url = "http://cli.example/feed"
    with store.transaction() as tx:
        first = subscribe(tx, url, NOW, title="Its own title")
        tx.update_feed(first.id, etag='"v1"', status="ok")
        unsubscribe(tx, first.id)
        assert find_feed(tx, url).active is False  # type: ignore[union-attr]

        again = subscribe(tx, url, NOW, name="Back", title="Another title")

        assert again.id == first.id and again.active and again.source == CLI
        assert (again.etag, again.status, again.name) == ('"v1"', "ok", "Back")
        assert again.title == "Its own title"


@pytest.mark.parametrize("url", ["http://a.example/feed"])
def test_find_feed_knows_nothing_of_unknown_urls(store: Store, url: str) -> None:
    with store.transaction(write=False) as tx:
        assert find_feed(tx, url) is None
