"""Reads for the deduplicated feed out (``ingest export``, ``/feed.atom``, ``/feed.json``).

A *story* is a cluster's canonical item or an item that is alone; its republications are the
other members of its cluster.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import or_, select

from ingestd.store.records import ClusterRecord, ItemRecord
from ingestd.store.schema import NEWEST_FIRST, clusters, items
from ingestd.store.statements import _cluster, _item, _item_select
from ingestd.store.store import Transaction

_HEAD_ROLES = ("canonical", "single")
_CHUNK = 500  # ids per IN (...) list


def story_heads(
    tx: Transaction,
    since: datetime | None = None,
    feed_id: int | None = None,
    limit: int | None = None,
) -> list[ItemRecord]:
    """Canonical and lone items, newest first (by publication, else fetch time).

    ``since`` keeps items published (else fetched) at or after it; ``feed_id`` keeps the stories
    that feed carried, whichever member is canonical.
    """
    when = NEWEST_FIRST  # publication, else fetch time
    query = _item_select().where(items.c.role.in_(_HEAD_ROLES))
    if since is not None:
        query = query.where(when >= since)
    if feed_id is not None:
        carried = select(items.c.cluster_id).where(
            items.c.feed_id == feed_id, items.c.cluster_id.is_not(None)
        )
        query = query.where(or_(items.c.feed_id == feed_id, items.c.cluster_id.in_(carried)))
    query = query.order_by(when.desc(), items.c.id.desc())
    if limit is not None:
        query = query.limit(limit)
    return [_item(row) for row in tx.conn.execute(query)]


def members_by_cluster(tx: Transaction, cluster_ids: Iterable[int]) -> dict[int, list[ItemRecord]]:
    """The items of each cluster, oldest id first."""
    found: dict[int, list[ItemRecord]] = {}
    for chunk in _chunks(cluster_ids):
        query = _item_select().where(items.c.cluster_id.in_(chunk)).order_by(items.c.id)
        for row in tx.conn.execute(query):
            record = _item(row)
            assert record.cluster_id is not None
            found.setdefault(record.cluster_id, []).append(record)
    return found


def clusters_by_id(tx: Transaction, cluster_ids: Iterable[int]) -> dict[int, ClusterRecord]:
    """The cluster rows with these ids."""
    found: dict[int, ClusterRecord] = {}
    for chunk in _chunks(cluster_ids):
        for row in tx.conn.execute(select(clusters).where(clusters.c.id.in_(chunk))):
            record = _cluster(row)
            found[record.id] = record
    return found


def texts(tx: Transaction, item_ids: Iterable[int]) -> dict[int, str]:
    """The extracted text of each item (paragraphs separated by newlines)."""
    found: dict[int, str] = {}
    for chunk in _chunks(item_ids):
        query = select(items.c.id, items.c.text).where(items.c.id.in_(chunk))
        found.update({int(row.id): str(row.text or "") for row in tx.conn.execute(query)})
    return found


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    wanted = sorted(set(ids))
    for start in range(0, len(wanted), _CHUNK):
        yield wanted[start : start + _CHUNK]
