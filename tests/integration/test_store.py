"""The store on SQLite and PostgreSQL (see the ``store`` fixture), and linking through it."""

from __future__ import annotations

import hashlib
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import Connection, inspect
from sqlalchemy.exc import IntegrityError, StatementError

from ingestd.config import DedupSettings, FeedConfig
from ingestd.dedup.compare import VERBATIM_CONTAINMENT, overlap
from ingestd.dedup.keys import anchor_key, band_key, describe, key_kind, paragraph_key
from ingestd.dedup.link import LinkOutcome, link_new_item
from ingestd.dedup.signature import SignatureParams, make_signature
from ingestd.errors import StoreError
from ingestd.model import Signature
from ingestd.store import NewItem, Store, Transaction, migrations
from ingestd.store import engine as engine_module
from ingestd.store.checkpoint import Checkpointer
from ingestd.urls import normalize_url

Prose = Callable[..., list[str]]  # the ``prose`` fixture
NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)
FEEDS = [FeedConfig(f"https://{name}.example/feed.xml", name=name) for name in ("a", "b", "c")]


def add_feeds(store: Store, configured: list[FeedConfig] = FEEDS) -> list[int]:
    with store.transaction() as tx:
        tx.sync_feeds(configured, NOW)
        by_url = {feed.url: feed.id for feed in tx.feeds()}
    return [by_url[feed.url] for feed in configured]


def new_item(
    feed_id: int,
    key: str,
    *,
    host: str = "a.example",
    text: str = "",
    title: str = "Harbour strike ends",
    published: datetime | None = NOW,
    fetched: datetime = NOW,
    guid: str | None = None,
    canonical: str | None = None,
    body_hash: str | None = None,
    attribution: tuple[str, ...] = (),
    compilation: bool = False,
) -> NewItem:
    url = f"https://{host}/{key}"
    signature = make_signature(text, title, SignatureParams())
    return NewItem(
        feed_id=feed_id,
        entry_key=key,
        guid=guid,
        url=url,
        url_norm=normalize_url(url),
        canonical_url=canonical,
        canonical_norm=normalize_url(canonical) if canonical else None,
        site_host=host,
        site_name=None,
        title=title,
        published_at=published,
        fetched_at=fetched,
        text=text,
        text_source="page",
        extract_note=None,
        body_hash=body_hash or signature.body_hash,
        n_words=signature.n_words,
        shingles=signature.shingles,
        narrative=signature.narrative,
        minhash=signature.minhash,
        attribution=attribution or signature.attribution,
        compilation=compilation or signature.compilation_hint,
    )


# --- migrations ---------------------------------------------------------------------------------


def test_migrations_bring_an_empty_database_to_head_once(database_url: str) -> None:
    empty = Store.open(database_url, migrate=False)
    try:
        assert empty.schema_version() == 0
        assert migrations.upgrade(empty.engine) == list(migrations.MIGRATIONS)
        assert empty.schema_version() == migrations.HEAD
        assert migrations.upgrade(empty.engine) == []
        tables = set(inspect(empty.engine).get_table_names())
    finally:
        empty.close()
    assert {"schema_version", "feeds", "items", "clusters", "dedup_keys", "polls"} <= tables
    assert "lsh_keys" not in tables  # created by migration 1, dropped by migration 8


def _legacy_keys(signature: Signature, bands: int) -> list[str]:
    """The text keys an ingestd before migration 8 stored for this signature."""
    values = np.frombuffer(signature.minhash, dtype="<u4").astype(np.uint32)
    rows = len(values) // bands
    texts = []
    for band in range(bands if signature.band_keys else 0):
        chunk = values[band * rows : (band + 1) * rows].astype("<u8").tobytes()
        texts.append(f"b{band}:{hashlib.blake2b(chunk, digest_size=8).hexdigest()}")
    for key in signature.anchor_keys:
        kind, value = describe(key).split(":")
        texts.append(f"{kind}:{int(value, 16):08x}")
    return texts


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("a:1f2e3d4c", 0x1F2E3D4C),
        ("p:00000003", (1 << 40) + 3),
        ("b3:0123456789abcdef", (5 << 40) + 0x0123456789),
        ("b31:ffffffffffffffff", (33 << 40) + 0xFFFFFFFFFF),
        ("a:zz", -1),
        ("b:0123456789", -1),
        ("", -1),
    ],
)
def test_a_text_key_has_one_integer_form(text: str, number: int) -> None:
    assert migrations.integer_key(text) == number


def _migrate_to(conn: Connection, version: int) -> None:
    """Apply migrations 1..``version`` to an empty database and record it at that version."""
    from ingestd.store import schema

    schema.schema_version.create(conn)
    for migration in migrations.MIGRATIONS[:version]:
        migration.apply(conn)
    values = {"version": version, "description": f"v{version}", "applied_at": NOW}
    conn.execute(schema.schema_version.insert().values(**values))


def _from(version: int) -> list[int]:
    """The migrations an upgrade from ``version - 1`` applies, to the head."""
    return sorted(m.version for m in migrations.MIGRATIONS if m.version >= version)


def test_migration_8_turns_the_stored_text_keys_into_integer_keys(
    database_url: str, prose: Prose
) -> None:
    """A store of version 7 keeps finding its copies: every text key becomes the integer key
    the new signature code makes for the same text, bands and anchors alike."""
    from sqlalchemy import insert

    from ingestd.store import schema

    short = "\n".join(prose(41, count=3))  # under 320 shingles: band keys too
    long = "\n".join(prose(42, count=10))  # anchors and paragraph openings only
    params = SignatureParams()
    store = Store.open(database_url, migrate=False)
    try:
        with store.engine.begin() as conn:
            _migrate_to(conn, 7)
        a, b, _c = add_feeds(store)
        stored: dict[str, int] = {}
        with store.transaction() as tx:
            for name, text in (("short", short), ("long", long)):
                signature = make_signature(text, "", params)
                stored[name] = tx.insert_item(new_item(a, name, text=text))
                rows = [
                    {"key": key, "item_id": stored[name], "at": int(NOW.timestamp())}
                    for key in _legacy_keys(signature, params.bands)
                ]
                tx.conn.execute(insert(schema.legacy_lsh_keys), rows)
            odd = [{"key": k, "item_id": stored["short"], "at": 0} for k in ("x:1", "b:zz")]
            tx.conn.execute(insert(schema.legacy_lsh_keys), odd)  # no known form: -1, no error
        assert [m.version for m in migrations.upgrade(store.engine)] == _from(8)  # to HEAD
        tables = set(inspect(store.engine).get_table_names())
        with store.transaction() as tx:
            short_sig = make_signature(short, "", params)
            long_sig = make_signature(long, "", params)
            by_bands = tx.candidates(short_sig.band_keys, None, exclude_item=0)
            unknown = tx.candidates([-1], None, exclude_item=0)
            by_anchors = tx.candidates(long_sig.anchor_keys, None, exclude_item=0)
            copy = new_item(b, "copy", host="b.example", text=long)
            copy_sig = replace(long_sig, band_keys=())
            linked = link_new_item(tx, tx.insert_item(copy), copy, copy_sig, DedupSettings(), NOW)
    finally:
        store.close()
    assert "lsh_keys" not in tables and "dedup_keys" in tables
    assert short_sig.band_keys and by_bands == {"b": {stored["short"]: params.bands}}
    kinds = {key_kind(key) for key in long_sig.anchor_keys}
    assert kinds == {"a", "p"}
    anchors = sum(1 for key in long_sig.anchor_keys if key_kind(key) == "a")
    assert by_anchors == {
        "a": {stored["long"]: anchors},
        "p": {stored["long"]: len(long_sig.anchor_keys) - anchors},
    }
    assert linked.republication
    assert unknown == {"b": {stored["short"]: 1}}  # the two odd keys are one row


def _item_index_names(store: Store) -> set[str]:
    """The names of the items table's indexes, read from the catalogue (SQLAlchemy's reflection
    skips SQLite's indexes on expressions)."""
    with store.engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'items'"
        else:
            query = (
                "SELECT indexname FROM pg_indexes"
                " WHERE tablename = 'items' AND schemaname = current_schema()"
            )
        return {str(name) for (name,) in conn.exec_driver_sql(query)}


def test_migration_9_indexes_items_newest_first_and_keeps_them(database_url: str) -> None:
    """A store of version 8 (an index of publication time alone) gets the newest-first index
    of publication, else fetch, time; its items and their order are unchanged."""
    from sqlalchemy import text

    store = Store.open(database_url, migrate=False)
    try:
        with store.engine.begin() as conn:
            _migrate_to(conn, 8)
            # migration 1 creates today's indexes: put back the one a version-8 store has
            conn.execute(text("DROP INDEX ix_items_when"))
            conn.execute(text("CREATE INDEX ix_items_published ON items (published_at)"))
        assert {"ix_items_published"} <= _item_index_names(store) - {"ix_items_when"}
        a, _b, _c = add_feeds(store)
        with store.transaction() as tx:
            old = tx.insert_item(new_item(a, "old", published=NOW - timedelta(days=2)))
            undated = tx.insert_item(new_item(a, "undated", published=None, fetched=NOW))
            new = tx.insert_item(new_item(a, "new", published=NOW + timedelta(hours=1)))
        assert [m.version for m in migrations.upgrade(store.engine)] == _from(9)
        names = _item_index_names(store)
        with store.transaction(write=False) as tx:
            listed = [item.id for item in tx.list_items()]
    finally:
        store.close()
    assert "ix_items_when" in names and "ix_items_published" not in names
    assert listed == [new, undated, old]


def test_listings_newest_first_walk_an_index_instead_of_sorting_every_item(
    tmp_path: Path,
) -> None:
    """``list_items`` and the export's story query read their rows in order from
    ``ix_items_when``: SQLite's plan has no sort over the whole table (which at a million
    items read every row for a page of 50)."""
    from sqlalchemy import event

    from ingestd.store import stories

    store = Store.open(f"sqlite:///{tmp_path}/plan.sqlite3")
    statements: list[tuple[str, object]] = []

    def capture(_conn: object, _cursor: object, sql: str, params: object, *_: object) -> None:
        if sql.lstrip().upper().startswith("SELECT") and "FROM items" in sql:
            statements.append((sql, params))

    try:
        a, _b, _c = add_feeds(store)
        with store.transaction() as tx:
            for day in range(3):
                tx.insert_item(new_item(a, f"e{day}", published=NOW - timedelta(days=day)))
        event.listen(store.engine, "before_cursor_execute", capture)
        with store.transaction(write=False) as tx:
            tx.list_items(limit=2)
            stories.story_heads(tx, since=NOW - timedelta(days=1), limit=2)
            stories.story_heads(tx, limit=2)
        event.remove(store.engine, "before_cursor_execute", capture)
        path = str(tmp_path / "plan.sqlite3")
    finally:
        store.close()
    assert len(statements) == 3
    with sqlite3.connect(path) as conn:
        for sql, params in statements:
            plan = " | ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert "ix_items_when" in plan and "TEMP B-TREE" not in plan, plan


def test_opening_twice_keeps_the_schema_and_the_data(database_url: str) -> None:
    first = Store.open(database_url)
    add_feeds(first)
    first.close()

    second = Store.open(database_url)
    try:
        assert second.schema_version() == migrations.HEAD
        with second.transaction(write=False) as tx:
            assert [feed.url for feed in tx.feeds()] == [feed.url for feed in FEEDS]
    finally:
        second.close()


_FILL_2000_PAGES = (
    "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)"
    " INSERT INTO filler SELECT randomblob(4000) FROM n"
)


@pytest.mark.parametrize("background", [False, True])
def test_the_writer_checkpoints_the_wal_on_a_thread_not_inside_its_commits(
    tmp_path: Path, background: bool
) -> None:
    path = tmp_path / "checkpoints.sqlite3"
    store = Store.open(f"sqlite:///{path}", background_checkpoints=background)
    try:
        with store.transaction() as tx:
            tx.conn.exec_driver_sql("CREATE TABLE filler (blob BLOB)")
        before = path.stat().st_size
        with store.transaction() as tx:  # 2,000 pages: twice SQLite's automatic checkpoint
            tx.conn.exec_driver_sql(_FILL_2000_PAGES)
        after_commit = path.stat().st_size
        deadline = time.monotonic() + (10 if background else 0)
        # The thread's checkpoint grows the file as it copies: wait for all of it, not the start.
        while path.stat().st_size <= before + 7_000_000 and time.monotonic() < deadline:
            time.sleep(0.05)
        checkpointed = path.stat().st_size
    finally:
        store.close()

    if background:  # the commit only wrote the WAL; the thread copied it into the file later
        assert after_commit == before
        assert checkpointed > before + 7_000_000
    else:  # SQLite's own checkpoint ran inside the commit
        assert after_commit > before + 7_000_000


def test_a_writer_that_never_pauses_keeps_the_wal_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The thread's checkpoints cannot catch up with back-to-back transactions (here they do
    nothing at all); the writer's own backstop checkpoint must then keep the WAL small."""
    monkeypatch.setattr(engine_module, "SQLITE_BACKSTOP_CHECKPOINT_PAGES", 200)
    monkeypatch.setattr(Checkpointer, "checkpoint", lambda self: None)
    path = tmp_path / "busy.sqlite3"
    store = Store.open(f"sqlite:///{path}", background_checkpoints=True)
    try:
        with store.transaction() as tx:
            tx.conn.exec_driver_sql("CREATE TABLE filler (blob BLOB)")
        for _ in range(20):  # 2,000 pages in all
            with store.transaction() as tx:
                tx.conn.exec_driver_sql(_FILL_2000_PAGES.replace("2000", "100"))
        wal_bytes = Path(f"{path}-wal").stat().st_size
    finally:
        store.close()

    assert wal_bytes < 400 * 4096  # the backstop's 200 pages and one transaction, not 2,000


def test_opening_while_another_process_writes_the_schema_waits_for_it(tmp_path: Path) -> None:
    """A command started while the daemon creates or migrates the database waits, then opens
    (a deferred transaction would have failed at once with "database is locked")."""
    path = tmp_path / "busy.sqlite3"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE other_process (x INTEGER)")
    release = threading.Timer(0.5, lambda: writer.execute("COMMIT"))
    release.start()
    try:
        store = Store.open(f"sqlite:///{path}")
    finally:
        release.join()
        writer.close()
    assert store.schema_version() == migrations.HEAD
    store.close()


def test_a_database_that_cannot_be_created_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")

    with pytest.raises(StoreError, match="store: "):
        Store.open(f"sqlite:///{blocker}/sub/t.sqlite3")


# --- feeds --------------------------------------------------------------------------------------


def test_sync_feeds_adds_updates_and_deactivates(store: Store) -> None:
    a, b, _c = add_feeds(store)
    renamed = FeedConfig(FEEDS[1].url, name="Bee", interval_s=600.0)
    newcomer = FeedConfig("https://d.example/feed.xml")

    with store.transaction() as tx:
        tx.sync_feeds([renamed, FEEDS[0], newcomer], NOW)
        everything = {feed.url: feed for feed in tx.feeds()}
        active = [feed.url for feed in tx.feeds(active_only=True)]

    assert len(everything) == 4
    assert everything[FEEDS[1].url].id == b
    assert (everything[FEEDS[1].url].name, everything[FEEDS[1].url].interval_s) == ("Bee", 600.0)
    assert everything[FEEDS[0].url].id == a
    assert everything[FEEDS[2].url].active is False
    assert everything[newcomer.url].status == "new"
    assert everything[newcomer.url].consecutive_failures == 0
    assert sorted(active) == sorted([FEEDS[0].url, FEEDS[1].url, newcomer.url])


def test_a_feed_configured_again_is_reactivated(store: Store) -> None:
    add_feeds(store)
    with store.transaction() as tx:
        tx.sync_feeds(FEEDS[:1], NOW)
        tx.sync_feeds(FEEDS, NOW)
        assert all(feed.active for feed in tx.feeds())


def test_due_feeds_are_never_polled_first_then_most_overdue(store: Store) -> None:
    configured = [FeedConfig(f"https://f{n}.example/feed.xml") for n in range(6)]
    ids = add_feeds(store, configured)
    with store.transaction() as tx:
        tx.update_feed(ids[0], next_poll_at=NOW - timedelta(minutes=5))
        tx.update_feed(ids[1], next_poll_at=NOW + timedelta(seconds=1))  # not yet
        # ids[2] never polled
        tx.update_feed(ids[3], next_poll_at=NOW - timedelta(hours=2))
        tx.update_feed(ids[4], next_poll_at=NOW)  # exactly due
        tx.update_feed(ids[5], next_poll_at=NOW - timedelta(days=1), active=False)

        due = [feed.id for feed in tx.due_feeds(NOW)]
        counted = tx.count_due_feeds(NOW)

    assert due == [ids[2], ids[3], ids[0], ids[4]]
    assert counted == 4


def test_claims_take_never_polled_then_most_overdue_and_skip_live_leases(store: Store) -> None:
    configured = [FeedConfig(f"https://g{n}.example/feed.xml") for n in range(6)]
    ids = add_feeds(store, configured)
    until = NOW + timedelta(minutes=10)
    with store.transaction() as tx:
        tx.update_feed(ids[0], next_poll_at=NOW - timedelta(minutes=5))
        tx.update_feed(ids[1], next_poll_at=NOW + timedelta(seconds=1))  # not yet
        # ids[2] never polled
        tx.update_feed(ids[3], next_poll_at=NOW - timedelta(hours=2))
        tx.update_feed(ids[4], next_poll_at=NOW - timedelta(hours=3), lease_until=until)
        tx.update_feed(ids[5], next_poll_at=NOW - timedelta(days=1), active=False)

    claimed = []
    while True:
        with store.transaction() as tx:
            got = tx.claim_due_feeds("me", NOW, until, 1)
        if not got:
            break
        claimed.append(got[0].id)
        assert got[0].lease_owner == "me"

    assert claimed == [ids[2], ids[3], ids[0]]  # ids[4] is leased by someone else
    later = until + timedelta(seconds=1)  # every lease has lapsed: a batch takes them all
    with store.transaction() as tx:
        batch = tx.claim_due_feeds("other", NOW, later + timedelta(minutes=10), 3, lease_now=later)
    assert {feed.id for feed in batch} == {ids[2], ids[4], ids[3]}  # the 3 first in due order


def test_next_poll_at_round_trips_as_aware_utc(store: Store) -> None:
    (feed_id, *_rest) = add_feeds(store)
    local = datetime(
        2024, 5, 6, 17, 30, 15, 123456, tzinfo=timezone(timedelta(hours=5, minutes=30))
    )

    with store.transaction() as tx:
        tx.update_feed(feed_id, next_poll_at=local, last_polled_at=None)
    with store.transaction(write=False) as tx:
        feed = tx.feed(feed_id)

    assert feed is not None
    assert feed.next_poll_at == local
    assert feed.next_poll_at.utcoffset() == timedelta(0)
    assert feed.next_poll_at == datetime(2024, 5, 6, 12, 0, 15, 123456, tzinfo=UTC)
    assert feed.last_polled_at is None


def test_the_next_poll_never_comes_before_a_hold_set_on_the_feed(store: Store) -> None:
    held, free = add_feeds(store)[:2]
    hold = NOW + timedelta(hours=1)
    with store.transaction() as tx:
        tx.update_feed(held, not_before_at=hold)
    for asked, expected in ((NOW + timedelta(minutes=10), hold), (hold + timedelta(hours=1), None)):
        with store.transaction() as tx:
            tx.update_feed_held(held, next_poll_at=asked, status="ok")
            tx.update_feed_held(free, next_poll_at=asked, status="ok")
        with store.transaction(write=False) as tx:
            feed, other = tx.feed(held), tx.feed(free)
        assert feed is not None and other is not None
        assert feed.next_poll_at == (expected or asked) and feed.status == "ok"
        assert other.next_poll_at == asked  # no hold: as asked


def test_a_naive_datetime_is_refused(store: Store) -> None:
    (feed_id, *_rest) = add_feeds(store)

    with pytest.raises(StatementError, match="naive datetime"), store.transaction() as tx:
        tx.update_feed(feed_id, next_poll_at=datetime(2024, 5, 6, 12, 0))


def test_unknown_feed_is_none(store: Store) -> None:
    with store.transaction(write=False) as tx:
        assert tx.feed(12345) is None


# --- items --------------------------------------------------------------------------------------


def test_known_entry_keys_are_per_feed(store: Store) -> None:
    a, b, _c = add_feeds(store)
    with store.transaction() as tx:
        for key in ("k1", "k2", "k3"):
            tx.insert_item(new_item(a, key))
        tx.insert_item(new_item(b, "k4", host="b.example"))

        wanted = ["k1", "k3", "k4", "missing"] + [f"x{n}" for n in range(1200)]  # several chunks
        assert tx.known_entry_keys(a, wanted) == {"k1", "k3"}
        assert tx.known_entry_keys(b, wanted) == {"k4"}
        assert tx.known_entry_keys(a, []) == set()


def test_known_entry_keys_fit_old_sqlite_variable_limits(tmp_path: Path) -> None:
    """SQLite builds before 3.32 allow 999 variables a statement; the known-entries query binds
    each key twice, so its chunks must stay under that (a SQLite limit: no PostgreSQL run)."""
    store = Store.open(f"sqlite:///{tmp_path}/limits.sqlite3")
    try:
        a, _b, _c = add_feeds(store)
        with store.transaction() as tx:
            tx.insert_item(new_item(a, "k1"))
            raw = tx.conn.connection.dbapi_connection
            assert isinstance(raw, sqlite3.Connection)
            before = raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
            try:
                wanted = ["k1"] + [f"x{n}" for n in range(1200)]
                assert tx.known_entry_keys(a, wanted) == {"k1"}
            finally:
                raw.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, before)
    finally:
        store.close()


def test_the_same_entry_twice_in_one_feed_is_rejected(store: Store) -> None:
    a, b, _c = add_feeds(store)
    with store.transaction() as tx:
        tx.insert_item(new_item(a, "entry-1"))
        tx.insert_item(new_item(b, "entry-1", host="b.example"))  # another feed may have it

    with pytest.raises(IntegrityError), store.transaction() as tx:
        tx.insert_item(new_item(a, "entry-1"))

    with store.transaction(write=False) as tx:
        assert tx.count_items() == 2


def test_a_failed_transaction_leaves_nothing_behind(store: Store) -> None:
    (a, *_rest) = add_feeds(store)

    with pytest.raises(RuntimeError), store.transaction() as tx:
        tx.insert_item(new_item(a, "entry-1"))
        raise RuntimeError("boom")

    with store.transaction(write=False) as tx:
        assert tx.count_items() == 0


def test_an_inserted_item_reads_back_whole(store: Store, prose: Prose) -> None:
    (a, *_rest) = add_feeds(store)
    text = "\n".join(prose(1, 3))
    item = new_item(
        a,
        "guid-000001",
        text=text,
        guid="guid-000001",
        canonical="https://origin.example/s",
        attribution=("origin.example", "example times"),
        compilation=True,
        published=None,
    )

    with store.transaction() as tx:
        item_id = tx.insert_item(item)
    with store.transaction(write=False) as tx:
        record = tx.item(item_id)
        stored_text = tx.item_text(item_id)
        arrays = tx.shingles([item_id])

    assert record is not None
    assert record.feed_url == FEEDS[0].url
    assert (record.url, record.url_norm, record.guid) == (item.url, item.url_norm, "guid-000001")
    assert record.canonical_norm == "http://origin.example/s"
    assert record.attribution == ("origin.example", "example times")
    assert record.compilation is True
    assert record.split is False
    assert (record.role, record.cluster_id) == ("single", None)
    assert record.published_at is None
    assert record.when == NOW  # falls back to the fetch time
    assert record.n_words == item.n_words > 100
    assert stored_text == text
    assert arrays[item_id].shingles == item.shingles
    assert arrays[item_id].narrative == item.narrative


def test_items_matching_finds_by_each_identity_column(store: Store) -> None:
    a, b, _c = add_feeds(store)
    with store.transaction() as tx:
        first = tx.insert_item(
            new_item(
                a,
                "one",
                guid="guid-shared",
                body_hash="h" * 32,
                canonical="https://origin.example/story",
            )
        )
        second = tx.insert_item(new_item(b, "one", guid="guid-shared", body_hash="h" * 32))
        tx.insert_item(new_item(b, "other", body_hash="g" * 32))

        def ids(column: str, value: str, exclude: int | None = None) -> list[int]:
            return [r.id for r in tx.items_matching(column, value, exclude)]

        assert ids("url_norm", "http://a.example/one") == [first, second]
        assert ids("canonical_norm", "http://origin.example/story") == [first]
        assert ids("body_hash", "h" * 32) == [first, second]
        assert ids("body_hash", "h" * 32, exclude=first) == [second]
        assert ids("guid", "guid-shared", exclude=second) == [first]
        assert ids("guid", "nothing") == []


def test_list_items_is_newest_first_and_filters_by_feed(store: Store) -> None:
    a, b, _c = add_feeds(store)
    with store.transaction() as tx:
        old = tx.insert_item(new_item(a, "old", published=NOW - timedelta(days=2)))
        undated = tx.insert_item(
            new_item(a, "undated", published=None, fetched=NOW - timedelta(days=1))
        )
        new = tx.insert_item(new_item(b, "new", host="b.example", published=NOW))

        assert [i.id for i in tx.list_items()] == [new, undated, old]
        assert [i.id for i in tx.list_items(feed_url=FEEDS[0].url)] == [undated, old]
        assert [i.id for i in tx.list_items(limit=1)] == [new]


# --- candidate keys -----------------------------------------------------------------------------


A1, A2, AFF = anchor_key(0x01), anchor_key(0x02), anchor_key(0xFF)
P3, P4 = paragraph_key(0x03), paragraph_key(0x04)


def test_keys_are_integers_whose_kind_is_their_tag() -> None:
    keys = [anchor_key(0xFFFFFFFF), paragraph_key(0), band_key(0, b"\xff" * 8), band_key(125, b"")]
    assert [key_kind(key) for key in keys] == ["a", "p", "b", "b"]
    assert band_key(3, bytes.fromhex("0123456789abcdef")) == (5 << 40) + 0x0123456789
    assert describe(band_key(3, bytes.fromhex("0123456789abcdef"))) == "b3:0123456789"
    assert max(keys) < 2**47  # six bytes in SQLite's record format
    assert len(set(keys)) == len(keys)
    with pytest.raises(ValueError, match="band 126"):
        band_key(126, b"")


def test_candidates_count_shared_keys_by_kind_and_skip_the_item_itself(store: Store) -> None:
    (a, *_rest) = add_feeds(store)
    with store.transaction() as tx:
        one = tx.insert_item(new_item(a, "one"))
        two = tx.insert_item(new_item(a, "two"))
        tx.insert_keys(one, [A1, A2, P3, A2])  # a repeat is stored once
        tx.insert_keys(two, [A1, P4])

        found = tx.candidates([A1, A2, P3, P4, AFF], None, exclude_item=0)
        without_two = tx.candidates([A1, P4], None, exclude_item=two)
        nothing = tx.candidates([], None, exclude_item=0)

    assert found == {"a": {one: 2, two: 1}, "p": {one: 1, two: 1}}
    assert {kind: ids for kind, ids in without_two.items() if ids} == {"a": {one: 1}}
    assert nothing == {}


def test_lsh_band_keys_are_one_kind(store: Store) -> None:
    (a, *_rest) = add_feeds(store)
    bands = [band_key(0, b"\xaa" * 8), band_key(1, b"\xbb" * 8), band_key(31, b"\xcc" * 8)]
    with store.transaction() as tx:
        one = tx.insert_item(new_item(a, "one"))
        tx.insert_keys(one, bands)

        found = tx.candidates(bands, None, exclude_item=0)

    assert found == {"b": {one: 3}}


def test_candidates_are_bounded_by_the_window(store: Store) -> None:
    (a, *_rest) = add_feeds(store)
    since = NOW - timedelta(days=30)
    with store.transaction() as tx:
        old = tx.insert_item(new_item(a, "old", fetched=since - timedelta(seconds=1)))
        edge = tx.insert_item(new_item(a, "edge", fetched=since))
        recent = tx.insert_item(new_item(a, "recent", published=None, fetched=NOW))
        for item_id in (old, edge, recent):
            tx.insert_keys(item_id, [A1])

        bounded = tx.candidates([A1], since, exclude_item=0)
        unbounded = tx.candidates([A1], None, exclude_item=0)
        after_all = tx.candidates([A1], NOW + timedelta(seconds=1), exclude_item=0)

    assert bounded == {"a": {edge: 1, recent: 1}}
    assert unbounded == {"a": {old: 1, edge: 1, recent: 1}}
    assert after_all == {}  # no item fetched since then: nothing is in the window


def _three_items_sharing(tx: Transaction, feed_id: int, key: int) -> list[int]:
    """Three new items of one feed, each indexed under ``key``; their ids."""
    ids = [tx.insert_item(new_item(feed_id, f"e{n}")) for n in range(3)]
    for item_id in ids:
        tx.insert_keys(item_id, [key])
    return ids


def test_stock_keys_carried_by_too_many_items_are_ignored(store: Store) -> None:
    (a, *_rest) = add_feeds(store)
    stock, rare = anchor_key(0x5706), anchor_key(0x0001)
    with store.transaction() as tx:
        ids = _three_items_sharing(tx, a, stock)
        tx.insert_keys(ids[0], [rare])
        tx.insert_keys(ids[1], [rare])

        strict = tx.candidates([stock, rare], None, 0, max_key_items=2)
        lenient = tx.candidates([stock, rare], None, 0, max_key_items=3)

    assert strict == {"a": {ids[0]: 1, ids[1]: 1}}
    assert lenient == {"a": {ids[0]: 2, ids[1]: 2, ids[2]: 1}}


def test_a_lookup_counts_other_items_only(store: Store) -> None:
    """The new item's own keys are stored before its lookup: they are neither returned nor
    counted towards a stock key's holders."""
    (a, *_rest) = add_feeds(store)
    shared, own = anchor_key(0x5706), anchor_key(0x0001)
    with store.transaction() as tx:
        ids = _three_items_sharing(tx, a, shared)
        tx.insert_keys(ids[2], [own])

        found = tx.candidates([shared, own], None, exclude_item=ids[2], max_key_items=2)

    assert found == {"a": {ids[0]: 1, ids[1]: 1}}


def test_candidates_handle_more_keys_than_one_query_chunk(store: Store) -> None:
    (a, *_rest) = add_feeds(store)
    keys = [anchor_key(n) for n in range(1200)]
    with store.transaction() as tx:
        item_id = tx.insert_item(new_item(a, "big"))
        tx.insert_keys(item_id, keys)

        assert tx.candidates(keys, None, exclude_item=0) == {"a": {item_id: 1200}}


def test_prune_keys_drops_the_keys_of_old_items_only(store: Store) -> None:
    (a, *_rest) = add_feeds(store)
    with store.transaction() as tx:
        old = tx.insert_item(new_item(a, "old", fetched=NOW - timedelta(days=40)))
        new = tx.insert_item(new_item(a, "new", fetched=NOW))
        tx.insert_keys(old, [A1, P3])
        tx.insert_keys(new, [A1])

        first, second = tx.prune_keys(NOW - timedelta(days=30)), tx.prune_keys(NOW)
        left = tx.candidates([A1, P3], None, exclude_item=0)
        kept_item = tx.item(old)
        everything = tx.prune_keys(NOW + timedelta(days=1))  # no item since: all keys go
        none_left = tx.candidates([A1, P3], None, exclude_item=0)

    assert (first, second) == (1, 0)
    assert left == {"a": {new: 1}}
    assert kept_item is not None
    assert everything == 1 and none_left == {}


# --- clusters -----------------------------------------------------------------------------------


def test_clusters_are_created_updated_listed_and_deleted(store: Store) -> None:
    (a, *_rest) = add_feeds(store)
    with store.transaction() as tx:
        items = [tx.insert_item(new_item(a, f"e{n}")) for n in range(4)]
        first = tx.create_cluster(NOW - timedelta(hours=3))
        second = tx.create_cluster(NOW - timedelta(hours=2))
        small = tx.create_cluster(NOW)
        fresh = tx.cluster(first)
        for item_id, cluster_id in zip(items, [first, first, second, second], strict=True):
            tx.set_membership(item_id, cluster_id=cluster_id, role="republication")
        tx.update_cluster(
            first,
            canonical_item_id=items[0],
            canonical_reason="attribution",
            evidence="{}",
            size=2,
            updated_at=NOW,
        )
        tx.update_cluster(
            second, canonical_item_id=items[2], size=2, updated_at=NOW - timedelta(hours=1)
        )
        tx.update_cluster(small, size=1)

        listed = [c.id for c in tx.list_clusters()]
        limited = [c.id for c in tx.list_clusters(limit=1)]
        with_small = [c.id for c in tx.list_clusters(min_size=1)]
        updated = tx.cluster(first)
        members = [m.id for m in tx.cluster_members(first)]

        tx.delete_cluster(first)
        after = tx.cluster(first)
        orphans = [tx.item(item_id) for item_id in items[:2]]

    assert fresh is not None
    assert (fresh.size, fresh.canonical_item_id, fresh.pinned_item_id) == (0, None, None)
    assert fresh.created_at == NOW - timedelta(hours=3)
    assert listed == [first, second]
    assert limited == [first]
    assert with_small == [small, first, second]
    assert updated is not None
    assert (updated.canonical_item_id, updated.canonical_reason, updated.size) == (
        items[0],
        "attribution",
        2,
    )
    assert updated.updated_at == NOW
    assert members == items[:2]
    assert after is None
    assert all(o is not None and o.cluster_id is None for o in orphans)


def test_clusters_updated_at_the_same_time_list_newest_id_first(store: Store) -> None:
    with store.transaction() as tx:
        ids = [tx.create_cluster(NOW) for _ in range(3)]
        for cluster_id in ids:
            tx.update_cluster(cluster_id, size=2)

        assert [c.id for c in tx.list_clusters()] == ids[::-1]


# --- linking ------------------------------------------------------------------------------------


def link(
    tx: Transaction, feed_id: int, key: str, text: str, host: str, published: datetime | None
) -> LinkOutcome:
    item = new_item(feed_id, key, host=host, text=text, published=published)
    item_id = tx.insert_item(item)
    signature = make_signature(text, item.title, SignatureParams())
    return link_new_item(tx, item_id, item, signature, DedupSettings(), NOW)


def test_two_copies_are_clustered_with_the_earliest_canonical(store: Store, prose: Prose) -> None:
    a, b, _c = add_feeds(store)
    story = prose(100, 12)
    copy = [
        "By Maria Gonzalez Fernandez de la Vega",
        *story[:5],
        prose(101, 1)[0],
        *story[6:],
        "This article was first published by the Harbour Gazette.",
    ]

    with store.transaction() as tx:
        original = link(tx, a, "strike", "\n".join(story), "a.example", NOW - timedelta(hours=5))
        republished = link(tx, b, "strike-copy", "\n".join(copy), "b.example", NOW)
    with store.transaction(write=False) as tx:
        cluster = tx.cluster(republished.cluster_id or 0)
        roles = {m.id: m.role for m in tx.cluster_members(republished.cluster_id or 0)}
        copy_record = tx.item(republished.item_id)

    assert original.cluster_id is None and not original.republication
    assert republished.republication
    assert cluster is not None
    assert (cluster.canonical_item_id, cluster.canonical_reason, cluster.size) == (
        original.item_id,
        "earliest",
        2,
    )
    assert roles == {original.item_id: "canonical", republished.item_id: "republication"}
    assert copy_record is not None
    assert copy_record.match_reason == "minhash"
    assert copy_record.similarity is not None and copy_record.similarity >= 0.5


def test_a_copy_joining_a_cluster_leaves_the_members_that_keep_their_roles_unwritten(
    tmp_path: Path, prose: Prose
) -> None:
    """The cluster is re-decided when a copy joins, but only rows whose role, similarity or
    reason change are written (each write rewrote the whole row, text and arrays included)."""
    store = Store.open(f"sqlite:///{tmp_path / 'cluster.sqlite3'}")
    try:
        a, b, c = add_feeds(store)
        story = "\n".join(prose(120, 12))
        with store.transaction() as tx:
            link(tx, a, "story", story, "a.example", NOW - timedelta(hours=5))
            first = link(tx, b, "story-copy", story, "b.example", NOW - timedelta(hours=1))
        with store.transaction() as tx:
            tx.conn.exec_driver_sql("CREATE TEMP TABLE written (id INTEGER)")
            tx.conn.exec_driver_sql(
                "CREATE TEMP TRIGGER count_writes AFTER UPDATE ON items"
                " BEGIN INSERT INTO written VALUES (new.id); END"
            )
            second = link(tx, c, "story-copy-2", story, "c.example", NOW)
            written = {row[0] for row in tx.conn.exec_driver_sql("SELECT id FROM written")}
            members = tx.cluster_members(second.cluster_id or 0)
    finally:
        store.close()

    assert second.cluster_id == first.cluster_id and len(members) == 3
    assert written == {second.item_id}


def test_an_unrelated_story_stays_single(store: Store, prose: Prose) -> None:
    a, b, _c = add_feeds(store)
    with store.transaction() as tx:
        link(tx, a, "one", "\n".join(prose(110, 10)), "a.example", NOW)
        other = link(tx, b, "two", "\n".join(prose(111, 10)), "b.example", NOW)

    assert (other.cluster_id, other.republication) == (None, False)


def _headline_post(prose: Prose, credited: str) -> tuple[str, str]:
    """An article that opens with its standfirst and headline, and a headline post of it: the
    headline, the standfirst, the headline again and a "Read the full article at" line.

    The post is too short to judge (fewer shingles than ``min_shingles``) and not near-verbatim
    (its lines come in another order, so the shingles across them are its own)."""
    headline, standfirst = prose(150, 2, 13, 13)
    article = "\n".join([standfirst, headline, *prose(151, 8)])
    post = "\n".join([headline, standfirst, headline, f"Read the full article at {credited}"])
    return article, post


def test_a_headline_post_crediting_the_article_joins_it(store: Store, prose: Prose) -> None:
    a, b, _c = add_feeds(store)
    article, post = _headline_post(prose, "https://a.example/article")
    found = overlap(
        make_signature(post, "", SignatureParams()).shingles,
        make_signature(article, "", SignatureParams()).shingles,
    )
    assert found.size_a < DedupSettings().min_shingles
    assert DedupSettings().containment_threshold <= found.containment_a < VERBATIM_CONTAINMENT

    with store.transaction() as tx:
        original = link(tx, a, "article", article, "a.example", NOW - timedelta(hours=2))
        linked = link(tx, b, "post", post, "b.example", NOW)

    assert linked.republication
    with store.transaction(write=False) as tx:
        cluster = tx.cluster(linked.cluster_id or 0)
    assert cluster is not None
    assert (cluster.canonical_item_id, cluster.canonical_reason) == (
        original.item_id,
        "attribution",
    )


def test_a_headline_post_stored_first_joins_the_article_it_credits(
    store: Store, prose: Prose
) -> None:
    a, b, _c = add_feeds(store)
    article, post = _headline_post(prose, "a.example")

    with store.transaction() as tx:
        first = link(tx, b, "post", post, "b.example", NOW - timedelta(hours=1))
        original = link(tx, a, "article", article, "a.example", NOW)

    assert original.republication
    assert original.cluster_id is not None
    with store.transaction(write=False) as tx:
        cluster = tx.cluster(original.cluster_id)
        members = {m.id for m in tx.cluster_members(original.cluster_id)}
    assert members == {first.item_id, original.item_id}
    assert cluster is not None
    assert cluster.canonical_item_id == original.item_id  # credited, although published later


def test_a_headline_post_crediting_another_site_stays_apart(store: Store, prose: Prose) -> None:
    a, b, _c = add_feeds(store)
    article, post = _headline_post(prose, "https://c.example/article")

    with store.transaction() as tx:
        link(tx, a, "article", article, "a.example", NOW - timedelta(hours=2))
        linked = link(tx, b, "post", post, "b.example", NOW)

    assert (linked.cluster_id, linked.republication) == (None, False)


def test_an_earlier_original_arriving_after_its_copies_becomes_canonical(
    store: Store, prose: Prose
) -> None:
    a, b, c = add_feeds(store)
    story = prose(120, 12)
    first_copy = [*story[:3], prose(121, 1)[0], *story[4:]]
    second_copy = [*story[:8], prose(122, 1)[0], *story[9:]]

    with store.transaction() as tx:
        b_item = link(tx, b, "copy-1", "\n".join(first_copy), "b.example", NOW - timedelta(hours=2))
        c_item = link(
            tx, c, "copy-2", "\n".join(second_copy), "c.example", NOW - timedelta(hours=1)
        )
        cluster_id = c_item.cluster_id or 0
        before = tx.cluster(cluster_id)
        a_item = link(tx, a, "original", "\n".join(story), "a.example", NOW - timedelta(hours=6))
        after = tx.cluster(cluster_id)
        roles = {m.id: m.role for m in tx.cluster_members(cluster_id)}

    assert before is not None and before.canonical_item_id == b_item.item_id
    assert a_item.cluster_id == cluster_id
    assert after is not None
    assert (after.canonical_item_id, after.canonical_reason, after.size) == (
        a_item.item_id,
        "earliest",
        3,
    )
    assert roles == {
        a_item.item_id: "canonical",
        b_item.item_id: "republication",
        c_item.item_id: "republication",
    }


def test_an_undated_original_is_still_found_by_its_copy(store: Store, prose: Prose) -> None:
    """Keys carry the time the item was stored, so an item without a publication date matches."""
    a, b, _c = add_feeds(store)
    story = prose(130, 12)
    copy = [*story[:6], prose(131, 1)[0], *story[7:]]

    with store.transaction() as tx:
        undated = link(tx, a, "undated", "\n".join(story), "a.example", None)
        republished = link(tx, b, "copy", "\n".join(copy), "b.example", NOW)
        members = {m.id for m in tx.cluster_members(republished.cluster_id or 0)}

    assert republished.republication
    assert members == {undated.item_id, republished.item_id}


def test_a_near_copy_found_only_by_lsh_bands_is_clustered(store: Store, prose: Prose) -> None:
    a, b, _c = add_feeds(store)
    story = prose(140, 5)  # ~290 words: short enough to be indexed under its band keys
    edited = [*story]
    edited[3] = "Meanwhile " + edited[3]

    def bands_only(
        tx: Transaction, feed_id: int, key: str, paragraphs: list[str], host: str
    ) -> LinkOutcome:
        item = new_item(feed_id, key, host=host, text="\n".join(paragraphs))
        full = make_signature(item.text, item.title, SignatureParams())
        assert full.band_keys
        signature = replace(full, anchor_keys=())  # what a text without sampled anchors yields
        item_id = tx.insert_item(item)
        return link_new_item(tx, item_id, item, signature, DedupSettings(), NOW)

    with store.transaction() as tx:
        bands_only(tx, a, "original", story, "a.example")
        copy = bands_only(tx, b, "copy", edited, "b.example")

    assert copy.republication


def test_host_turns_are_gap_apart_and_slots_are_shared_in_one_statement_each(
    store: Store,
) -> None:
    """A host's turns come ``gap`` apart whoever asks; its ``limit`` slots are taken one at a
    time, none while all are held, and a slot whose holder died frees itself at its time."""
    with store.transaction() as tx:
        assert tx.reserve_host_turn("a.test", 1000, 5_000) == 5_000
        assert tx.reserve_host_turn("a.test", 1000, 5_100) == 6_000
        assert tx.reserve_host_turn("a.test", 1000, 9_000) == 9_000  # the turn had passed
        assert tx.reserve_host_turn("b.test", 1000, 5_100) == 5_100  # hosts are apart
        taken = [tx.acquire_host_slot("a.test", 2, 5_000, 8_000) for _ in range(3)]
        assert taken == [0, 1, None]
        tx.release_host_slot("a.test", 1)
        assert tx.acquire_host_slot("a.test", 2, 5_000, 8_000) == 1
        assert tx.acquire_host_slot("a.test", 2, 8_001, 9_000) == 0  # its holder's time is up


def test_a_postgresql_store_keeps_a_connection_for_each_thread_that_uses_it() -> None:
    """Fewer pooled connections than threads made the others connect per transaction."""
    from ingestd.pipeline.core import SIDE_THREADS
    from ingestd.store.engine import POSTGRES_POOL_SIZE

    assert POSTGRES_POOL_SIZE >= SIDE_THREADS + 2  # the writer and the lease keeper too


def test_kept_statement_connections_commit_each_statement_and_survive_a_failure(
    store: Store,
) -> None:
    """:meth:`Store.statements`: what one statement wrote is visible at once to a transaction
    elsewhere, the thread keeps its connection between calls, and a failed statement drops it
    (the next call works on a fresh one)."""
    with store.statements() as tx:
        assert tx.reserve_host_turn("k.test", 500, 1_000) == 1_000
        first = tx.conn
    with store.transaction(write=False) as tx:
        turns = tx.conn.exec_driver_sql("SELECT next_at_ms FROM host_turns").scalars().all()
        assert turns == [1_500]
    if store.dialect == "sqlite":
        return  # a transaction each time: nothing is kept
    with store.statements() as tx:
        assert tx.conn is first
    with pytest.raises(Exception), store.statements() as tx:  # noqa: B017
        tx.conn.exec_driver_sql("SELECT * FROM no_such_table")
    with store.statements() as tx:
        assert tx.conn is not first
        assert tx.reserve_host_turn("k.test", 500, 1_000) == 1_500
