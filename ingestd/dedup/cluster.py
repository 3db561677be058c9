"""Which cluster a new item joins, given the items it was verified to copy (pure).

A new item that matches items of several clusters is a bridge. It merges them only when the
evidence holds for both sides: the clusters' matched items are themselves copies of each other,
or carry the same headline (two excerpts of one article). A new item that contains two or more
unrelated stories (each mostly found in it, each a small part of it) is a compilation: it joins
none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ingestd.dedup.normalize import tokens

SAME_TITLE_JACCARD = 0.6  # title word overlap at which two headlines count as the same
CONTAINED_STORY = 0.8  # share of a story found in a longer text for it to count as inside it
PART_OF_LONGER = 0.5  # a story covering less than this of the longer text is only a part of it


@dataclass(frozen=True)
class Match:
    """A stored item the new item was verified to be a copy of."""

    item_id: int
    cluster_id: int | None
    reason: str  # a Reason value
    score: float  # similarity that decided the verdict
    measure: str  # jaccard, containment, or identity
    why: str
    title: str
    inside_new: bool = False  # the stored story lies inside the (much longer) new text


@dataclass(frozen=True)
class Plan:
    """What to do with the new item."""

    join: Match | None
    merge: tuple[Match, ...] = ()
    compilation: bool = False
    why: str = ""


def same_title(a: str, b: str) -> bool:
    """True when two headlines share most of their words."""
    left, right = set(tokens(a)), set(tokens(b))
    if len(left) < 3 or len(right) < 3:
        return bool(left) and left == right
    return len(left & right) / len(left | right) >= SAME_TITLE_JACCARD


def plan(matches: list[Match], related: Callable[[Match, Match], bool]) -> Plan:
    """Decide the cluster of a new item from its ``matches``.

    ``related(a, b)`` tells whether two matched stored items are themselves the same article.
    """
    if not matches:
        return Plan(None)
    groups = _best_per_group(matches)
    inside = [match for match in groups if match.inside_new and match.measure != "identity"]
    if _unrelated_pair(inside, related):
        names = ", ".join(str(m.item_id) for m in inside)
        return Plan(
            None, compilation=True, why=f"contains several unrelated stories (items {names})"
        )
    ordered = sorted(groups, key=lambda m: (m.measure != "identity", -m.score, m.item_id))
    target, others = ordered[0], ordered[1:]
    merged = tuple(m for m in others if related(target, m) or same_title(target.title, m.title))
    return Plan(target, merged, why=target.why)


def _best_per_group(matches: list[Match]) -> list[Match]:
    best: dict[object, Match] = {}
    for match in matches:
        key: object = match.cluster_id if match.cluster_id is not None else ("item", match.item_id)
        current = best.get(key)
        rank = (match.measure == "identity", match.score)
        if current is None or rank > (current.measure == "identity", current.score):
            best[key] = match
    return list(best.values())


def _unrelated_pair(inside: list[Match], related: Callable[[Match, Match], bool]) -> bool:
    for index, first in enumerate(inside):
        for second in inside[index + 1 :]:
            if not related(first, second) and not same_title(first.title, second.title):
                return True
    return False
