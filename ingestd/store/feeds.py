"""Feeds, their polls and leases, and the hosts' shared request turns and slots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Row,
    case,
    func,
    insert,
    or_,
    select,
    text,
    update,
)

from ingestd.config import FeedConfig
from ingestd.store.base import TransactionBase
from ingestd.store.feedoptions import option_columns
from ingestd.store.records import (
    FeedRecord,
    PollRecord,
)
from ingestd.store.schema import (
    feeds,
    host_slots,
    host_turns,
)
from ingestd.store.statements import (
    _CLAIM_DUE,
    _CLAIM_NEVER_POLLED,
    _FEED_BY_ID,
    _FEEDS_BY_ID,
    _INSERT_POLL,
    _LEASE,
    _RECENT_POLLS,
    _SYNC_FEED,
    _SYNCED,
    _TAKE_SLOT,
    _UPDATE_FEED,
    _UPDATE_FEED_HELD,
    SYNC_LOCK_ID,
    _feed,
    _feeds,
)
from ingestd.urls import feed_url_key


class FeedQueries(TransactionBase):
    """Feeds, their polls and leases, and the hosts' shared request turns and slots."""

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
        for row in self._sync_candidates([feed.url for feed in configured]):
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

    def _sync_candidates(self, urls: Sequence[str]) -> list[Row[Any]]:
        """The feeds a sync may touch, not every stored feed (a store of 100,000 feeds from the
        command line has few in the file): the file's own, those at these URLs, and those with
        aliases (rare: feeds that moved), each with its synced columns."""
        columns = [feeds.c.url, feeds.c.id, feeds.c.aliases, *(feeds.c[n] for n in _SYNCED)]
        found: dict[int, Row[Any]] = {}
        queries = [
            select(*columns).where(feeds.c.source == "config"),
            select(*columns).where(feeds.c.aliases != ""),
        ]
        unique = sorted(set(urls))
        queries += [
            select(*columns).where(feeds.c.url.in_(unique[start : start + 500]))
            for start in range(0, len(unique), 500)
        ]
        for query in queries:
            for row in self.conn.execute(query):
                found[row.id] = row
        return list(found.values())

    def feeds(
        self, active_only: bool = False, folder: str | None = None, limit: int | None = None
    ) -> list[FeedRecord]:
        """Feeds in the order they were added: active ones only, those in ``folder`` or a
        folder inside it, the first ``limit``, as asked."""
        query = select(feeds).where(*_feed_filter(active_only, folder)).order_by(feeds.c.id)
        if limit is not None:
            query = query.limit(limit)
        return _feeds(self.conn.execute(query))

    def count_feeds(self, active_only: bool = False, folder: str | None = None) -> int:
        """How many feeds :meth:`feeds` would list without a limit."""
        query = select(func.count()).select_from(feeds).where(*_feed_filter(active_only, folder))
        return int(self.conn.execute(query).scalar() or 0)

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


def _feed_filter(active_only: bool, folder: str | None) -> list[Any]:
    """Conditions on feeds: active, in ``folder`` or a folder inside it."""
    conditions: list[Any] = []
    if active_only:
        conditions.append(feeds.c.active.is_(True))
    if folder is not None:
        inside = feeds.c.folder.startswith(folder + "/", autoescape=True)
        conditions.append(or_(feeds.c.folder == folder, inside))
    return conditions
