"""``ingest clusters explain A B``: why two stored items are, or are not, the same article.

Reports each item's article-ness verdict, the MinHash estimate and the exact Jaccard
similarity, containment both ways (all words, and words outside quotations), the identity and
canonical signals that fire between them, the thresholds, the link the store holds between them
(strong, or weak: an excerpt that attaches to one story only) and what linking would decide
now, with the notes of the story decision (a containment match not followed because a better
one was, a compilation found by what it contains), in plain words.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ingestd.config import DedupSettings
from ingestd.dedup.canonical import explicit_votes
from ingestd.dedup.compare import thresholds
from ingestd.dedup.curation import find_item
from ingestd.dedup.link import identity_candidates, judge, pair_overlap, stored_subject
from ingestd.dedup.links import Decision
from ingestd.dedup.sitecontext import site_evidence, template_hashes
from ingestd.dedup.stories import decide, member
from ingestd.model import Reason, TextKind
from ingestd.store import ItemRecord, Transaction
from ingestd.store.records import LinkRecord
from ingestd.urls import same_site


def estimated_jaccard(minhash_a: bytes, minhash_b: bytes) -> float | None:
    """Share of equal MinHash values: the estimate LSH works with."""
    a, b = np.frombuffer(minhash_a, dtype="<u4"), np.frombuffer(minhash_b, dtype="<u4")
    if not len(a) or len(a) != len(b):
        return None
    return float(np.mean(a == b))


def explain(tx: Transaction, ref_a: str, ref_b: str, settings: DedupSettings) -> dict[str, Any]:
    """Everything dedup knows about the pair, with a sentence for each finding."""
    a, b = find_item(tx, ref_a), find_item(tx, ref_b)
    subject = stored_subject(tx, a)
    limits = thresholds(settings)
    one_site = bool(a.site_host) and same_site(a.site_host, b.site_host)
    template = None
    if one_site:
        holders = tx.key_holders(subject.keys, None, a.id)
        site, _ = site_evidence(tx, subject, holders, identity_candidates(tx, subject))
        template = template_hashes(subject.text, site.template_keys, settings.shingle_words)
    other = tx.shingles([b.id])[b.id]
    found = pair_overlap(tx, subject, other, template)
    decision = judge(found, subject, TextKind(a.quality), b, limits, one_site)
    minhashes = tx.minhashes([a.id, b.id])
    estimate = estimated_jaccard(minhashes.get(a.id, b""), minhashes.get(b.id, b""))
    signals = _signals(a, b)
    same_cluster = a.cluster_id is not None and a.cluster_id == b.cluster_id
    stored = next(
        (link for link in tx.links_of([a.id]) if b.id in (link.item_a, link.item_b)), None
    )
    _, stories = decide(tx, [a.id, b.id])
    notes = {str(item.id): stories.notes[item.id] for item in (a, b) if item.id in stories.notes}
    return {
        "a": _brief(a),
        "b": _brief(b),
        "estimated_jaccard": estimate,
        "jaccard": round(found.jaccard, 4),
        "containment_a_in_b": round(found.containment_a, 4),
        "containment_b_in_a": round(found.containment_b, 4),
        "narrative_containment": round(found.narrative_containment, 4),
        "shingles": {"a": found.size_a, "b": found.size_b, "shared": found.shared},
        "same_site": one_site,
        "thresholds": {
            "jaccard": limits.jaccard,
            "containment": limits.containment,
            "narrative_containment": limits.narrative_containment,
            "min_shingles": limits.min_shingles,
        },
        "signals": signals,
        "text_verdict": "copy" if decision.link is not None else "not a copy",
        "link": _link(decision),
        "stored_link": _stored(stored, a.id),
        "why": decision.why,
        "notes": notes,
        "same_cluster": same_cluster,
        "merged_by_operator": stored is not None and stored.reason == Reason.OPERATOR,
        "summary": _summary(a, b, decision, signals, same_cluster, notes) + _merged_note(stored),
    }


def _brief(item: ItemRecord) -> dict[str, Any]:
    return {
        "id": item.id,
        "url": item.url,
        "title": item.title,
        "site": item.site_host,
        "words": item.n_words,
        "cluster_id": item.cluster_id,
        "role": item.role,
        "split": item.split,
        "compilation": item.compilation,
        "quality": item.quality,
        "quality_note": item.quality_note,
    }


def _link(decision: Decision) -> dict[str, Any] | None:
    """What linking would decide now: strong, or weak with the contained side."""
    link = decision.link
    if link is None:
        return None
    return {
        "strength": "strong" if link.strong else "weak",
        "contained": None if link.child is None else "ab"[link.child],
        "reason": link.reason.value,
        "measure": link.measure,
        "score": round(link.score, 4),
    }


def _stored(link: LinkRecord | None, a_id: int) -> dict[str, Any] | None:
    """The link the store holds between them (None: they are not linked)."""
    if link is None:
        return None
    contained = None
    if link.child is not None:
        contained = "a" if link.child == a_id else "b"
    return {
        "strength": "strong" if link.strong else "weak",
        "contained": contained,
        "reason": link.reason,
        "measure": link.measure,
        "score": link.score,
    }


def _signals(a: ItemRecord, b: ItemRecord) -> list[str]:
    found = []
    if a.url_norm and a.url_norm == b.url_norm:
        found.append("same URL (after normalisation)")
    if a.guid and a.guid == b.guid:
        found.append(f"same GUID {a.guid!r}")
    if a.body_hash and a.body_hash == b.body_hash:
        found.append("identical article text (same body hash)")
    for vote in explicit_votes([member(a), member(b)]):
        found.append(vote.evidence)
    return found


def _merged_note(stored: LinkRecord | None) -> str:
    """The sentence saying an operator merged the pair, if one did."""
    if stored is None or stored.reason != Reason.OPERATOR:
        return ""
    return (
        " An operator merged them (`ingest clusters merge`): they stay in one story whatever"
        " their texts say, until one of them is split out."
    )


def _summary(
    a: ItemRecord,
    b: ItemRecord,
    decision: Decision,
    signals: list[str],
    same_cluster: bool,
    notes: dict[str, str],
) -> str:
    copy = decision.link is not None
    verdict_words = "the same article" if copy else "different articles"
    text = f"By their text, items {a.id} and {b.id} are {verdict_words}: {decision.why}."
    if decision.link is not None and not decision.link.strong:
        contained = (a, b)[decision.link.child or 0].id
        text += (
            f" It is a containment link (item {contained} is contained in the other): it"
            " attaches that item to one story, the one it matches best, and never merges two."
        )
    for item in (a, b):
        if item.quality != TextKind.ARTICLE.value and item.quality_note:
            text += f" Item {item.id}: {item.quality_note}."
    if signals:
        text += " Signals: " + "; ".join(signals) + "."
    for item_id, note in notes.items():
        text += f" Item {item_id} {note}."
    if same_cluster:
        text += f" They are in the same cluster ({a.cluster_id})."
    elif a.split or b.split:
        text += " One of them was split out by an operator, so it is never matched."
    else:
        text += " They are not in the same cluster."
    return text
