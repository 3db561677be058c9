"""Scoring predicted stories against gold ones, pair by pair, overall and per class of page.

A pair of items is predicted positive when they share a cluster, gold positive when the labels
give them one story. A class (the kind of page, e.g. ``gallery``) is scored on every pair with
at least one of its pages, so a class of pages that must stay apart is judged by its false pairs
and a class of copies by its missed ones too.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field


@dataclass
class Counts:
    """Pair counts of one class (or of everything)."""

    true_pairs: int = 0
    predicted_pairs: int = 0
    correct_pairs: int = 0
    false: list[tuple[str, str]] = field(default_factory=list)
    missed: list[tuple[str, str]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.correct_pairs / self.predicted_pairs if self.predicted_pairs else 1.0

    @property
    def recall(self) -> float:
        return self.correct_pairs / self.true_pairs if self.true_pairs else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def score(
    gold: dict[str, str], predicted: dict[str, object], kinds: dict[str, str]
) -> tuple[Counts, dict[str, Counts]]:
    """Overall and per-class counts; ``gold`` and ``predicted`` map a URL to its story and
    cluster (a unique value for an item alone), ``kinds`` a URL to its class. A class counts
    every pair with at least one of its items."""
    overall = Counts()
    by_kind: dict[str, Counts] = defaultdict(Counts)
    urls = sorted(set(gold) & set(predicted))
    for a, b in itertools.combinations(urls, 2):
        same_gold, same_pred = gold[a] == gold[b], predicted[a] == predicted[b]
        if not (same_gold or same_pred):
            continue
        for counts in (overall, *(by_kind[k] for k in {kinds[a], kinds[b]})):
            counts.true_pairs += same_gold
            counts.predicted_pairs += same_pred
            counts.correct_pairs += same_gold and same_pred
            if same_pred and not same_gold:
                counts.false.append((a, b))
            if same_gold and not same_pred:
                counts.missed.append((a, b))
    return overall, dict(by_kind)
