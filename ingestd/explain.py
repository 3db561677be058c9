"""``ingest clusters explain A B``: why two stored items are, or are not, the same article.

Reports the MinHash estimate and the exact Jaccard similarity, containment both ways (all
words, and words outside quotations), the identity and canonical signals that fire between
them, the thresholds, and the verdict, in plain words.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ingestd.config import DedupSettings
from ingestd.curation import find_item
from ingestd.dedup.canonical import explicit_votes
from ingestd.dedup.compare import overlap, verdict
from ingestd.linking import member, shorter_credits_longer, thresholds
from ingestd.store import ItemRecord, Transaction


def estimated_jaccard(minhash_a: bytes, minhash_b: bytes) -> float | None:
    """Share of equal MinHash values: the estimate LSH works with."""
    a, b = np.frombuffer(minhash_a, dtype="<u4"), np.frombuffer(minhash_b, dtype="<u4")
    if not len(a) or len(a) != len(b):
        return None
    return float(np.mean(a == b))


def explain(tx: Transaction, ref_a: str, ref_b: str, settings: DedupSettings) -> dict[str, Any]:
    """Everything dedup knows about the pair, with a sentence for each finding."""
    a, b = find_item(tx, ref_a), find_item(tx, ref_b)
    arrays = tx.shingles([a.id, b.id])
    found = overlap(
        arrays[a.id].shingles, arrays[b.id].shingles, arrays[a.id].narrative, arrays[b.id].narrative
    )
    limits = thresholds(settings)
    credited = shorter_credits_longer(
        found, (a.attribution, a.site_host, a.site_name), (b.attribution, b.site_host, b.site_name)
    )
    decision = verdict(found, limits, a.compilation, b.compilation, shorter_credits_longer=credited)
    minhashes = tx.minhashes([a.id, b.id])
    estimate = estimated_jaccard(minhashes.get(a.id, b""), minhashes.get(b.id, b""))
    signals = _signals(a, b)
    same_cluster = a.cluster_id is not None and a.cluster_id == b.cluster_id
    return {
        "a": _brief(a),
        "b": _brief(b),
        "estimated_jaccard": estimate,
        "jaccard": round(found.jaccard, 4),
        "containment_a_in_b": round(found.containment_a, 4),
        "containment_b_in_a": round(found.containment_b, 4),
        "narrative_containment": round(found.narrative_containment, 4),
        "shingles": {"a": found.size_a, "b": found.size_b, "shared": found.shared},
        "thresholds": {
            "jaccard": limits.jaccard,
            "containment": limits.containment,
            "narrative_containment": limits.narrative_containment,
            "min_shingles": limits.min_shingles,
        },
        "signals": signals,
        "text_verdict": "copy" if decision.copy else "not a copy",
        "why": decision.why,
        "same_cluster": same_cluster,
        "summary": _summary(a, b, decision.copy, decision.why, signals, same_cluster),
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


def _summary(
    a: ItemRecord, b: ItemRecord, copy: bool, why: str, signals: list[str], same_cluster: bool
) -> str:
    verdict_words = "the same article" if copy else "different articles"
    text = f"By their text, items {a.id} and {b.id} are {verdict_words}: {why}."
    if signals:
        text += " Signals: " + "; ".join(signals) + "."
    if same_cluster:
        text += f" They are in the same cluster ({a.cluster_id})."
    elif a.split or b.split:
        text += " One of them was split out by an operator, so it is never matched."
    else:
        text += " They are not in the same cluster."
    return text
