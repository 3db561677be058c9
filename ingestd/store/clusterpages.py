"""Reads for the web pages (:mod:`ingestd.service.web`): clusters most recently changed first, a
page at a time, with filters, and what each listed cluster's members were linked by.

Paging is by keyset, never by offset: a page after the cluster changed at ``t`` with id ``n``
reads the clusters ordered before ``(t, n)`` on the index ``ix_clusters_updated`` (migration 12),
so the hundredth page costs what the first costs. Filters (a feed, a site, a link signal) are
``IN (items of that feed/site/signal)``, each answered by an index on ``items``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, func, or_, select

from ingestd.store.records import ClusterRecord, ItemRecord
from ingestd.store.schema import clusters, items
from ingestd.store.statements import _cluster, _item, _item_select
from ingestd.store.store import Transaction

MIN_SIZE = 2  # a cluster row holding fewer items is on its way out, never listed


@dataclass(frozen=True)
class ClusterFilter:
    """Which clusters ``/`` lists: with a member from this feed (id) or site (host), with a
    member linked by this signal (a link reason: ``attribution``, ``minhash``…), changed at or
    after ``since``. None: no such condition."""

    feed_id: int | None = None
    site: str | None = None
    signal: str | None = None
    since: datetime | None = None


@dataclass(frozen=True)
class Cursor:
    """Where a page ends: the last listed cluster's change time and id."""

    updated_at: datetime
    cluster_id: int


@dataclass(frozen=True)
class ListedCluster:
    """A cluster as ``/`` lists it: its row, its canonical item (None if the row lost it) and how
    many of its members were linked by each reason."""

    cluster: ClusterRecord
    canonical: ItemRecord | None
    signals: dict[str, int]


def recent_clusters(
    tx: Transaction, chosen: ClusterFilter, after: Cursor | None, limit: int
) -> list[ListedCluster]:
    """Up to ``limit`` clusters, most recently changed first, after ``after`` (None: from the
    newest)."""
    query = select(clusters).where(clusters.c.size >= MIN_SIZE)
    if after is not None:
        query = query.where(
            or_(
                clusters.c.updated_at < after.updated_at,
                and_(clusters.c.updated_at == after.updated_at, clusters.c.id < after.cluster_id),
            )
        )
    if chosen.since is not None:
        query = query.where(clusters.c.updated_at >= chosen.since)
    for column, value in (
        (items.c.feed_id, chosen.feed_id),
        (items.c.site_host, chosen.site),
        (items.c.link_reason, chosen.signal),
    ):
        if value is not None:
            holders = select(items.c.cluster_id).where(column == value)
            query = query.where(clusters.c.id.in_(holders))
    query = query.order_by(clusters.c.updated_at.desc(), clusters.c.id.desc()).limit(limit)
    rows = [_cluster(row) for row in tx.conn.execute(query)]
    heads = _items_by_id(tx, [c.canonical_item_id for c in rows if c.canonical_item_id])
    signals = link_reasons(tx, [c.id for c in rows])
    return [
        ListedCluster(c, heads.get(c.canonical_item_id or 0), signals.get(c.id, {})) for c in rows
    ]


def link_reasons(tx: Transaction, cluster_ids: Iterable[int]) -> dict[int, dict[str, int]]:
    """For each cluster, how many of its members were linked by each reason."""
    wanted = sorted(set(cluster_ids))
    if not wanted:
        return {}
    query = (
        select(items.c.cluster_id, items.c.link_reason, func.count())
        .where(items.c.cluster_id.in_(wanted), items.c.link_reason.is_not(None))
        .group_by(items.c.cluster_id, items.c.link_reason)
    )
    found: dict[int, dict[str, int]] = {}
    for cluster_id, reason, count in tx.conn.execute(query):
        found.setdefault(int(cluster_id), {})[str(reason)] = int(count)
    return found


def cluster_page(
    tx: Transaction, cluster_id: int
) -> tuple[ClusterRecord, list[ItemRecord], dict[int, str]] | None:
    """A cluster, its members (oldest id first) and their texts; None when there is none."""
    cluster = tx.cluster(cluster_id)
    if cluster is None:
        return None
    members = tx.cluster_members(cluster_id)
    return cluster, members, texts_of(tx, [m.id for m in members])


def texts_of(tx: Transaction, item_ids: Iterable[int]) -> dict[int, str]:
    """The stored text of each item."""
    wanted = sorted(set(item_ids))
    if not wanted:
        return {}
    query = select(items.c.id, items.c.text).where(items.c.id.in_(wanted))
    return {int(row.id): str(row.text or "") for row in tx.conn.execute(query)}


def _items_by_id(tx: Transaction, ids: Iterable[int]) -> dict[int, ItemRecord]:
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    query = _item_select().where(items.c.id.in_(wanted))
    return {record.id: record for record in (_item(row) for row in tx.conn.execute(query))}
