"""Operator decisions that later polls respect: pin a cluster's canonical item, split an item
out of its cluster (it is never matched again), undo a split, or merge two items the operator
says are one article (a strong link of reason ``operator`` that re-linking keeps)."""

from __future__ import annotations

from datetime import UTC, datetime

from ingestd.config import DedupSettings
from ingestd.dedup.link import relink
from ingestd.dedup.stories import repartition
from ingestd.errors import NotFoundError, UserError
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
    merged = tx.delete_operator_links(item.id)
    relink(tx, item.id, settings, datetime.now(UTC))
    if merged:
        repartition(tx, merged, settings, datetime.now(UTC))
    return item


def merge(tx: Transaction, ref_a: str, ref_b: str, settings: DedupSettings) -> ItemRecord:
    """Keep two items in one story for good (the inverse of :func:`split`): they are linked as
    the operator says, an item split out before is let back in, and the stories around them
    are decided again. Returns the first item as it is now (its cluster)."""
    a, b = find_item(tx, ref_a), find_item(tx, ref_b)
    if a.id == b.id:
        raise UserError(f"clusters merge: {ref_a!r} and {ref_b!r} are the same item ({a.id})")
    for item in (a, b):
        if item.split:
            tx.set_membership(item.id, split=False)
    tx.set_operator_link(a.id, b.id)
    repartition(tx, [a.id, b.id], settings, datetime.now(UTC))
    merged = tx.item(a.id)
    assert merged is not None
    return merged


def unsplit(tx: Transaction, ref: str, settings: DedupSettings) -> ItemRecord:
    """Let dedup match the item again: its links are verified anew, now."""
    item = find_item(tx, ref)
    tx.set_membership(item.id, split=False)
    relink(tx, item.id, settings, datetime.now(UTC))
    return item
