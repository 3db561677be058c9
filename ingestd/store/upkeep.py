"""Keeping a long-running database healthy: numbers for metrics and ``ingest stats``, retention
in small batches, and the consistency checks that crash tests (and operators) run.

Every function takes an open :class:`~ingestd.store.Transaction`; the caller decides how big a
transaction is (retention: one batch each, so polls are never held up for long).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import (
    and_,
    case,
    delete,
    func,
    insert,
    literal_column,
    or_,
    select,
    text,
    update,
)

from ingestd.store.schema import (
    clusters,
    dedup_keys,
    dedup_links,
    feeds,
    items,
    polls,
    pruned_entries,
)
from ingestd.store.store import Transaction

PRUNE_ITEMS = 200  # items deleted per retention batch (singles)
PRUNE_CLUSTERS = 25  # whole clusters deleted per retention batch
PRUNE_POLLS = 1000  # poll records deleted per retention batch


# --- numbers ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gauges:
    """Cheap counts read at every metrics scrape."""

    feeds_by_status: dict[str, int]  # active feeds only
    feeds_inactive: int
    queue_depth: int  # active feeds due now (not yet polled)
    items: int
    clusters: int  # clusters of two or more items


@dataclass(frozen=True)
class Stats:
    """What ``ingest stats`` shows: the gauges plus totals that need a scan."""

    gauges: Gauges
    items_by_role: dict[str, int]
    extraction_failures: int  # items whose page gave no usable text (feed content stored)
    since: datetime  # the window of the poll numbers below
    polls_by_outcome: dict[str, int] = field(default_factory=dict)
    new_items: int = 0  # stored by those polls
    republications: int = 0  # of which joined a story already stored
    poll_seconds_p50: float | None = None
    poll_seconds_p95: float | None = None
    pruned_entries: int = 0


def gauges(tx: Transaction, now: datetime) -> Gauges:
    """Feeds by status, queue depth, items and clusters: a handful of small queries."""
    conn = tx.conn
    by_status = {
        str(status): int(count)
        for status, count in conn.execute(
            select(feeds.c.status, func.count())
            .where(feeds.c.active.is_(True))
            .group_by(feeds.c.status)
        )
    }
    inactive = conn.execute(
        select(func.count()).select_from(feeds).where(feeds.c.active.is_(False))
    ).scalar()
    due = conn.execute(
        select(func.count())
        .select_from(feeds)
        .where(feeds.c.active.is_(True))
        .where(or_(feeds.c.next_poll_at.is_(None), feeds.c.next_poll_at <= now))
    ).scalar()
    item_count = conn.execute(select(func.count()).select_from(items)).scalar()
    cluster_count = conn.execute(
        select(func.count()).select_from(clusters).where(clusters.c.size >= 2)
    ).scalar()
    return Gauges(
        by_status, int(inactive or 0), int(due or 0), int(item_count or 0), int(cluster_count or 0)
    )


def stats(tx: Transaction, now: datetime, window: timedelta = timedelta(days=1)) -> Stats:
    """The gauges, items by role, extraction failures and the polls of the last ``window``."""
    conn = tx.conn
    failed = func.sum(case((items.c.extract_note.like("extract:%"), 1), else_=0))
    roles: dict[str, int] = {}
    failures = 0
    # One pass over the items (at a million items each pass reads gigabytes: two took 3.4 s).
    for role, count, role_failures in conn.execute(
        select(items.c.role, func.count(), failed).group_by(items.c.role)
    ):
        roles[str(role)] = int(count)
        failures += int(role_failures or 0)
    since = now - window
    by_outcome: dict[str, int] = {}
    new = republications = 0
    durations: list[float] = []
    recent = select(
        polls.c.outcome,
        polls.c.new_items,
        polls.c.republications,
        polls.c.started_at,
        polls.c.finished_at,
    ).where(polls.c.started_at >= since)
    for outcome, new_items, reps, started, finished in conn.execute(recent):
        by_outcome[outcome] = by_outcome.get(outcome, 0) + 1
        new += int(new_items)
        republications += int(reps)
        durations.append((finished - started).total_seconds())
    pruned = conn.execute(select(func.count()).select_from(pruned_entries)).scalar()
    return Stats(
        gauges=gauges(tx, now),
        items_by_role=roles,
        extraction_failures=failures,
        since=since,
        polls_by_outcome=by_outcome,
        new_items=new,
        republications=republications,
        poll_seconds_p50=statistics.median(durations) if durations else None,
        poll_seconds_p95=_percentile(durations, 0.95),
        pruned_entries=int(pruned or 0),
    )


def _percentile(values: Sequence[float], share: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def release_leases(tx: Transaction) -> int:
    """Clear every feed lease (returns how many): for a SQLite database held with its writer
    lock, where any lease left in the table belongs to a process that died (``kill -9``)."""
    result = tx.conn.execute(
        update(feeds)
        .where(feeds.c.lease_owner.is_not(None))
        .values(lease_owner=None, lease_until=None)
    )
    return int(result.rowcount or 0)


def probe_write(tx: Transaction) -> None:
    """A write of one row onto itself (the first feed's lease owner, unchanged): raises
    :class:`~ingestd.errors.StoreFullError` while there is no space left for the database."""
    first = select(func.min(feeds.c.id)).scalar_subquery()
    tx.conn.execute(
        update(feeds).where(feeds.c.id == first).values(lease_owner=feeds.c.lease_owner)
    )


def ping(tx: Transaction) -> None:
    """A trivial query: raises when the database cannot be reached."""
    tx.conn.execute(text("SELECT 1")).scalar()


# --- retention -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pruned:
    """What one retention batch deleted."""

    items: int = 0
    clusters: int = 0
    polls: int = 0

    def __bool__(self) -> bool:
        return bool(self.items or self.clusters or self.polls)


def prune_batch(tx: Transaction, before: datetime, now: datetime) -> Pruned:
    """Delete one small batch of what was stored before ``before``.

    * items on their own (no cluster) fetched before ``before``, with their dedup keys;
    * whole clusters whose every member was fetched before ``before`` (members, keys, cluster);
      a cluster with one recent member keeps all its members, so no canonical item and no
      evidence a live cluster needs ever disappears, and every cluster keeps two members;
    * poll records that finished before ``before``.

    A pruned item's entry is remembered in ``pruned_entries`` so the next poll of a feed that
    still lists it does not store it again (:func:`forget_pruned` forgets it once the feed stops
    listing it).
    """
    conn = tx.conn
    singles = [
        (int(row.id), int(row.feed_id), str(row.entry_key))
        for row in conn.execute(
            select(items.c.id, items.c.feed_id, items.c.entry_key)
            .where(items.c.cluster_id.is_(None), items.c.fetched_at < before)
            .order_by(items.c.fetched_at, items.c.id)
            .limit(PRUNE_ITEMS)
        )
    ]
    dead = [
        int(value)
        for value in conn.execute(
            select(items.c.cluster_id)
            .where(items.c.cluster_id.is_not(None))
            .group_by(items.c.cluster_id)
            .having(func.max(items.c.fetched_at) < before)
            .limit(PRUNE_CLUSTERS)
        ).scalars()
    ]
    members = (
        [
            (int(row.id), int(row.feed_id), str(row.entry_key))
            for row in conn.execute(
                select(items.c.id, items.c.feed_id, items.c.entry_key).where(
                    items.c.cluster_id.in_(dead)
                )
            )
        ]
        if dead
        else []
    )
    _delete_items(tx, [*singles, *members], now)
    if dead:
        conn.execute(delete(clusters).where(clusters.c.id.in_(dead)))
    old_polls = [
        int(value)
        for value in conn.execute(
            select(polls.c.id)
            .where(polls.c.finished_at < before)
            .order_by(polls.c.id)
            .limit(PRUNE_POLLS)
        ).scalars()
    ]
    if old_polls:
        conn.execute(delete(polls).where(polls.c.id.in_(old_polls)))
    return Pruned(len(singles) + len(members), len(dead), len(old_polls))


def _delete_items(tx: Transaction, doomed: list[tuple[int, int, str]], now: datetime) -> None:
    """Delete items with their keys and links, leaving a tombstone for each entry."""
    if not doomed:
        return
    conn = tx.conn
    ids = [item_id for item_id, _feed, _key in doomed]
    for feed_id, keys in _by_feed(doomed).items():
        conn.execute(
            delete(pruned_entries).where(
                pruned_entries.c.feed_id == feed_id, pruned_entries.c.entry_key.in_(keys)
            )
        )
        conn.execute(
            insert(pruned_entries),
            [{"feed_id": feed_id, "entry_key": key, "pruned_at": now} for key in keys],
        )
    conn.execute(delete(dedup_keys).where(dedup_keys.c.item_id.in_(ids)))
    conn.execute(delete(dedup_links).where(dedup_links.c.item_a.in_(ids)))
    conn.execute(delete(dedup_links).where(dedup_links.c.item_b.in_(ids)))
    conn.execute(delete(items).where(items.c.id.in_(ids)))


def _by_feed(doomed: Iterable[tuple[int, int, str]]) -> dict[int, list[str]]:
    grouped: dict[int, list[str]] = {}
    for _item, feed_id, key in doomed:
        grouped.setdefault(feed_id, []).append(key)
    return grouped


def forget_pruned(tx: Transaction, feed_id: int, listed: Iterable[str]) -> None:
    """Forget the pruned entries of a feed that its latest document no longer lists.

    Sent to the driver as is (it runs on every poll that brings something new; SQLAlchemy's
    expanding ``NOT IN`` cost more than the statement)."""
    keep = list(set(listed))
    statement = f"DELETE FROM pruned_entries WHERE feed_id = {tx.markers(1)}"
    if keep:
        statement += f" AND entry_key NOT IN ({tx.markers(len(keep))})"
    tx.conn.exec_driver_sql(statement, (feed_id, *keep))


# --- consistency -----------------------------------------------------------------------------


def problems(tx: Transaction, polls_complete: bool = True) -> list[str]:
    """Every broken invariant, one line each (an empty list: the database is consistent).

    * every item's cluster exists; every cluster has two or more members, its ``size`` is
      their number, its canonical item is one of them and the only one in the canonical role,
      the others are republications; an item without a cluster is a single;
    * no dedup key without its item; no two items for one entry of a feed;
    * with ``polls_complete`` (no retention ran): every poll that stored items is recorded
      with their number, and every polled feed's last poll is recorded (no half-written poll).
    """
    conn = tx.conn
    found: list[str] = []
    orphans = conn.execute(
        select(items.c.id, items.c.cluster_id)
        .select_from(items.outerjoin(clusters, clusters.c.id == items.c.cluster_id))
        .where(items.c.cluster_id.is_not(None), clusters.c.id.is_(None))
    ).all()
    found += [f"item {i} points to missing cluster {c}" for i, c in orphans]
    found += _cluster_problems(tx)
    loose = conn.execute(
        select(items.c.id, items.c.role).where(
            items.c.cluster_id.is_(None), items.c.role != "single"
        )
    ).all()
    found += [f"item {i} has no cluster but role {r}" for i, r in loose]
    keyless = conn.execute(
        select(func.count())
        .select_from(dedup_keys.outerjoin(items, items.c.id == dedup_keys.c.item_id))
        .where(items.c.id.is_(None))
    ).scalar()
    if keyless:
        found.append(f"{keyless} dedup keys without their item")
    twins = conn.execute(
        select(items.c.feed_id, items.c.entry_key, func.count())
        .group_by(items.c.feed_id, items.c.entry_key)
        .having(func.count() > 1)
    ).all()
    found += [f"feed {f} stores entry {k!r} {n} times" for f, k, n in twins]
    if polls_complete:
        found += _poll_problems(tx)
    return found


def _cluster_problems(tx: Transaction) -> list[str]:
    conn = tx.conn
    members: dict[int, list[tuple[int, str]]] = {}
    for item_id, cluster_id, role in conn.execute(
        select(items.c.id, items.c.cluster_id, items.c.role).where(items.c.cluster_id.is_not(None))
    ):
        members.setdefault(int(cluster_id), []).append((int(item_id), str(role)))
    found = []
    for cluster_id, size, canonical in conn.execute(
        select(clusters.c.id, clusters.c.size, clusters.c.canonical_item_id)
    ):
        mine = members.get(int(cluster_id), [])
        roles = dict(mine)
        where = f"cluster {cluster_id}"
        if len(mine) < 2:
            found.append(f"{where} has {len(mine)} members")
        if size != len(mine):
            found.append(f"{where} records size {size} but has {len(mine)} members")
        if canonical not in roles:
            found.append(f"{where}: canonical item {canonical} is not a member")
        canonicals = [i for i, role in mine if role == "canonical"]
        if canonicals != ([canonical] if canonical in roles else []):
            found.append(f"{where}: items in the canonical role {canonicals}, expected {canonical}")
        odd = [i for i, role in mine if role not in ("canonical", "republication")]
        if odd:
            found.append(f"{where}: members {odd} are neither canonical nor republication")
    return found


def _poll_problems(tx: Transaction) -> list[str]:
    conn = tx.conn
    batches = (
        select(items.c.feed_id, items.c.fetched_at, func.count().label("n"))
        .group_by(items.c.feed_id, items.c.fetched_at)
        .subquery()
    )
    unrecorded = conn.execute(
        select(batches.c.feed_id, batches.c.fetched_at, batches.c.n, polls.c.new_items)
        .select_from(
            batches.outerjoin(
                polls,
                and_(
                    polls.c.feed_id == batches.c.feed_id,
                    polls.c.finished_at == batches.c.fetched_at,
                ),
            )
        )
        .where(or_(polls.c.id.is_(None), polls.c.new_items != batches.c.n))
    ).all()
    found = [
        f"feed {f}: {n} items stored at {at} but the poll records {rec}"
        for f, at, n, rec in unrecorded
    ]
    unlogged = conn.execute(
        select(feeds.c.id, feeds.c.last_polled_at)
        .where(feeds.c.last_polled_at.is_not(None))
        .where(
            ~select(literal_column("1"))
            .where(polls.c.feed_id == feeds.c.id, polls.c.finished_at == feeds.c.last_polled_at)
            .exists()
        )
    ).all()
    found += [
        f"feed {f} was last polled at {at} but no poll is recorded then" for f, at in unlogged
    ]
    return found
