"""The store's public surface: :class:`Store` opens the database, :class:`Transaction` holds
every query and write. Rows come out as the dataclasses of :mod:`ingestd.store.records`.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Row,
    Table,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from ingestd.config import FeedConfig
from ingestd.dedup.keys import key_kind
from ingestd.errors import StoreError, StoreFullError
from ingestd.store import migrations
from ingestd.store.checkpoint import Checkpointer
from ingestd.store.engine import engine_for, is_disk_full, read_only_engine
from ingestd.store.feedoptions import option_columns, options_from
from ingestd.store.records import (
    ClusterRecord,
    FeedRecord,
    ItemRecord,
    ItemShingles,
    LinkRecord,
    NewItem,
    PollRecord,
)
from ingestd.store.schema import (
    NEWEST_FIRST,
    UtcDateTime,
    clusters,
    dedup_keys,
    dedup_links,
    feeds,
    host_slots,
    host_turns,
    items,
    polls,
)
from ingestd.urls import feed_url_key

DEDUP_LOCK_ID = 7_140_212_002  # PostgreSQL advisory lock serialising dedup decisions
SYNC_LOCK_ID = 7_140_212_003  # PostgreSQL advisory lock serialising configuration syncs
_ITEM_COLUMNS = [c for c in items.c if c.name not in ("text", "shingles", "narrative", "minhash")]


class Store:
    """One database. Open with :meth:`open`; use :meth:`transaction` for every access."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.checkpointer: Checkpointer | None = None
        self._kept = threading.local()  # each thread's connection for :meth:`statements`
        self._kept_all: list[Connection] = []
        self._kept_lock = threading.Lock()

    @classmethod
    def open(
        cls,
        url: str,
        migrate: bool = True,
        background_checkpoints: bool = False,
        before_migration: Callable[[migrations.Migration], None] | None = None,
        read_only: bool = False,
    ) -> Store:
        """Connect and (by default) apply pending migrations; StoreError when impossible.

        ``read_only`` (a SQLite file this process may not write): opened read-only, never
        migrated; StoreError when its schema is behind this ingestd's.

        ``background_checkpoints`` (SQLite; for the one writer process): WAL checkpoints run
        on a thread of their own instead of inside commits (see :mod:`.checkpoint`).
        ``before_migration`` is called before each migration that runs.
        """
        if read_only:
            return cls._read_only(url)
        engine = engine_for(url, background_checkpoints=background_checkpoints)
        store = cls(engine)
        if migrate:
            try:
                migrations.upgrade(engine, before_migration)
            except SQLAlchemyError as exc:
                engine.dispose()
                raise StoreError(f"store: cannot open {_safe(url)}: {_first_line(exc)}") from None
        if background_checkpoints and store.dialect == "sqlite":
            store.checkpointer = Checkpointer(engine)
            store.checkpointer.start()
        return store

    @classmethod
    def _read_only(cls, url: str) -> Store:
        store = cls(read_only_engine(url))
        try:
            version = store.schema_version()
        except SQLAlchemyError as exc:
            store.close()
            raise StoreError(f"store: cannot read {_safe(url)}: {_first_line(exc)}") from None
        if version < migrations.HEAD:
            store.close()
            raise StoreError(
                f"store: {_safe(url)} is at schema version {version} and this ingestd needs "
                f"{migrations.HEAD}; run `ingest db upgrade` as a user who may write it"
            )
        return store

    def close(self) -> None:
        with self._kept_lock:
            kept, self._kept_all = self._kept_all, []
        for conn in kept:
            with contextlib.suppress(SQLAlchemyError):
                conn.close()
        if self.checkpointer is not None:
            self.checkpointer.stop()
            self.checkpointer = None
        self.engine.dispose()

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[Transaction]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self.engine.connect() as conn:
                conn.info["write"] = write
                with conn.begin():
                    yield Transaction(conn)
        except OperationalError as exc:
            if is_disk_full(exc):
                raise StoreFullError(
                    f"store: no space left for the database ({_first_line(exc)})"
                ) from None
            raise StoreError(f"store: {_first_line(exc)}") from None

    @contextmanager
    def statements(self) -> Iterator[Transaction]:
        """Statements that each commit on their own, on a connection this thread keeps between
        calls: no pool checkout, no liveness ping, no BEGIN and COMMIT round trips. For the
        single-statement writes made around every request (shared host turns and slots), where
        those cost more than the statement. A connection that fails is dropped (the next call
        opens another); errors are :class:`StoreError` as for :meth:`transaction`. On SQLite
        (one process, no round trips) it is :meth:`transaction`."""
        if self.dialect == "sqlite":
            with self.transaction() as tx:
                yield tx
            return
        conn: Connection | None = getattr(self._kept, "conn", None)
        if conn is None or conn.closed or conn.invalidated:
            conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            conn.info["write"] = True
            self._kept.conn = conn
            with self._kept_lock:
                self._kept_all.append(conn)
        try:
            yield Transaction(conn)
        except SQLAlchemyError as exc:
            self._kept.conn = None
            with self._kept_lock:
                if conn in self._kept_all:
                    self._kept_all.remove(conn)
            with contextlib.suppress(SQLAlchemyError):
                conn.close()
            if isinstance(exc, OperationalError):
                if is_disk_full(exc):
                    raise StoreFullError(
                        f"store: no space left for the database ({_first_line(exc)})"
                    ) from None
                raise StoreError(f"store: {_first_line(exc)}") from None
            raise

    def schema_version(self) -> int:
        with self.engine.connect() as conn:
            return migrations.current_version(conn)


def _safe(url: str) -> str:
    """The URL without its password."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _first_line(exc: BaseException) -> str:
    message = str(getattr(exc, "orig", None) or exc)
    return message.strip().splitlines()[0] if message.strip() else type(exc).__name__


class Transaction:
    """Queries and writes within one open transaction."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def lock_dedup(self) -> None:
        """Serialise dedup decisions across workers (PostgreSQL; SQLite has one writer)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": DEDUP_LOCK_ID})

    # --- feeds ---------------------------------------------------------------------------

    def sync_feeds(self, configured: Sequence[FeedConfig], now: datetime) -> None:
        """Make the configured feeds active (adding new ones, taking over command-line ones as
        ``source='config'``) and the other config feeds inactive; feeds added on the command line
        (``source='cli'``) are left alone. A configured URL that a feed has moved away from
        (one of its aliases, after a permanent redirect) names that feed. Concurrent syncs by
        several workers are serialised (PostgreSQL advisory lock)."""
        if self.conn.dialect.name == "postgresql":
            self.conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": SYNC_LOCK_ID})
        existing: dict[str, int] = {}
        current: dict[int, tuple[object, ...]] = {}
        columns = [feeds.c[name] for name in _SYNCED]
        for row in self.conn.execute(select(feeds.c.url, feeds.c.id, feeds.c.aliases, *columns)):
            existing[row.url] = row.id
            current[row.id] = tuple(row._mapping[name] for name in _SYNCED)
            for alias in (row.aliases or "").split("\n"):
                if alias:
                    existing.setdefault(alias, row.id)
        wanted_ids = {existing[feed.url] for feed in configured if feed.url in existing}
        wanted = {feed.url for feed in configured}
        changed: list[dict[str, Any]] = []
        added: list[dict[str, Any]] = []
        for feed in configured:
            stored = option_columns(feed.options)
            values = (feed.name, feed.interval_s, True, "config", *stored.values())
            synced = dict(zip(_SYNCED, values, strict=True))
            if feed.url not in existing:
                added.append({"url": feed.url, "url_key": feed_url_key(feed.url), **synced})
            elif current[existing[feed.url]] != values:  # unchanged feeds are not written
                changed.append({"feed_id": existing[feed.url], **synced})
        if changed:
            self.conn.execute(_SYNC_FEED, changed)
        if added:
            self.conn.execute(
                insert(feeds).values(status="new", consecutive_failures=0, created_at=now), added
            )
        active, source = _SYNCED.index("active"), _SYNCED.index("source")
        gone = {  # active feeds of the file that the file no longer lists
            feed_id
            for url, feed_id in existing.items()
            if url not in wanted
            and feed_id not in wanted_ids
            and current[feed_id][source] == "config"
            and current[feed_id][active]
        }
        ordered = sorted(gone)
        for start in range(0, len(ordered), 500):
            chunk = ordered[start : start + 500]
            self.conn.execute(update(feeds).where(feeds.c.id.in_(chunk)).values(active=False))

    def feeds(self, active_only: bool = False) -> list[FeedRecord]:
        query = select(feeds).order_by(feeds.c.id)
        if active_only:
            query = query.where(feeds.c.active.is_(True))
        return [_feed(row) for row in self.conn.execute(query)]

    def count_due_feeds(self, now: datetime) -> int:
        """How many feeds :meth:`due_feeds` would return."""
        query = (
            select(func.count())
            .select_from(feeds)
            .where(feeds.c.active.is_(True))
            .where(or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= now))
        )
        return int(self.conn.execute(query).scalar_one())

    def due_feeds(self, now: datetime) -> list[FeedRecord]:
        """Active feeds never polled or whose next poll time has come, most overdue first."""
        query = (
            select(feeds)
            .where(feeds.c.active.is_(True))
            .where(or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= now))
            .order_by(feeds.c.next_poll_at.is_not(None), feeds.c.next_poll_at, feeds.c.id)
        )
        return [_feed(row) for row in self.conn.execute(query)]

    def claim_due_feeds(
        self,
        owner: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        lease_now: datetime | None = None,
    ) -> list[FeedRecord]:
        """Lease up to ``limit`` due feeds to ``owner`` until ``lease_until`` and return them.

        A feed is due when it is active, its next poll time is at or before ``now`` (or it was
        never polled) and nobody holds a lease live at ``lease_now`` (default ``now``). On
        PostgreSQL the candidate rows are locked with ``FOR UPDATE SKIP LOCKED``, so concurrent
        workers claim disjoint feeds; SQLite has a single writer (``BEGIN IMMEDIATE``).
        """
        # Two index walks (ix_feeds_due) rather than one sort of every feed per claim: a pass
        # claims each of its feeds, so a sorting query made a pass quadratic in the feeds. The
        # statements are built once (_CLAIM_*): building them cost more than running them.
        ids: list[int] = []
        for due in (_CLAIM_NEVER_POLLED, _CLAIM_DUE):
            if len(ids) >= limit:
                break
            found = self.conn.execute(
                due, {"now": now, "lease_now": lease_now or now, "n": limit - len(ids)}
            )
            ids.extend(int(value) for value in found.scalars())
        if not ids:
            return []
        self.conn.execute(_LEASE, {"ids": ids, "owner": owner, "until": lease_until})
        return [_feed(row) for row in self.conn.execute(_FEEDS_BY_ID, {"ids": ids})]

    def claim_feed(
        self, feed_id: int, owner: str, now: datetime, lease_until: datetime
    ) -> FeedRecord | None:
        """Lease one feed whatever its schedule; None when another worker's lease is live."""
        free = or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < now)
        result = self.conn.execute(
            update(feeds)
            .where(feeds.c.id == feed_id, free)
            .values(lease_owner=owner, lease_until=lease_until)
        )
        return self.feed(feed_id) if result.rowcount else None

    def acquire_host_slot(self, host: str, limit: int, now_ms: int, until_ms: int) -> int | None:
        """Take a free one of ``host``'s ``limit`` request slots until ``until_ms`` (Unix ms);
        None when all are held. Slots a dead worker held free themselves at their time.

        One statement when the host's slots exist (the usual case); its first time, the slots
        are added and the statement runs again."""
        slot = self.conn.execute(
            _TAKE_SLOT, {"_host": host, "_limit": limit, "_now": now_ms, "_until": until_ms}
        ).scalar()
        if slot is None:
            rows = [{"host": host, "slot": n, "held_until_ms": 0} for n in range(limit)]
            added = self.conn.execute(
                self._insert_new(host_slots).values(rows).on_conflict_do_nothing()
            )
            if added.rowcount:
                slot = self.conn.execute(
                    _TAKE_SLOT, {"_host": host, "_limit": limit, "_now": now_ms, "_until": until_ms}
                ).scalar()
        return None if slot is None else int(slot)

    def release_host_slot(self, host: str, slot: int) -> None:
        self.conn.execute(
            update(host_slots)
            .where(host_slots.c.host == host, host_slots.c.slot == slot)
            .values(held_until_ms=0)
        )

    def renew_lease(self, feed_id: int, owner: str, until: datetime) -> None:
        """Extend ``owner``'s lease on a feed (no effect once the lease went to someone else)."""
        self.conn.execute(
            update(feeds)
            .where(feeds.c.id == feed_id, feeds.c.lease_owner == owner)
            .values(lease_until=until)
        )

    def release_claims(self, feed_ids: Sequence[int], owner: str) -> None:
        """End ``owner``'s leases on these feeds (others' leases are left alone); compare
        :func:`ingestd.store.upkeep.release_leases`, which clears every lease."""
        self.conn.execute(
            update(feeds)
            .where(feeds.c.id.in_(list(feed_ids)), feeds.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )

    def reserve_host_turn(self, host: str, gap_ms: int, now_ms: int) -> int:
        """Reserve the next request start for ``host``; returns when it may start (Unix ms).

        Turns are ``gap_ms`` apart across every worker sharing the database; one statement
        (an upsert that returns the reserved turn's end).
        """
        upsert = self._insert_new(host_turns).values(host=host, next_at_ms=now_ms + gap_ms)
        current = host_turns.c.next_at_ms
        later = case((current > now_ms, current), else_=now_ms) + gap_ms
        upsert = upsert.on_conflict_do_update(
            index_elements=[host_turns.c.host], set_={"next_at_ms": later}
        ).returning(host_turns.c.next_at_ms)
        return int(self.conn.execute(upsert).scalar_one()) - gap_ms

    def feed(self, feed_id: int) -> FeedRecord | None:
        row = self.conn.execute(_FEED_BY_ID, {"feed_id": feed_id}).first()
        return _feed(row) if row else None

    def feed_id_for_url(self, url: str) -> int | None:
        """The id of the feed with this URL (or with it among its aliases), if any."""
        found = self.conn.execute(select(feeds.c.id).where(feeds.c.url == url)).scalar()
        if found is not None:
            return int(found)
        pattern = f"%{url}%"
        for feed_id, aliases in self.conn.execute(
            select(feeds.c.id, feeds.c.aliases).where(feeds.c.aliases.like(pattern))
        ):
            if url in (aliases or "").split("\n"):
                return int(feed_id)
        return None

    def recent_polls(self, feed_id: int, limit: int = 6) -> list[tuple[int, int]]:
        """(new items, republications) of the feed's latest successful polls, newest first."""
        found = self.conn.execute(_RECENT_POLLS, {"feed_id": feed_id, "n": limit})
        return [(int(new), int(rep)) for new, rep in found]

    def update_feed(self, feed_id: int, **values: Any) -> None:
        self.conn.execute(_UPDATE_FEED, {"_id": feed_id, **values})

    def update_feed_held(self, feed_id: int, next_poll_at: datetime, **values: Any) -> None:
        """:meth:`update_feed`, with the next poll no earlier than the feed's ``not_before_at``
        (a Retry-After hold, possibly set meanwhile on the whole host) as it stands now."""
        self.conn.execute(_UPDATE_FEED_HELD, {"_id": feed_id, "_next": next_poll_at, **values})

    def update_feeds_held(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """:meth:`update_feed_held` for many feeds in one statement: each row holds ``_id``,
        ``next_poll_at`` and the same other column names."""
        if rows:
            params = [
                {
                    "_next": row["next_poll_at"],
                    **{k: v for k, v in row.items() if k != "next_poll_at"},
                }
                for row in rows
            ]
            self.conn.execute(_UPDATE_FEED_HELD, params)

    def insert_poll(self, poll: PollRecord) -> None:
        self.conn.execute(_INSERT_POLL, poll.__dict__)

    def insert_polls(self, polls: Sequence[PollRecord]) -> None:
        """Many poll lines in one statement."""
        if polls:
            self.conn.execute(_INSERT_POLL, [poll.__dict__ for poll in polls])

    # --- items: identity ------------------------------------------------------------------

    def known_entry_keys(self, feed_id: int, keys: Iterable[str]) -> set[str]:
        """Which of these entry keys the feed already has (stored, or pruned by retention).

        Sent to the driver as is: it runs twice per poll, and SQLAlchemy's expanding ``IN``
        cost more than the query."""
        found: set[str] = set()
        one = self.markers(1)
        for chunk, listed in self._chunks(keys):
            statement = (
                f"SELECT entry_key FROM items WHERE feed_id = {one} AND entry_key IN ({listed})"
                " UNION ALL SELECT entry_key FROM pruned_entries"
                f" WHERE feed_id = {one} AND entry_key IN ({listed})"
            )
            rows = self.conn.exec_driver_sql(statement, (feed_id, *chunk, feed_id, *chunk))
            found.update(key for (key,) in rows)
        return found

    def first_items_by_url(self, url_norms: Iterable[str]) -> dict[str, int]:
        """For each of these normalised URLs that a stored item has, the first such item's id.

        One statement for a poll's new entries (sent to the driver as is, like
        :meth:`known_entry_keys`), instead of one :meth:`items_matching` each."""
        found: dict[str, int] = {}
        for chunk, listed in self._chunks(url_norms):
            statement = (
                f"SELECT url_norm, min(id) FROM items WHERE url_norm IN ({listed})"
                " GROUP BY url_norm"
            )
            rows = self.conn.exec_driver_sql(statement, tuple(chunk))
            found.update((str(norm), int(item_id)) for norm, item_id in rows)
        return found

    def items_matching(
        self, column: str, value: str, exclude_item: int | None = None
    ) -> list[ItemRecord]:
        """Items whose ``column`` (url_norm, canonical_norm, body_hash, guid) equals ``value``."""
        statement = _ITEMS_MATCHING[column]  # KeyError for any other column
        found = self.conn.execute(statement, {"value": value, "exclude": exclude_item or 0})
        return [_item(row) for row in found]

    def item_text(self, item_id: int) -> str:
        value = self.conn.execute(select(items.c.text).where(items.c.id == item_id)).scalar()
        return str(value or "")

    # --- items: near-duplicate candidates ---------------------------------------------------

    def candidates(
        self,
        keys: Sequence[int],
        since: datetime | None,
        exclude_item: int,
        max_key_items: int = 200,
    ) -> dict[str, dict[int, int]]:
        """Items sharing keys with ``keys``, by key kind: {"b": {item id: keys shared}, ...}.

        The kind is the key's (:func:`ingestd.dedup.keys.key_kind`: ``b`` LSH band, ``a``
        anchor, ``p`` paragraph). Only items in the dedup window count: from
        :meth:`first_item_since` ``since`` on (every item when ``since`` is None). A key carried
        by more than ``max_key_items`` other items is a stock phrase and is ignored.
        """
        return count_by_kind(self.key_holders(keys, since, exclude_item), max_key_items)

    def key_holders(
        self, keys: Sequence[int], since: datetime | None, exclude_item: int
    ) -> dict[int, list[int]]:
        """The other items in the dedup window that carry each of ``keys`` (see
        :meth:`candidates`): {key: [item id, ...]}, keys nobody else carries left out."""
        holders: dict[int, list[int]] = {}
        window, bound = "", []
        if since is not None:  # a subquery: as a statement of its own it cost 0.1-0.27 ms more
            window, bound = f" AND item_id >= ({self._first_item_sql()})", [self._when(since)]
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            statement = (
                f"SELECT key, item_id FROM dedup_keys WHERE key IN ({self.markers(len(chunk))})"
                f" AND item_id != {self.markers(1)}{window}"
            )  # sent as is: SQLAlchemy's expanding IN cost more than the lookup
            # The item's own rows are left in the database: its keys are stored before the
            # lookup, and reading them back was half or more of the rows a lookup returned.
            rows = self.conn.exec_driver_sql(statement, (*chunk, exclude_item, *bound)).all()
            for key, item_id in rows:
                holders.setdefault(int(key), []).append(int(item_id))
        return holders

    def item_keys(self, item_id: int) -> list[int]:
        """The dedup keys stored for an item (none once the window has passed it)."""
        query = select(dedup_keys.c.key).where(dedup_keys.c.item_id == item_id)
        return [int(key) for key in self.conn.execute(query).scalars()]

    def on_site(self, site_host: str, ids: Iterable[int]) -> set[int]:
        """Which of these items belong to the site ``site_host`` (read from the index of items
        by site alone, not from their rows)."""
        wanted = list(set(ids))
        found: set[int] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            statement = (
                f"SELECT id FROM items WHERE site_host = {self.markers(1)}"
                f" AND id IN ({self.markers(len(chunk))})"
            )
            found.update(
                int(i) for (i,) in self.conn.exec_driver_sql(statement, (site_host, *chunk))
            )
        return found

    def first_item_since(self, moment: datetime) -> int | None:
        """The id of the first item fetched at or after ``moment`` (None: there is none).

        Where the dedup window starts, in storage order: ids follow the order items are stored,
        so every later id is in the window, to within the seconds an item waits to be stored.
        """
        found = self.conn.exec_driver_sql(self._first_item_sql(), (self._when(moment),))
        value = found.scalar()
        return None if value is None else int(value)

    def _first_item_sql(self) -> str:
        """:meth:`first_item_since` as SQL sent as is (:meth:`candidates` nests it)."""
        return (
            f"SELECT id FROM items WHERE fetched_at >= {self.markers(1)}"
            " ORDER BY fetched_at, id LIMIT 1"
        )

    def _when(self, moment: datetime) -> Any:
        """``moment`` as the driver's parameter for a timestamp column (SQL sent as is)."""
        process = _TIMESTAMP.bind_processor(self.conn.dialect)
        return process(moment) if process is not None else moment

    def identity_candidates(
        self, values: Mapping[str, Sequence[str]], exclude_item: int
    ) -> list[tuple[str, ItemRecord]]:
        """Items whose column equals one of the given values: [(column, item), ...].

        ``values`` maps a column (url_norm, canonical_norm, guid, body_hash) to the values to
        look for; one plain query answers all of them (most new items match nothing, and for
        them this is the whole cost), then the matches' records are read.
        """
        clauses: list[str] = []
        parameters: list[Any] = []
        for column in _IDENTITY_COLUMNS:
            wanted = list(values.get(column, ()))
            if wanted:
                clauses.append(f"{column} IN ({self.markers(len(wanted))})")
                parameters.extend(wanted)
        if not clauses:
            return []
        statement = (
            f"SELECT id, {', '.join(_IDENTITY_COLUMNS)} FROM items"
            f" WHERE ({' OR '.join(clauses)}) AND id != {self.markers(1)} ORDER BY id LIMIT 200"
        )
        hits = list(self.conn.exec_driver_sql(statement, (*parameters, exclude_item)))
        if not hits:
            return []
        records = {record.id: record for record in self.items(int(hit[0]) for hit in hits)}
        found = []
        for item_id, *stored in hits:
            for column, value in zip(_IDENTITY_COLUMNS, stored, strict=True):
                if value is not None and value in values.get(column, ()) and item_id in records:
                    found.append((column, records[item_id]))
        return found

    def minhashes(self, ids: Iterable[int]) -> dict[int, bytes]:
        """Stored MinHash values (uint32 bytes) of the given items."""
        wanted = list(set(ids))
        query = select(items.c.id, items.c.minhash).where(items.c.id.in_(wanted))
        return {int(row.id): bytes(row.minhash) for row in self.conn.execute(query)}

    def site_neighbours(self, site_host: str, exclude: Sequence[int], limit: int = 8) -> list[int]:
        """The most recent items of one site, other than ``exclude`` and other than its
        compilations (a live page quotes the site's stories): to learn its template."""
        query = (
            select(items.c.id)
            .where(items.c.site_host == site_host)
            .where(items.c.id.not_in(list(exclude)))
            .where(items.c.compilation.is_(False))
            .order_by(items.c.id.desc())
            .limit(limit)
        )
        return [int(value) for value in self.conn.execute(query).scalars()]

    def shingles(self, ids: Iterable[int]) -> dict[int, ItemShingles]:
        """The stored shingle hashes of the given items (a verification reads ~100 of them)."""
        wanted = [int(value) for value in set(ids)]
        if not wanted:
            return {}
        statement = (
            f"SELECT id, shingles, narrative FROM items WHERE id IN ({self.markers(len(wanted))})"
        )
        return {
            int(item_id): ItemShingles(int(item_id), bytes(shingles), bytes(narrative))
            for item_id, shingles, narrative in self.conn.exec_driver_sql(statement, tuple(wanted))
        }

    # --- items: writes --------------------------------------------------------------------

    def insert_item(self, item: NewItem) -> int:
        """Store a new item (a single until linking says otherwise); returns its id.

        The values go in as parameters of one prebuilt statement: building a fresh
        ``insert().values(...)`` per item cost SQLAlchemy ten times the insert itself.
        """
        values = dict(item.__dict__, role="single", split=False)
        values["attribution"] = "\n".join(item.attribution)
        result = self.conn.execute(_INSERT_ITEM, values)
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def payload(self, item_id: int) -> dict[str, Any]:
        """An item's article and signature columns, to reuse for the same page in another feed."""
        names = [
            "text",
            "text_source",
            "extract_note",
            "canonical_url",
            "canonical_norm",
            "site_name",
            "body_hash",
            "n_words",
            "shingles",
            "narrative",
            "minhash",
            "attribution",
            "compilation",
            "quality",
            "quality_note",
            "title",
            "published_at",
        ]
        row = self.conn.execute(
            select(*(items.c[n] for n in names)).where(items.c.id == item_id)
        ).one()
        return dict(row._mapping)

    def prune_keys(self, before: datetime, batch_items: int = 500) -> int:
        """Delete the keys of up to ``batch_items`` items stored before
        :meth:`first_item_since` ``before`` (the window's start, as :meth:`candidates` bounds it).

        Returns how many items lost their keys (0 when nothing is left to prune). The items
        themselves stay; they are just no longer dedup candidates.
        """
        first = self.first_item_since(before)
        old = select(dedup_keys.c.item_id).distinct().order_by(dedup_keys.c.item_id)
        if first is not None:
            old = old.where(dedup_keys.c.item_id < first)
        ids = [int(value) for value in self.conn.execute(old.limit(batch_items)).scalars()]
        if ids:
            self.conn.execute(delete(dedup_keys).where(dedup_keys.c.item_id.in_(ids)))
        return len(ids)

    def insert_keys(self, item_id: int, keys: Iterable[int]) -> None:
        """Index an item under its dedup keys (one row per distinct key).

        Sent with the driver's executemany: this is the hottest write of an ingest, and
        SQLAlchemy's per-row parameter processing would cost more than the insert itself.
        """
        rows = [(key, item_id) for key in dict.fromkeys(keys)]
        if not rows:
            return
        statement = f"INSERT INTO dedup_keys (key, item_id) VALUES ({self.markers(2)})"
        self.conn.exec_driver_sql(statement, rows)

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

    def set_membership(self, item_id: int, **values: Any) -> None:
        """Update an item's cluster fields (cluster_id, role, match_reason, similarity, ...)."""
        self.conn.execute(_UPDATE_ITEM, {"_id": item_id, **values})

    # --- links ---------------------------------------------------------------------------

    def insert_links(self, links: Iterable[LinkRecord]) -> None:
        """Store verified links (a pair already linked keeps its row)."""
        rows = [link.__dict__ for link in links]
        if rows:
            self.conn.execute(self._insert_new(dedup_links).on_conflict_do_nothing(), rows)

    def delete_links(self, item_id: int) -> list[int]:
        """Forget every link of an item; returns the items it was linked to."""
        linked = [
            link.item_b if link.item_a == item_id else link.item_a
            for link in self.links_of([item_id])
        ]
        self.conn.execute(
            delete(dedup_links).where(
                or_(dedup_links.c.item_a == item_id, dedup_links.c.item_b == item_id),
                dedup_links.c.reason != OPERATOR,  # an operator's merge outlives re-linking
            )
        )
        return linked

    def set_operator_link(self, item_a: int, item_b: int) -> None:
        """Record an operator's word that two items are one article: a strong link (reason
        ``operator``) in place of whatever link the pair had; re-linking never removes it."""
        low, high = sorted((item_a, item_b))
        pair = (dedup_links.c.item_a == low) & (dedup_links.c.item_b == high)
        self.conn.execute(delete(dedup_links).where(pair))
        link = LinkRecord(low, high, True, None, OPERATOR, OPERATOR, 1.0)
        self.conn.execute(insert(dedup_links), [link.__dict__])

    def delete_operator_links(self, item_id: int) -> list[int]:
        """Forget the operator's merges of an item (it was split out); returns the other
        items."""
        ends = or_(dedup_links.c.item_a == item_id, dedup_links.c.item_b == item_id)
        mine = ends & (dedup_links.c.reason == OPERATOR)
        rows = self.conn.execute(select(dedup_links.c.item_a, dedup_links.c.item_b).where(mine))
        others = [int(b if a == item_id else a) for a, b in rows]
        self.conn.execute(delete(dedup_links).where(mine))
        return others

    def links_of(self, ids: Iterable[int]) -> list[LinkRecord]:
        """Every link that has one of these items at either end.

        Sent to the driver as is: re-deciding a story reads every link around it (thousands
        for a story of hundreds of copies), and SQLAlchemy's rows cost more than the query."""
        wanted = list(set(ids))
        found: dict[tuple[int, int], LinkRecord] = {}
        for start in range(0, len(wanted), 400):
            chunk = wanted[start : start + 400]
            listed = self.markers(len(chunk))
            columns = "item_a, item_b, strong, child, reason, measure, score"
            statement = (
                f"SELECT {columns} FROM dedup_links WHERE item_a IN ({listed})"
                f" UNION SELECT {columns} FROM dedup_links WHERE item_b IN ({listed})"
            )
            rows = self.conn.exec_driver_sql(statement, (*chunk, *chunk)).fetchall()
            for a, b, strong, child, reason, measure, score in rows:
                found[(int(a), int(b))] = LinkRecord(
                    int(a),
                    int(b),
                    bool(strong),
                    None if child is None else int(child),
                    str(reason),
                    str(measure),
                    float(score),
                )
        return list(found.values())

    # --- items: reads ---------------------------------------------------------------------

    def item(self, item_id: int) -> ItemRecord | None:
        row = self.conn.execute(_item_select().where(items.c.id == item_id)).first()
        return _item(row) if row else None

    def items(self, ids: Iterable[int]) -> list[ItemRecord]:
        wanted = list(set(ids))
        if not wanted:
            return []
        return [_item(row) for row in self.conn.execute(_ITEMS_BY_ID, {"ids": wanted})]

    def list_items(self, feed_url: str | None = None, limit: int | None = None) -> list[ItemRecord]:
        """Items newest first (by publication, else fetch time), optionally of one feed."""
        query = _item_select().order_by(NEWEST_FIRST.desc(), items.c.id.desc())
        if feed_url is not None:
            query = query.where(feeds.c.url == feed_url)
        if limit is not None:
            query = query.limit(limit)
        return [_item(row) for row in self.conn.execute(query)]

    def item_counts(self) -> dict[int, int]:
        """Stored items per feed id."""
        query = select(items.c.feed_id, func.count()).group_by(items.c.feed_id)
        return {int(feed_id): int(count) for feed_id, count in self.conn.execute(query)}

    def count_items(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(items)).scalar() or 0)

    # --- clusters -------------------------------------------------------------------------

    def create_cluster(self, now: datetime) -> int:
        values = {"canonical_reason": "earliest", "evidence": "", "size": 0}
        result = self.conn.execute(_INSERT_CLUSTER, dict(values, created_at=now, updated_at=now))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def update_cluster(self, cluster_id: int, **values: Any) -> None:
        self.conn.execute(_UPDATE_CLUSTER, {"_id": cluster_id, **values})

    def delete_cluster(self, cluster_id: int) -> None:
        self.conn.execute(
            update(items).where(items.c.cluster_id == cluster_id).values(cluster_id=None)
        )
        self.conn.execute(delete(clusters).where(clusters.c.id == cluster_id))

    def cluster(self, cluster_id: int) -> ClusterRecord | None:
        row = self.conn.execute(_CLUSTER_BY_ID, {"cluster": cluster_id}).first()
        return _cluster(row) if row else None

    def cluster_members(self, cluster_id: int) -> list[ItemRecord]:
        return [_item(row) for row in self.conn.execute(_CLUSTER_MEMBERS, {"cluster": cluster_id})]

    def list_clusters(self, limit: int | None = None, min_size: int = 2) -> list[ClusterRecord]:
        """Clusters of at least ``min_size`` items, most recently changed first."""
        query = (
            select(clusters)
            .where(clusters.c.size >= min_size)
            .order_by(clusters.c.updated_at.desc(), clusters.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        return [_cluster(row) for row in self.conn.execute(query)]


def _item_select() -> Any:
    return select(*_ITEM_COLUMNS, feeds.c.url.label("feed_url")).join(
        feeds, feeds.c.id == items.c.feed_id
    )


# Prebuilt statements for the hot path: parameters vary, the statement (and its cache key) not.
_INSERT_ITEM = insert(items)
_UPDATE_ITEM = update(items).where(items.c.id == bindparam("_id"))  # SET from the parameters
_UPDATE_CLUSTER = update(clusters).where(clusters.c.id == bindparam("_id"))
_UPDATE_FEED = update(feeds).where(feeds.c.id == bindparam("_id"))
_NEXT_POLL = bindparam("_next", type_=UtcDateTime())
_UPDATE_FEED_HELD = _UPDATE_FEED.values(
    next_poll_at=case((feeds.c.not_before_at > _NEXT_POLL, feeds.c.not_before_at), else_=_NEXT_POLL)
)


def _claim_statement(when: Any, order: tuple[Any, ...]) -> Any:
    """Due feeds (``when``), active and not leased at ``:lease_now``, ``:n`` at most, locked
    for this transaction (PostgreSQL skips rows another worker has locked)."""
    free = or_(feeds.c.lease_until.is_(None), feeds.c.lease_until < bindparam("lease_now"))
    return (
        select(feeds.c.id)
        .where(when, feeds.c.active.is_(True), free)
        .order_by(*order, feeds.c.id)
        .limit(bindparam("n"))
        .with_for_update(skip_locked=True)
    )


# what sync_feeds sets from the config
OPERATOR = "operator"  # the reason and measure of a link an operator made (clusters merge)
_SYNCED = ("name", "interval_s", "active", "source", "options", "request_headers")
_SYNC_FEED = (
    update(feeds)
    .where(feeds.c.id == bindparam("feed_id"))
    .values({name: bindparam(name) for name in _SYNCED})
)
_CLAIM_NEVER_POLLED = _claim_statement(feeds.c.next_poll_at.is_(None), ())
_CLAIM_DUE = _claim_statement(feeds.c.next_poll_at <= bindparam("now"), (feeds.c.next_poll_at,))
_FEED_BY_ID = select(feeds).where(feeds.c.id == bindparam("feed_id"))
# One of a host's free request slots, taken (PostgreSQL skips slots another worker is taking).
_FREE_SLOT = (
    select(host_slots.c.slot)
    .where(host_slots.c.host == bindparam("_host"), host_slots.c.slot < bindparam("_limit"))
    .where(host_slots.c.held_until_ms < bindparam("_now"))
    .order_by(host_slots.c.slot)
    .limit(1)
    .with_for_update(skip_locked=True)
    .scalar_subquery()
)
_TAKE_SLOT = (
    update(host_slots)
    .where(host_slots.c.host == bindparam("_host"), host_slots.c.slot == _FREE_SLOT)
    .values(held_until_ms=bindparam("_until"))
    .returning(host_slots.c.slot)
)
_RECENT_POLLS = (
    select(polls.c.new_items, polls.c.republications)
    .where(polls.c.feed_id == bindparam("feed_id"), polls.c.outcome != "failed")
    .order_by(polls.c.started_at.desc(), polls.c.id.desc())
    .limit(bindparam("n"))
)
# Values per IN (...) list sent as is (``Transaction._chunks``). The known-entries query binds
# each key twice (items and retention's tombstones), so a chunk of 450 stays under the 999
# variables of SQLite builds before 3.32.
_KNOWN_CHUNK = 450
_LEASE = (
    update(feeds)
    .where(feeds.c.id.in_(bindparam("ids", expanding=True)))
    .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
)
_FEEDS_BY_ID = (
    select(feeds).where(feeds.c.id.in_(bindparam("ids", expanding=True))).order_by(feeds.c.id)
)
_INSERT_POLL = insert(polls)
_TIMESTAMP = UtcDateTime()
_IDENTITY_COLUMNS = ("url_norm", "canonical_norm", "guid", "body_hash")
_ITEMS_BY_ID = (
    _item_select().where(items.c.id.in_(bindparam("ids", expanding=True))).order_by(items.c.id)
)
_CLUSTER_MEMBERS = (
    _item_select().where(items.c.cluster_id == bindparam("cluster")).order_by(items.c.id)
)
_CLUSTER_BY_ID = select(clusters).where(clusters.c.id == bindparam("cluster"))
_INSERT_CLUSTER = insert(clusters)
_ITEMS_MATCHING = {  # item ids start at 1, so excluding id 0 excludes nothing
    column: _item_select()
    .where(items.c[column] == bindparam("value"), items.c.id != bindparam("exclude"))
    .order_by(items.c.id)
    .limit(50)
    for column in _IDENTITY_COLUMNS
}


_FEED_FIELDS = frozenset(f.name for f in dataclasses.fields(FeedRecord))


def _feed(row: Row[Any]) -> FeedRecord:
    columns = dict(zip(row._fields, row, strict=True))
    values = {name: value for name, value in columns.items() if name in _FEED_FIELDS}
    values["active"] = bool(values["active"])
    values["aliases"] = tuple(a for a in (values.get("aliases") or "").split("\n") if a)
    values["redirect_seen"] = values.get("redirect_seen") or 0
    values["options"] = options_from(columns.get("options"), columns.get("request_headers"))
    return FeedRecord(**values)


def count_by_kind(
    holders: Mapping[int, list[int]], max_key_items: int
) -> dict[str, dict[int, int]]:
    """Shared keys per other item, by key kind (:meth:`Transaction.candidates`), keys carried
    by more than ``max_key_items`` items left out."""
    counts: dict[str, dict[int, int]] = {}
    for key, found in holders.items():
        if len(found) > max_key_items:
            continue
        kind = counts.setdefault(key_kind(key), {})
        for item_id in found:
            kind[item_id] = kind.get(item_id, 0) + 1
    return counts


def _item(row: Row[Any]) -> ItemRecord:
    m = dict(row._mapping)
    m["attribution"] = tuple(line for line in (m["attribution"] or "").split("\n") if line)
    m["compilation"] = bool(m["compilation"])
    m["split"] = bool(m["split"])
    m.pop("entry_key", None)
    return ItemRecord(**m)


def _cluster(row: Row[Any]) -> ClusterRecord:
    return ClusterRecord(**dict(row._mapping))
