"""Headlines: whether two items carry the same one (pure).

A shared headline is evidence that two texts come from one piece: an excerpt carrying a
compilation's own headline is a copy of it, and a compilation that contains stories under other
headlines than its own is not any one of them (:mod:`ingestd.dedup.partition`).
"""

from __future__ import annotations

from ingestd.dedup.normalize import tokens

SAME_TITLE_JACCARD = 0.6  # title word overlap at which two headlines count as the same


def same_title(a: str, b: str) -> bool:
    """True when two headlines share most of their words."""
    left, right = set(tokens(a)), set(tokens(b))
    if len(left) < 3 or len(right) < 3:
        return bool(left) and left == right
    return len(left & right) / len(left | right) >= SAME_TITLE_JACCARD
