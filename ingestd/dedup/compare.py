"""Comparing two texts' signatures, and the copy/not-copy verdict with its reasons.

The verdict follows the definition of "same article": one text reproduces the other's source
text. Measured on word shingles:

* ``jaccard``: shared shingles over all shingles of both (near-identical copies);
* ``containment`` of a text: the share of its shingles found in the other. An excerpt, a
  truncation or an earlier version kept in a later one has a high containment even when the
  Jaccard similarity is low.

Two texts are copies when the Jaccard similarity or the containment of the shorter text reaches
its threshold. Independent reports of one event often share long quotations and little else, so
a copy found by containment must also share the writer's own words: the containment measured on
the text outside quotation marks (``narrative``) must reach ``narrative_containment``. Texts
too short to judge (``min_shingles``) must be near-verbatim copies, unless the short text credits
the other's site in an attribution line (a headline post: "Read the full article at …"); then
the ordinary containment threshold applies. A compilation (digest, live file) does not absorb a
story it merely contains.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ingestd.config import DedupSettings

VERBATIM_CONTAINMENT = 0.9  # what a too-short text must share to count as a copy
COMPILATION_COVERAGE = 0.3  # a contained story covering less of a compilation than this is apart


@dataclass(frozen=True)
class Overlap:
    """Exact shingle overlap of texts A and B."""

    shared: int
    size_a: int
    size_b: int
    narrative_shared: int = 0
    narrative_a: int = 0
    narrative_b: int = 0

    @property
    def jaccard(self) -> float:
        union = self.size_a + self.size_b - self.shared
        return self.shared / union if union else 0.0

    @property
    def containment_a(self) -> float:
        """Share of A's shingles found in B."""
        return self.shared / self.size_a if self.size_a else 0.0

    @property
    def containment_b(self) -> float:
        """Share of B's shingles found in A."""
        return self.shared / self.size_b if self.size_b else 0.0

    @property
    def containment_of_shorter(self) -> float:
        return self.shared / min(self.size_a, self.size_b) if min(self.size_a, self.size_b) else 0.0

    @property
    def narrative_containment(self) -> float:
        """Containment of the shorter text, counting only words outside quotations."""
        shorter = min(self.narrative_a, self.narrative_b)
        return self.narrative_shared / shorter if shorter else 0.0

    @property
    def coverage_of_longer(self) -> float:
        return self.shared / max(self.size_a, self.size_b) if max(self.size_a, self.size_b) else 0.0


@dataclass(frozen=True)
class Thresholds:
    """The verdict's parameters (a subset of ``[dedup]``, with its defaults)."""

    jaccard: float = DedupSettings.jaccard_threshold
    containment: float = DedupSettings.containment_threshold
    min_shingles: int = DedupSettings.min_shingles
    narrative_containment: float = DedupSettings.narrative_containment


def thresholds(settings: DedupSettings) -> Thresholds:
    """The verdict's thresholds from the ``[dedup]`` settings."""
    return Thresholds(
        settings.jaccard_threshold,
        settings.containment_threshold,
        settings.min_shingles,
        settings.narrative_containment,
    )


@dataclass(frozen=True)
class Verdict:
    """Whether two texts are copies, the score that decided it, and why, in words."""

    copy: bool
    score: float  # the similarity that decided: Jaccard or containment of the shorter text
    measure: str  # "jaccard" or "containment"
    why: str


def as_hashes(shingles: bytes) -> np.ndarray:
    """The sorted uint32 shingle hashes stored in a signature."""
    return np.frombuffer(shingles, dtype="<u4")


def _shared(a: bytes, b: bytes) -> tuple[int, int, int]:
    left, right = as_hashes(a), as_hashes(b)
    if not len(left) or not len(right):
        return 0, len(left), len(right)
    return int(np.intersect1d(left, right, assume_unique=True).size), len(left), len(right)


def without(shingles: bytes, removed: np.ndarray) -> bytes:
    """The stored shingle array minus the hashes in ``removed`` (e.g. a site's template)."""
    if not len(removed):
        return shingles
    kept = np.setdiff1d(as_hashes(shingles), removed, assume_unique=True)
    return kept.astype("<u4").tobytes()


def overlap(a: bytes, b: bytes, narrative_a: bytes = b"", narrative_b: bytes = b"") -> Overlap:
    """Exact overlap of two stored shingle arrays (and of their narrative arrays, if given)."""
    shared, size_a, size_b = _shared(a, b)
    n_shared, n_a, n_b = _shared(narrative_a, narrative_b)
    return Overlap(shared, size_a, size_b, n_shared, n_a, n_b)


def verdict(
    found: Overlap,
    limits: Thresholds,
    compilation_a: bool = False,
    compilation_b: bool = False,
    same_headline: bool = False,
    shorter_credits_longer: bool = False,
) -> Verdict:
    """Decide whether A and B are the same article; ``compilation_*`` flags digests.

    ``same_headline``: both carry one headline, so a short text inside a compilation is an
    excerpt *of* it (a headline post with its opening paragraphs), not one story of many.
    ``shorter_credits_longer``: the shorter text's attribution line names the longer's site, so
    a very short text needs only the ordinary containment, not a near-verbatim one.
    """
    jaccard, contained = found.jaccard, found.containment_of_shorter
    shorter = min(found.size_a, found.size_b)
    if shorter == 0:
        return Verdict(False, 0.0, "containment", "one text has no story words left to compare")
    if shorter < limits.min_shingles:
        needed = limits.containment if shorter_credits_longer else VERBATIM_CONTAINMENT
        rule = (
            "but credits the other's site"
            if shorter_credits_longer
            else "so it must be near-verbatim"
        )
        copy = contained >= needed
        why = (
            f"the shorter text is very short ({shorter} shingles < {limits.min_shingles}), {rule}:"
            f" {contained:.0%} of it is found in the other ({'≥' if copy else '<'} {needed:.0%})"
        )
        return Verdict(copy, contained, "containment", why)
    longer_is_compilation = compilation_b if found.size_a <= found.size_b else compilation_a
    if (
        longer_is_compilation
        and not same_headline
        and found.coverage_of_longer < COMPILATION_COVERAGE
        and jaccard < limits.jaccard
    ):
        why = (
            "the longer text is a compilation and this story is only"
            f" {found.coverage_of_longer:.0%} of it: a digest is not the same article as one"
            " story inside it"
        )
        return Verdict(False, contained, "containment", why)
    if jaccard >= limits.jaccard:
        why = f"{jaccard:.0%} of their combined text is shared (Jaccard ≥ {limits.jaccard:.0%})"
        return Verdict(True, jaccard, "jaccard", why)
    copy = contained >= limits.containment
    why = (
        f"{contained:.0%} of the shorter text is found in the longer"
        f" ({'≥' if copy else '<'} {limits.containment:.0%} containment);"
        f" Jaccard {jaccard:.0%} < {limits.jaccard:.0%}"
    )
    if copy and _mostly_quotations(found, limits):
        why = (
            f"{contained:.0%} of the shorter text is found in the longer, but outside quotations"
            f" only {found.narrative_containment:.0%} (< {limits.narrative_containment:.0%}):"
            " independent reports sharing the same quotes"
        )
        return Verdict(False, contained, "containment", why)
    return Verdict(copy, contained, "containment", why)


def _mostly_quotations(found: Overlap, limits: Thresholds) -> bool:
    """True when what two texts share is mostly quotations (narrative overlap is low)."""
    if min(found.narrative_a, found.narrative_b) < limits.min_shingles:
        return False  # too little narrative text to judge
    return found.narrative_containment < limits.narrative_containment
