"""The statements the store prepares once, and the readers that turn rows into records."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from sqlalchemy import (
    Result,
    Row,
    bindparam,
    case,
    insert,
    or_,
    select,
    update,
)

from ingestd.dedup.keys import key_kind
from ingestd.store.feedoptions import options_from
from ingestd.store.records import (
    ClusterRecord,
    FeedRecord,
    ItemRecord,
)
from ingestd.store.schema import (
    UtcDateTime,
    clusters,
    feeds,
    host_slots,
    items,
    polls,
)

DEDUP_LOCK_ID = 7_140_212_002  # PostgreSQL advisory lock serialising dedup decisions
SYNC_LOCK_ID = 7_140_212_003  # PostgreSQL advisory lock serialising configuration syncs
_ITEM_COLUMNS = [c for c in items.c if c.name not in ("text", "shingles", "narrative", "minhash")]


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
    return _feed_from(dict(zip(row._fields, row, strict=True)))


def _feeds(result: Result[Any]) -> list[FeedRecord]:
    """Every row of ``result`` as a feed (the column names read once, not per row)."""
    names = list(result.keys())
    return [_feed_from(dict(zip(names, row, strict=True))) for row in result]


def _feed_from(columns: dict[str, Any]) -> FeedRecord:
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
