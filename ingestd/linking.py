"""Linking a newly stored item to the stories already stored (runs inside the write transaction).

Identity first (same normalised URL, same GUID in another feed, a canonical link to a stored
page, the same body hash), then near-duplicates: LSH band and anchor keys give candidates from
the database, each verified by exact shingle overlap (:mod:`ingestd.dedup.compare`), and
:mod:`ingestd.dedup.cluster` decides the cluster. Every change re-decides the canonical item.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from ingestd.config import DedupSettings
from ingestd.dedup.canonical import (
    CanonicalChoice,
    Member,
    Source,
    choose_canonical,
    credits_other_site,
)
from ingestd.dedup.cluster import CONTAINED_STORY, PART_OF_LONGER, Match, plan, same_title
from ingestd.dedup.compare import Overlap, Thresholds, as_hashes, overlap, verdict, without
from ingestd.model import Reason, Role, Signature
from ingestd.store import ItemRecord, NewItem, Transaction
from ingestd.store.records import ItemShingles
from ingestd.urls import is_home_page, same_site

MIN_HASH_WORDS = 20  # texts shorter than this are not matched by body hash alone
MAX_CANDIDATES = 100  # verified per new item, most shared keys first
ANOTHER_COPY = 0.5  # a same-site page holding this share of a pair's common text is a copy too


@dataclass(frozen=True)
class LinkOutcome:
    """Where the new item ended up."""

    item_id: int
    cluster_id: int | None
    republication: bool  # it joined a story already stored
    compilation: bool = False


def thresholds(settings: DedupSettings) -> Thresholds:
    """The verdict's thresholds from the ``[dedup]`` settings."""
    return Thresholds(
        settings.jaccard_threshold,
        settings.containment_threshold,
        settings.min_shingles,
        settings.narrative_containment,
    )


def link_new_item(
    tx: Transaction,
    item_id: int,
    item: NewItem,
    sig: Signature,
    settings: DedupSettings,
    now: datetime,
) -> LinkOutcome:
    """Store the item's keys, find what it copies, update clusters and their canonical items."""
    tx.insert_keys(item_id, (*sig.band_keys, *sig.anchor_keys))
    matches = _identity_matches(tx, item_id, item) or _near_matches(
        tx, item_id, item, sig, settings
    )
    decided = plan(matches, lambda a, b: _related(tx, a.item_id, b.item_id, settings))
    if decided.compilation:
        tx.set_membership(item_id, compilation=True)
        return LinkOutcome(item_id, None, False, compilation=True)
    if decided.join is None:
        return LinkOutcome(item_id, None, False)
    cluster_id = decided.join.cluster_id or _new_cluster(tx, decided.join.item_id, now)
    tx.set_membership(
        item_id,
        cluster_id=cluster_id,
        match_reason=decided.join.reason,
        matched_item_id=decided.join.item_id,
    )
    for other in decided.merge:
        _absorb(tx, cluster_id, other, item_id)
    recompute_cluster(tx, cluster_id, settings, now)
    return LinkOutcome(item_id, cluster_id, True)


def _new_cluster(tx: Transaction, first_item: int, now: datetime) -> int:
    cluster_id = tx.create_cluster(now)
    tx.set_membership(first_item, cluster_id=cluster_id)
    return cluster_id


def _absorb(tx: Transaction, cluster_id: int, other: Match, via_item: int) -> None:
    """Move ``other``'s item, or its whole cluster, into ``cluster_id``."""
    if other.cluster_id is None:
        tx.set_membership(
            other.item_id,
            cluster_id=cluster_id,
            match_reason=other.reason,
            matched_item_id=via_item,
        )
        return
    if other.cluster_id == cluster_id:
        return
    for member in tx.cluster_members(other.cluster_id):
        tx.set_membership(member.id, cluster_id=cluster_id)
    tx.delete_cluster(other.cluster_id)


def _identity_matches(tx: Transaction, item_id: int, item: NewItem) -> list[Match]:
    """Stored items that are this item by URL, canonical link, GUID or identical text."""
    canonical = (
        item.canonical_norm
        if item.canonical_norm and not is_home_page(item.canonical_norm)
        else None
    )
    pages = [value for value in (item.url_norm, canonical) if value]
    guid = item.guid if item.guid and len(item.guid) >= 8 else None
    text = item.body_hash if item.body_hash and item.n_words >= MIN_HASH_WORDS else None
    values = {
        "url_norm": pages,
        "canonical_norm": pages,
        "guid": [guid] if guid else [],
        "body_hash": [text] if text else [],
    }
    found: dict[int, Match] = {}
    for column, record in tx.identity_candidates(values, item_id):
        reason = _identity_reason(column, record, item)
        if reason is None or record.split or record.id in found:
            continue
        found[record.id] = Match(
            record.id, record.cluster_id, reason[0].value, 1.0, "identity", reason[1], record.title
        )
    return list(found.values())


def _identity_reason(column: str, record: ItemRecord, item: NewItem) -> tuple[Reason, str] | None:
    """Why a stored item found by the identity query is this item, if it is."""
    if column == "url_norm":
        if record.url_norm == item.url_norm:
            return Reason.URL, "the same URL"
        return Reason.CANONICAL_LINK, "its canonical link points to this page"
    if column == "canonical_norm":
        if record.canonical_norm and is_home_page(record.canonical_norm):
            return None
        if record.canonical_norm == item.url_norm:
            return Reason.CANONICAL_LINK, "that page declares this URL as its canonical page"
        return Reason.CANONICAL_LINK, "both declare the same canonical page"
    if column == "guid":
        same_feed = record.feed_id == item.feed_id
        return None if same_feed else (Reason.GUID, "the same entry id (GUID) in another feed")
    return Reason.BODY_HASH, "identical article text"


def _near_matches(
    tx: Transaction, item_id: int, item: NewItem, sig: Signature, settings: DedupSettings
) -> list[Match]:
    since = item.fetched_at - timedelta(days=settings.window_days)
    found_by = tx.candidates((*sig.band_keys, *sig.anchor_keys), since, item_id)
    needed = 1 if len(sig.anchor_keys) < 4 else 2
    scores = dict(found_by.get("b", {}))
    excerpts: dict[int, int] = {}
    for kind in ("a", "p"):
        for candidate, shared in found_by.get(kind, {}).items():
            excerpts[candidate] = excerpts.get(candidate, 0) + shared
    for candidate, shared in excerpts.items():
        if shared >= needed:
            scores[candidate] = scores.get(candidate, 0) + shared
    ranked = sorted(scores, key=lambda c: (-scores[c], c))[:MAX_CANDIDATES]
    records = {record.id: record for record in tx.items(ranked)}
    arrays = tx.shingles(ranked)
    limits = thresholds(settings)
    matches = []
    for candidate in ranked:
        record = records.get(candidate)
        if record is None or record.split or candidate not in arrays:
            continue
        found = overlap(
            sig.shingles, arrays[candidate].shingles, sig.narrative, arrays[candidate].narrative
        )
        headline = same_title(item.title, record.title)
        credited = shorter_credits_longer(
            found,
            (sig.attribution, item.site_host, item.site_name),
            (record.attribution, record.site_host, record.site_name),
        )
        flags = (sig.compilation_hint, record.compilation, headline, credited)
        decision = verdict(found, limits, *flags)
        if decision.copy and item.site_host and same_site(item.site_host, record.site_host):
            found = _without_template(
                tx, item_id, candidate, item.site_host, sig, arrays[candidate]
            )
            decision = verdict(found, limits, *flags)
        if decision.copy:
            inside = found.containment_b >= CONTAINED_STORY and found.containment_a < PART_OF_LONGER
            matches.append(
                Match(
                    candidate,
                    record.cluster_id,
                    Reason.MINHASH.value,
                    decision.score,
                    decision.measure,
                    decision.why,
                    record.title,
                    inside,
                )
            )
    return matches


def shorter_credits_longer(found: Overlap, a: Source, b: Source) -> bool:
    """True when the shorter of texts A and B (by shingles in ``found``) credits the other's
    site: the ``shorter_credits_longer`` flag of :func:`ingestd.dedup.compare.verdict`."""
    return credits_other_site(a, b) if found.size_a <= found.size_b else credits_other_site(b, a)


def _without_template(
    tx: Transaction, item_id: int, other_id: int, site: str, sig: Signature, other: ItemShingles
) -> Overlap:
    """Overlap of two items of one site once text the site repeats on other pages is removed.

    Shingles the pair shares that also occur in another recent page of the site are its template
    (furniture that survived extraction), not evidence that the two are the same article. A page
    holding most of the shared text is a further copy of the story, not template, and is ignored.
    """
    neighbours = tx.site_neighbours(site, [item_id, other_id])
    shared = np.intersect1d(as_hashes(sig.shingles), as_hashes(other.shingles), assume_unique=True)
    if not neighbours or not len(shared):
        return overlap(sig.shingles, other.shingles, sig.narrative, other.narrative)
    template = np.empty(0, dtype="<u4")
    for neighbour in tx.shingles(neighbours).values():
        repeated = np.intersect1d(shared, as_hashes(neighbour.shingles), assume_unique=True)
        if len(repeated) < ANOTHER_COPY * len(shared):
            template = np.union1d(template, repeated)
    return overlap(
        without(sig.shingles, template),
        without(other.shingles, template),
        without(sig.narrative, template),
        without(other.narrative, template),
    )


def _related(tx: Transaction, first: int, second: int, settings: DedupSettings) -> bool:
    arrays = tx.shingles([first, second])
    if first not in arrays or second not in arrays:
        return False
    a, b = arrays[first], arrays[second]
    return verdict(
        overlap(a.shingles, b.shingles, a.narrative, b.narrative), thresholds(settings)
    ).copy


def member(record: ItemRecord) -> Member:
    """The canonical policy's view of a stored item."""
    return Member(
        record.id,
        record.url,
        record.url_norm,
        record.canonical_url,
        record.canonical_norm,
        record.site_host,
        record.site_name,
        record.attribution,
        record.when,
        record.n_words,
    )


def recompute_cluster(
    tx: Transaction, cluster_id: int, settings: DedupSettings, now: datetime
) -> None:
    """Re-decide the canonical item, roles, similarities and reasons of a cluster.

    A cluster left with fewer than two items is dissolved.
    """
    members = tx.cluster_members(cluster_id)
    cluster = tx.cluster(cluster_id)
    if len(members) < 2 or cluster is None:
        for record in members:
            _make_single(tx, record.id)
        tx.delete_cluster(cluster_id)
        return
    choice = choose_canonical([member(m) for m in members], cluster.pinned_item_id)
    arrays = tx.shingles(m.id for m in members)
    canonical = arrays[choice.item_id]
    limits = thresholds(settings)
    explicit = {(v.voter, v.target): v.kind for v in choice.votes}
    for record in members:
        if record.id == choice.item_id:
            _set_membership(
                tx,
                record,
                role=Role.CANONICAL.value,
                similarity=1.0,
                similarity_measure=None,
                link_reason=None,
            )
            continue
        mine = arrays[record.id]
        found = overlap(mine.shingles, canonical.shingles, mine.narrative, canonical.narrative)
        decision = verdict(found, limits)
        reason = (
            explicit.get((record.id, choice.item_id)) or record.match_reason or Reason.MINHASH.value
        )
        _set_membership(
            tx,
            record,
            role=Role.REPUBLICATION.value,
            similarity=round(decision.score, 4),
            similarity_measure=decision.measure,
            link_reason=reason,
        )
    tx.update_cluster(
        cluster_id,
        canonical_item_id=choice.item_id,
        canonical_reason=choice.reason,
        evidence=_evidence(choice),
        size=len(members),
        updated_at=now,
    )


def _set_membership(tx: Transaction, record: ItemRecord, **values: Any) -> None:
    """``tx.set_membership`` for a member whose stored fields differ from ``values``; nothing
    for one already as decided. A cluster is re-decided whenever an item joins it, and most of
    its members keep their roles: rewriting each of their rows (text and signature arrays
    included) made the writer's work grow with the square of a cluster's size."""
    if any(getattr(record, name) != value for name, value in values.items()):
        tx.set_membership(record.id, **values)


def _make_single(tx: Transaction, item_id: int) -> None:
    tx.set_membership(
        item_id,
        cluster_id=None,
        role=Role.SINGLE.value,
        match_reason=None,
        matched_item_id=None,
        similarity=None,
        similarity_measure=None,
        link_reason=None,
    )


def _evidence(choice: CanonicalChoice) -> str:
    signals = [
        {"from": v.voter, "to": v.target, "kind": v.kind, "evidence": v.evidence}
        for v in choice.votes
    ]
    return json.dumps({"reason": choice.reason, "evidence": choice.evidence, "signals": signals})
