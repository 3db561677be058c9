"""Links and stories (pure): how strongly two texts link, and which items are one story.

Texts are invented (the ``prose`` fixture); the partition tests work on links directly.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable

import pytest

from ingestd.dedup.compare import Overlap, Thresholds, overlap
from ingestd.dedup.links import Side, decide
from ingestd.dedup.partition import Edge, Node, Partition, partition
from ingestd.dedup.signature import SignatureParams, make_signature
from ingestd.model import Reason, TextKind

Prose = Callable[..., list[str]]
LIMITS = Thresholds()
ARTICLE = Side(TextKind.ARTICLE)


def found(a: str, b: str) -> Overlap:
    left, right = (make_signature(t, "", SignatureParams()) for t in (a, b))
    return overlap(left.shingles, right.shingles, left.narrative, right.narrative)


# --- links --------------------------------------------------------------------------------------


def test_a_near_copy_is_a_strong_link(prose: Prose) -> None:
    story = prose(1, 12)
    decision = decide(found("\n".join(story), "\n".join(story[:-1])), ARTICLE, ARTICLE, LIMITS)
    assert decision.link is not None and decision.link.strong and decision.link.child is None


def test_an_excerpt_is_a_weak_link_to_the_longer_text(prose: Prose) -> None:
    story = prose(2, 14)
    decision = decide(found("\n".join(story[:4]), "\n".join(story)), ARTICLE, ARTICLE, LIMITS)
    assert decision.link is not None and not decision.link.strong
    assert decision.link.child == 0  # A, the excerpt, is the contained text


def test_an_excerpt_crediting_the_others_site_is_a_strong_link(prose: Prose) -> None:
    story = prose(3, 14)
    credited = Side(TextKind.ARTICLE, credits_other=True)
    decision = decide(found("\n".join(story[:4]), "\n".join(story)), credited, ARTICLE, LIMITS)
    assert decision.link is not None and decision.link.strong
    assert decision.link.reason == Reason.ATTRIBUTION


def test_a_stub_never_links_by_its_text(prose: Prose) -> None:
    text = "\n".join(prose(4, 3))
    decision = decide(found(text, text), Side(TextKind.STUB), Side(TextKind.STUB), LIMITS)
    assert decision.link is None and "stub" in decision.why


@pytest.mark.parametrize("kind", [TextKind.SHORT, TextKind.GALLERY, TextKind.LISTING])
def test_a_non_article_links_only_as_the_verbatim_copy_of_an_article(
    kind: TextKind, prose: Prose
) -> None:
    story = prose(5, 12)
    verbatim = decide(found("\n".join(story[:1]), "\n".join(story)), Side(kind), ARTICLE, LIMITS)
    mixed = "\n".join([story[0], *prose(6, 1)])
    partly = decide(found(mixed, "\n".join(story)), Side(kind), ARTICLE, LIMITS)
    assert verbatim.link is not None and not verbatim.link.strong and verbatim.link.child == 0
    assert partly.link is None and "verbatim" in partly.why


def test_two_galleries_with_the_same_captions_left_do_not_link(prose: Prose) -> None:
    text = "\n".join(prose(7, 3))
    gallery = Side(TextKind.GALLERY)
    assert decide(found(text, text), gallery, gallery, LIMITS).link is None


def test_two_identical_short_texts_do_not_link(prose: Prose) -> None:
    """Two pages that are not articles are never copies, not even with the same words (one
    stub on many pages): when unsure, apart."""
    text = prose(8, 1)[0]
    short = Side(TextKind.SHORT)
    assert decide(found(text, text), short, short, LIMITS).link is None


def test_a_compilation_never_takes_a_story_it_contains(prose: Prose) -> None:
    brief = prose(9, 3)
    running = "\n".join([*prose(10, 2), *brief, *prose(11, 1)])
    compilation = Side(TextKind.COMPILATION)
    inside = decide(found("\n".join(brief), running), ARTICLE, compilation, LIMITS)
    reverse = decide(found(running, "\n".join(brief)), compilation, ARTICLE, LIMITS)
    assert inside.link is None and "compilation" in inside.why
    assert reverse.link is None


def test_two_copies_of_one_compilation_link(prose: Prose) -> None:
    running = prose(12, 10)
    compilation = Side(TextKind.COMPILATION)
    decision = decide(
        found("\n".join(running), "\n".join([*running, *prose(13, 1)])),
        compilation,
        compilation,
        LIMITS,
    )
    assert decision.link is not None and decision.link.strong


def test_pages_of_one_site_sharing_mostly_quotes_do_not_link_by_containment(
    prose: Prose,
) -> None:
    quotes = [f"“{p}” said the mayor." for p in prose(14, 6)]
    a = "\n".join([*prose(15, 2), *quotes])
    b = "\n".join([*prose(16, 3), *quotes, *prose(17, 3)])
    elsewhere = decide(found(a, b), ARTICLE, ARTICLE, Thresholds(narrative_containment=0.0))
    one_site = decide(
        found(a, b), ARTICLE, ARTICLE, Thresholds(narrative_containment=0.0), same_site=True
    )
    assert elsewhere.link is not None
    assert one_site.link is None and "one site" in one_site.why


# --- stories ------------------------------------------------------------------------------------


def node(item: int, size: int = 500, title: str = "") -> Node:
    return Node(item, size, title, f"http://site{item}.example/story")


def strong(a: int, b: int, score: float = 0.9) -> Edge:
    return Edge(min(a, b), max(a, b), True, None, score, "minhash")


def weak(child: int, parent: int, score: float = 0.8) -> Edge:
    return Edge(min(child, parent), max(child, parent), False, child, score, "minhash")


def stories(result: Partition) -> set[frozenset[int]]:
    return {frozenset(story.members) for story in result.stories}


def test_strong_links_make_one_story_transitively() -> None:
    result = partition([node(1), node(2), node(3), node(4)], [strong(1, 2), strong(2, 3)])
    assert stories(result) == {frozenset({1, 2, 3})}


def test_an_excerpt_matching_two_stories_joins_the_better_one_only() -> None:
    nodes = [node(1), node(2), node(3), node(4), node(5, size=100)]
    edges = [strong(1, 2), strong(3, 4), weak(5, 1, 0.9), weak(5, 2, 0.9)]
    edges += [weak(5, 3, 0.7), weak(5, 4, 0.7)]
    result = partition(nodes, edges)
    assert stories(result) == {frozenset({1, 2, 5}), frozenset({3, 4})}
    assert "also contained in item" in result.notes[5]


def test_a_story_stitched_under_another_on_one_page_stays_apart() -> None:
    """A page that carries story S (a near-copy of S's copies) and most of story R under S's
    headline goes with S; R, found only in that page and not in S's other copies, stays apart:
    the page must not merge the two stories."""
    s_copies, stitched, r_copies = [1, 2, 3], 4, [5, 6]
    nodes = [node(i, 900) for i in s_copies] + [node(stitched, 1300)]
    nodes += [node(i, 400) for i in r_copies]
    edges = [strong(1, 2), strong(2, 3), strong(1, 3), strong(1, 4), strong(2, 4), strong(5, 6)]
    edges += [weak(5, stitched), weak(6, stitched)]
    result = partition(nodes, edges)
    assert stories(result) == {frozenset({1, 2, 3, 4}), frozenset({5, 6})}
    assert "none of that story's other copies" in result.notes[5]


def test_two_retitled_excerpts_of_a_story_with_copies_both_join_it() -> None:
    """A truncation and a middle run, each under a paper's own headline, contained in every
    copy of the story: excerpts, not two stories that make each copy a compilation."""
    title = "Levee breach forces evacuation of three villages"
    nodes = [node(i, 900, title) for i in (1, 2, 3)]
    nodes += [
        node(4, 300, "Villages emptied as river tops levee"),
        node(5, 300, "Night the water came"),
    ]
    edges = [strong(1, 2), strong(2, 3)] + [weak(c, p) for c in (4, 5) for p in (1, 2, 3)]
    assert stories(partition(nodes, edges)) == {frozenset({1, 2, 3, 4, 5})}


def test_a_page_of_two_briefs_each_carried_elsewhere_is_a_compilation() -> None:
    """A page with no headline of its own that holds two briefs, each carried by other sites,
    joins neither."""
    nodes = [node(1, 900, "")]
    nodes += [node(i, 150, "Ferry service suspended on lower river") for i in (2, 3)]
    nodes += [node(i, 150, "Mill quay reopens after pumping") for i in (4, 5)]
    edges = [strong(2, 3), strong(4, 5)] + [weak(c, 1) for c in (2, 3, 4, 5)]
    result = partition(nodes, edges)
    assert stories(result) == {frozenset({2, 3}), frozenset({4, 5})}
    assert "compilation" in result.notes[1]


def test_identical_excerpts_attach_together_to_their_article() -> None:
    nodes = [node(1), node(2), node(5, size=100), node(6, size=100)]
    edges = [strong(1, 2), strong(5, 6), weak(5, 1), weak(6, 2)]
    assert stories(partition(nodes, edges)) == {frozenset({1, 2, 5, 6})}


def test_a_text_containing_two_unrelated_stories_takes_neither() -> None:
    nodes = [
        node(1, 2000, "The Latest: floods in the north"),
        node(2, 150, "Rail line closed until further notice"),
        node(3, 200, "Mayor resigns after the vote"),
    ]
    result = partition(nodes, [weak(2, 1), weak(3, 1)])
    assert stories(result) == set()
    assert "compilation" in result.notes[1]


def test_two_excerpts_carrying_their_articles_headline_both_join_it() -> None:
    title = "Floodwaters force hundreds from their homes"
    nodes = [node(1, 900, title), node(2, 150, title), node(3, 200, title)]
    assert stories(partition(nodes, [weak(2, 1), weak(3, 1)])) == {frozenset({1, 2, 3})}


def test_a_sectioned_text_takes_only_excerpts_carrying_its_headline() -> None:
    """A digest (or a guide) in many short sections: an excerpt under its headline is one
    story with it, a brief under another headline found inside it is not."""
    title = "Five things to do in Harbourton this spring"
    digest = Node(1, 900, title, "http://a.example/1", sectioned=True)
    nodes = [digest, node(2, 150, title), node(3, 150, "Rail line closed until further notice")]
    result = partition(nodes, [weak(2, 1), weak(3, 1)])
    assert stories(result) == {frozenset({1, 2})}
    assert "sections" in result.notes[1]


def test_versions_chain_through_containment_to_the_longest() -> None:
    nodes = [node(1, 300), node(2, 400), node(3, 500)]
    result = partition(nodes, [weak(1, 2), weak(2, 3)])
    assert stories(result) == {frozenset({1, 2, 3})}
    assert result.stories[0].root == (3,)


def test_the_root_core_is_the_longest_not_the_first() -> None:
    nodes = [node(1, 100), node(2, 900), node(3, 880)]
    result = partition(nodes, [strong(2, 3), weak(1, 2)])
    assert set(result.stories[0].root) == {2, 3}


@pytest.mark.parametrize("seed", range(20))
def test_stories_do_not_depend_on_the_order_of_items_and_links(seed: int) -> None:
    rng = random.Random(seed)
    nodes = [
        node(i, rng.choice((100, 300, 600, 900)), rng.choice(("", "A b c", "D e f")))
        for i in range(12)
    ]
    pairs = [(a, b) for a, b in itertools.combinations(range(12), 2) if rng.random() < 0.15]
    edges = [
        strong(a, b, rng.random())
        if rng.random() < 0.5
        else weak(*sorted((a, b), key=lambda i: nodes[i].size), rng.random())
        for a, b in pairs
    ]
    first = partition(nodes, edges)
    for _ in range(5):
        rng.shuffle(nodes)
        rng.shuffle(edges)
        again = partition(nodes, edges)
        assert stories(again) == stories(first)
        assert {s.members: s.root for s in again.stories} == {
            s.members: s.root for s in first.stories
        }
