"""Operator decisions that later polls respect: pin a cluster's canonical item, split an item
out of its cluster (it is never matched again), or undo a split."""

from __future__ import annotations

from datetime import UTC, datetime

from ingestd.config import DedupSettings
from ingestd.errors import NotFoundError, UserError
from ingestd.linking import recompute_cluster
from ingestd.store import ItemRecord, Transaction
from ingestd.urls import normalize_url


def find_item(tx: Transaction, ref: str) -> ItemRecord:
    """An item by id or by URL; NotFoundError naming ``ref`` when there is none."""
    if ref.isdigit():
        found = tx.item(int(ref))
    else:
        matches = tx.items_matching("url_norm", normalize_url(ref))
        found = matches[0] if matches else None
    if found is None:
        raise NotFoundError(f"no item with id or URL {ref!r}")
    return found


def pin(tx: Transaction, ref: str, settings: DedupSettings) -> ItemRecord:
    """Make the item the canonical item of its cluster, now and after later changes."""
    item = find_item(tx, ref)
    if item.cluster_id is None:
        raise UserError(f"item {item.id} is not in a cluster; there is nothing to pin")
    tx.update_cluster(item.cluster_id, pinned_item_id=item.id)
    recompute_cluster(tx, item.cluster_id, settings, datetime.now(UTC))
    return item


def split(tx: Transaction, ref: str, settings: DedupSettings) -> ItemRecord:
    """Take the item out of its cluster for good: later items are never matched to it."""
    item = find_item(tx, ref)
    tx.set_membership(
        item.id,
        split=True,
        cluster_id=None,
        role="single",
        match_reason=None,
        matched_item_id=None,
        similarity=None,
        similarity_measure=None,
        link_reason=None,
    )
    if item.cluster_id is not None:
        cluster = tx.cluster(item.cluster_id)
        if cluster is not None and cluster.pinned_item_id == item.id:
            tx.update_cluster(item.cluster_id, pinned_item_id=None)
        recompute_cluster(tx, item.cluster_id, settings, datetime.now(UTC))
    return item


def unsplit(tx: Transaction, ref: str) -> ItemRecord:
    """Let dedup match the item again (from the next new item on)."""
    item = find_item(tx, ref)
    tx.set_membership(item.id, split=False)
    return item
