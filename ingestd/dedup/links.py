"""How two texts link, and how strongly (pure).

A link is what the verdict on a pair of texts leaves for clustering (:mod:`.partition`):

* **strong**: a near-copy both ways (Jaccard at or above its threshold), or a copy by
  containment whose shorter text credits the other's site in an attribution line. Strong links
  may merge stories: clusters are built from them.
* **weak**: a copy by containment alone (an excerpt, a truncation, an earlier version kept in a
  later one), or the verbatim remains of a page that is not an article. The contained text
  (``child``) attaches to the one story it matches best and never merges two stories.

What may link depends on the article-ness of both texts (:mod:`.quality`): a stub never links
by its text; a gallery, listing or short text only as the verbatim copy of an article, never
with another page that is not an article; a compilation (digest, live page) only with a
near-copy, or with a shorter excerpt carrying its own headline. Two pages of one site must
share what their writer wrote, not their template or the quotes they both carry: a link by
containment between them needs the containment on the text outside quotations as well.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingestd.dedup.compare import VERBATIM_CONTAINMENT, Overlap, Thresholds, verdict
from ingestd.model import Reason, TextKind

MIN_REMAINS = 15  # shingles a non-article must keep to be a verbatim copy of anything
MIN_REMAINS_CREDITED = 5  # ... when it credits the article's site ("Read the full article at")


@dataclass(frozen=True)
class Side:
    """What the decision needs of one text besides its shingles."""

    kind: TextKind
    credits_other: bool = False  # its attribution line names the other's site


@dataclass(frozen=True)
class Link:
    """A verified link between texts A and B."""

    strong: bool
    child: int | None  # weak links: 0 when A is the contained text, 1 when B is; strong: None
    reason: Reason
    measure: str  # "jaccard", "containment" or "identity"
    score: float
    why: str


@dataclass(frozen=True)
class Decision:
    """A link, or None with the reason in words."""

    link: Link | None
    why: str


def _no(why: str) -> Decision:
    return Decision(None, why)


def decide(
    found: Overlap,
    a: Side,
    b: Side,
    limits: Thresholds,
    same_site: bool = False,
    same_headline: bool = False,
) -> Decision:
    """How texts A and B link, given their exact overlap (template already removed for pages
    of one site), what each is, and whether they carry one headline."""
    if TextKind.STUB in (a.kind, b.kind):
        return _no("a stub (one text on many pages of its site) is never a copy by its text")
    if not a.kind.is_article or not b.kind.is_article:
        return _remains(found, a, b, limits)
    shorter = 0 if found.size_a <= found.size_b else 1
    credited = (a, b)[shorter].credits_other
    text = verdict(found, limits, shorter_credits_longer=credited)
    if not text.copy:
        return _no(text.why)
    reason = Reason.ATTRIBUTION if credited else Reason.MINHASH
    if text.measure == "jaccard":
        return Decision(Link(True, None, reason, "jaccard", text.score, text.why), text.why)
    if TextKind.COMPILATION in (a.kind, b.kind):
        both = a.kind == b.kind == TextKind.COMPILATION
        if not (both and same_headline):
            return _no(
                f"{text.why}; but a compilation (digest, live page) is not the same article as"
                " a story it contains, nor a story as a compilation that contains it"
            )
    if same_site and _mostly_shared_quotes(found, limits):
        return _no(
            f"{text.why}; but they are pages of one site, and outside quotations only"
            f" {found.narrative_containment:.0%} is shared (< {limits.containment:.0%})"
        )
    if credited:
        why = f"{text.why}; the shorter text credits the other's site"
        return Decision(Link(True, None, reason, "containment", text.score, why), why)
    link = Link(False, shorter, reason, "containment", text.score, text.why)
    return Decision(link, text.why)


def _mostly_shared_quotes(found: Overlap, limits: Thresholds) -> bool:
    """Pages of one site: the narrative (outside quotations) must be contained as the whole is."""
    if min(found.narrative_a, found.narrative_b) < limits.min_shingles:
        return False
    return found.narrative_containment < limits.containment


def _remains(found: Overlap, a: Side, b: Side, limits: Thresholds) -> Decision:
    """A pair with a non-article: only a verbatim copy of what is left of it links (weakly)."""
    if not a.kind.is_article and not b.kind.is_article:
        return _no(
            f"neither is an article ({a.kind.value}, {b.kind.value}): pages that are not articles"
            " link only as verbatim copies of an article"
        )
    child = 0 if not a.kind.is_article else 1
    remains, article = ((a, found.size_a), (b, found.size_b))[child], (b, a)[child]
    side, size = remains
    if article.kind == TextKind.COMPILATION:
        return _no("a page that is not an article never links to a compilation")
    least = MIN_REMAINS_CREDITED if side.credits_other else MIN_REMAINS
    if size < least:
        return _no(
            f"the {side.kind.value} page keeps {size} shingles of text (< {least}):"
            " too little to be a copy of anything"
        )
    contained = found.shared / size
    needed = limits.containment if side.credits_other else VERBATIM_CONTAINMENT
    if contained < needed:
        return _no(
            f"the {side.kind.value} page is not an article, so what is left of it must be a"
            f" verbatim copy: {contained:.0%} of it is found in the article (< {needed:.0%})"
        )
    why = (
        f"what is left of the {side.kind.value} page is a verbatim copy of the article"
        f" ({contained:.0%} of it found)"
    )
    reason = Reason.ATTRIBUTION if side.credits_other else Reason.MINHASH
    return Decision(Link(False, child, reason, "containment", contained, why), why)
