"""Stories re-decided from the stored links (inside the write transaction).

:func:`repartition` reads every item connected by links to the items it is given, decides
their stories with :func:`ingestd.dedup.partition.partition` (a pure function of the items and
links, so the result does not depend on arrival order), and writes the result: each story keeps
the cluster id most of its members had, its canonical item is chosen again
(:mod:`ingestd.dedup.canonical`, among the items of its root core unless an explicit signal
names another), and only the rows whose membership, role, similarity or reason change are
written. Items left in no story become singles.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from ingestd.config import DedupSettings
from ingestd.dedup.canonical import CanonicalChoice, Member, choose_canonical
from ingestd.dedup.compare import Thresholds, overlap, thresholds, verdict
from ingestd.dedup.partition import Edge, Node, Partition, Story, partition
from ingestd.model import Reason, Role, TextKind
from ingestd.store import ItemRecord, Transaction
from ingestd.store.records import LinkRecord

MAX_COMPONENT = 5000  # items read around a change at the most (a runaway chain stops here)


def component(tx: Transaction, seeds: Iterable[int]) -> tuple[set[int], list[LinkRecord]]:
    """The items connected to ``seeds`` by links (breadth first, up to
    :data:`MAX_COMPONENT`), and the links among them."""
    seen = set(seeds)
    frontier = set(seen)
    links: dict[tuple[int, int], LinkRecord] = {}
    while frontier and len(seen) < MAX_COMPONENT:
        found = tx.links_of(frontier)
        frontier = set()
        for link in found:
            links[(link.item_a, link.item_b)] = link
            for end in (link.item_a, link.item_b):
                if end not in seen:
                    frontier.add(end)
        seen |= frontier
    return seen, list(links.values())


def edges(links: Iterable[LinkRecord]) -> list[Edge]:
    """Stored links as the partition's edges."""
    return [
        Edge(link.item_a, link.item_b, link.strong, link.child, link.score, link.reason)
        for link in links
    ]


def nodes(records: Iterable[ItemRecord]) -> list[Node]:
    """Stored items as the partition's nodes (items an operator split out are left out)."""
    return [
        Node(
            r.id,
            r.n_words,
            r.title,
            r.url_norm or r.url or f"#{r.id}",
            sectioned=r.compilation,
            standalone=TextKind(r.quality).is_article,
        )
        for r in records
        if not r.split
    ]


def decide(tx: Transaction, seeds: Iterable[int]) -> tuple[list[ItemRecord], Partition]:
    """The records of the items around ``seeds`` and their stories (nothing written)."""
    ids, links = component(tx, seeds)
    records = tx.items(ids)
    return records, partition(nodes(records), edges(links))


def repartition(
    tx: Transaction, seeds: Iterable[int], settings: DedupSettings, now: datetime
) -> dict[int, int]:
    """Re-decide and write the stories around ``seeds``; returns item id → cluster id for the
    items in a story."""
    records, found = decide(tx, seeds)
    by_id = {record.id: record for record in records}
    assigned = _cluster_ids(tx, found.stories, by_id, now)
    placed: dict[int, int] = {}
    pins = _pins(tx, {r.cluster_id for r in records if r.cluster_id is not None})
    limits = thresholds(settings)
    for story, cluster_id in assigned:
        pinned = next((item for item in story.members if item in pins), None)
        _write_story(tx, cluster_id, story, found, by_id, pinned, limits, now)
        placed.update(dict.fromkeys(story.members, cluster_id))
    for record in records:
        if record.id not in placed:
            _make_single(tx, record)
    return placed


def _cluster_ids(
    tx: Transaction, stories: tuple[Story, ...], by_id: dict[int, ItemRecord], now: datetime
) -> list[tuple[Story, int]]:
    """Each story's cluster id: the one most of its members had (largest stories choose
    first), else a new one; clusters no story keeps are deleted."""
    before = {r.cluster_id for r in by_id.values() if r.cluster_id is not None}
    used: set[int] = set()
    assigned = []
    for story in sorted(stories, key=lambda s: (-len(s.members), s.members)):
        held = Counter(by_id[m].cluster_id for m in story.members if by_id[m].cluster_id)
        ranked = sorted(held.items(), key=lambda pair: (-pair[1], pair[0] or 0))
        choice = next((cid for cid, _ in ranked if cid is not None and cid not in used), None)
        if choice is None:
            choice = tx.create_cluster(now)
        used.add(choice)
        assigned.append((story, choice))
    for cluster_id in sorted(before - used):
        tx.delete_cluster(cluster_id)
    return assigned


def _pins(tx: Transaction, cluster_ids: set[int]) -> set[int]:
    """The items an operator pinned as canonical in these clusters."""
    pins = set()
    for cluster_id in cluster_ids:
        cluster = tx.cluster(cluster_id)
        if cluster is not None and cluster.pinned_item_id is not None:
            pins.add(cluster.pinned_item_id)
    return pins


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


def _write_story(
    tx: Transaction,
    cluster_id: int,
    story: Story,
    found: Partition,
    by_id: dict[int, ItemRecord],
    pinned: int | None,
    limits: Thresholds,
    now: datetime,
) -> None:
    """Write one story: its members' cluster and roles, and the cluster's canonical item."""
    members = [by_id[item] for item in story.members]
    choice = choose_canonical([member(m) for m in members], pinned, eligible=set(story.root))
    cluster = tx.cluster(cluster_id)
    kept = cluster is not None and cluster.canonical_item_id == choice.item_id
    # Members already in this cluster under the same canonical item keep their similarity:
    # only newcomers (or every member, when the canonical item changed) are compared again.
    fresh = [
        m.id
        for m in members
        if not (kept and m.cluster_id == cluster_id and m.similarity is not None)
    ]
    arrays = tx.shingles([*fresh, choice.item_id])
    canonical = arrays[choice.item_id]
    explicit = {(v.voter, v.target): v.kind for v in choice.votes}
    changed = False
    for record in members:
        via = found.held.get(record.id)
        edge = via.via if via is not None else None
        joined = {
            "cluster_id": cluster_id,
            "match_reason": edge.reason if edge else None,
            "matched_item_id": edge.other(record.id) if edge else None,
        }
        if record.id == choice.item_id:
            values: dict[str, Any] = dict(
                joined,
                role=Role.CANONICAL.value,
                similarity=1.0,
                similarity_measure=None,
                link_reason=None,
            )
        else:
            similarity, measure = record.similarity, record.similarity_measure
            if record.id in arrays:
                mine = arrays[record.id]
                decision = verdict(
                    overlap(mine.shingles, canonical.shingles, mine.narrative, canonical.narrative),
                    limits,
                )
                similarity, measure = round(decision.score, 4), decision.measure
            reason = explicit.get((record.id, choice.item_id)) or joined["match_reason"]
            values = dict(
                joined,
                role=Role.REPUBLICATION.value,
                similarity=similarity,
                similarity_measure=measure,
                link_reason=reason or Reason.MINHASH.value,
            )
        changed |= _set_membership(tx, record, values)
    wanted = {
        "canonical_item_id": choice.item_id,
        "canonical_reason": choice.reason,
        "evidence": _evidence(choice),
        "size": len(members),
        "pinned_item_id": pinned,
    }
    if changed or cluster is None or any(getattr(cluster, k) != v for k, v in wanted.items()):
        tx.update_cluster(cluster_id, updated_at=now, **wanted)


def _set_membership(tx: Transaction, record: ItemRecord, values: dict[str, Any]) -> bool:
    """``tx.set_membership`` for a member whose stored fields differ from ``values``; nothing
    for one already as decided (rewriting every member's row each time a story changed made
    the writer's work grow with the square of a story's size). True when something changed."""
    if any(getattr(record, name) != value for name, value in values.items()):
        tx.set_membership(record.id, **values)
        return True
    return False


def _make_single(tx: Transaction, record: ItemRecord) -> None:
    _set_membership(
        tx,
        record,
        {
            "cluster_id": None,
            "role": Role.SINGLE.value,
            "match_reason": None,
            "matched_item_id": None,
            "similarity": None,
            "similarity_measure": None,
            "link_reason": None,
        },
    )


def _evidence(choice: CanonicalChoice) -> str:
    signals = [
        {"from": v.voter, "to": v.target, "kind": v.kind, "evidence": v.evidence}
        for v in choice.votes
    ]
    return json.dumps({"reason": choice.reason, "evidence": choice.evidence, "signals": signals})
