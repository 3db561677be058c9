"""Operator decisions that later polls respect: pin a cluster's canonical item, split an item
out of its cluster (it is never matched again), or undo a split."""

from __future__ import annotations

from datetime import UTC, datetime

from ingestd.config import DedupSettings
from ingestd.errors import NotFoundError, UserError
from ingestd.linking import relink
from ingestd.store import ItemRecord, Transaction
from ingestd.stories import repartition
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
    repartition(tx, [item.id], settings, datetime.now(UTC))
    return item


def split(tx: Transaction, ref: str, settings: DedupSettings) -> ItemRecord:
    """Take the item out of its cluster for good: its links are forgotten, the stories around
    it are decided again without it, and later items are never matched to it."""
    item = find_item(tx, ref)
    if item.cluster_id is not None:
        cluster = tx.cluster(item.cluster_id)
        if cluster is not None and cluster.pinned_item_id == item.id:
            tx.update_cluster(item.cluster_id, pinned_item_id=None)
    tx.set_membership(item.id, split=True)
    relink(tx, item.id, settings, datetime.now(UTC))
    return item


def unsplit(tx: Transaction, ref: str, settings: DedupSettings) -> ItemRecord:
    """Let dedup match the item again: its links are verified anew, now."""
    item = find_item(tx, ref)
    tx.set_membership(item.id, split=False)
    relink(tx, item.id, settings, datetime.now(UTC))
    return item
