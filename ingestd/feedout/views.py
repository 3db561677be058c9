"""Read models for the CLI: items and clusters as plain JSON-ready dicts (the ``--json`` contract).

An item object has ``id``, ``url``, ``feed_url``, ``title``, ``published`` (ISO 8601 or null),
``cluster_id`` (null when alone), ``role`` (canonical, republication or single) and
``quality`` (the article-ness verdict: article, compilation, short, gallery, listing or stub)
with ``quality_note`` (why, in words). A cluster
object has ``id``, ``size``, ``canonical`` (an item object) and ``republications`` (item objects
each with ``similarity`` and ``reason``).
"""

from __future__ import annotations

import json
from typing import Any

from ingestd.errors import NotFoundError
from ingestd.store import ClusterRecord, ItemRecord, Transaction
from ingestd.store.subscriptions import find_feed


def item_object(item: ItemRecord) -> dict[str, Any]:
    """The JSON object of one item."""
    return {
        "id": item.id,
        "url": item.url,
        "feed_url": item.feed_url,
        "title": item.title,
        "published": item.published_at.isoformat() if item.published_at else None,
        "cluster_id": item.cluster_id,
        "role": item.role,
        "site": item.site_host,
        "canonical_url": item.canonical_url,
        "words": item.n_words,
        "text_source": item.text_source,
        "text_note": item.extract_note,
        "quality": item.quality,
        "quality_note": item.quality_note,
        "fetched": item.fetched_at.isoformat(),
    }


def republication_object(item: ItemRecord) -> dict[str, Any]:
    """An item object with how it relates to its cluster's canonical item."""
    return {
        **item_object(item),
        "similarity": item.similarity,
        "similarity_measure": item.similarity_measure,
        "reason": item.link_reason or item.match_reason,
        "matched_item_id": item.matched_item_id,
    }


def cluster_object(cluster: ClusterRecord, members: list[ItemRecord]) -> dict[str, Any]:
    """The JSON object of one cluster, canonical first."""
    canonical = next((m for m in members if m.id == cluster.canonical_item_id), members[0])
    others = sorted((m for m in members if m.id != canonical.id), key=lambda m: (m.when, m.id))
    evidence = _evidence(cluster.evidence)
    return {
        "id": cluster.id,
        "size": len(members),
        "canonical": item_object(canonical),
        "canonical_reason": cluster.canonical_reason,
        "canonical_evidence": evidence.get("evidence", ""),
        "signals": evidence.get("signals", []),
        "republications": [republication_object(m) for m in others],
        "updated": cluster.updated_at.isoformat(),
    }


def _evidence(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {"evidence": raw}
    return value if isinstance(value, dict) else {}


def list_clusters(tx: Transaction, limit: int | None) -> list[dict[str, Any]]:
    """Clusters of two or more items, most recently changed first."""
    return [cluster_object(c, tx.cluster_members(c.id)) for c in tx.list_clusters(limit)]


def show_cluster(tx: Transaction, cluster_id: int) -> dict[str, Any]:
    """One cluster; NotFoundError when there is none with that id."""
    cluster = tx.cluster(cluster_id)
    members = tx.cluster_members(cluster_id) if cluster else []
    if cluster is None or not members:
        raise NotFoundError(f"clusters show: no cluster with id {cluster_id}")
    return cluster_object(cluster, members)


def list_items(tx: Transaction, feed_url: str | None, limit: int | None) -> list[dict[str, Any]]:
    """Every stored item (of one feed, if given), newest first; NotFoundError for a feed URL
    that names no stored feed."""
    if feed_url is not None:
        feed = find_feed(tx, feed_url)
        if feed is None:
            raise NotFoundError(f"items list: no feed {feed_url} (see `ingest feeds list`)")
        feed_url = feed.url  # an earlier URL of the feed names it too
    return [item_object(item) for item in tx.list_items(feed_url, limit)]
