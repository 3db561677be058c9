"""Stories from links (pure): which items are one article, whatever order they arrived in.

The input is a set of items and the links verified between them (:mod:`.links`); the output
depends on nothing else, so re-deciding it whenever a link appears or disappears gives the same
stories for the same items in any arrival order.

1. **Cores.** Items joined by strong links (near-copies both ways, identity, attribution) are
   one story: the connected components of the strong links.
2. **Compilations by content.** An item that contains two stories that have nothing to do with
   each other (no link between them, different headlines, neither carrying the item's own
   headline) is a compilation, whatever its title: it takes no excerpt. Contained texts count
   as stories when they have copies of their own, or when the item has none: two retitled
   excerpts of a story carried by several papers do not make each carrier a compilation. An
   item in many short sections under headlines (a digest, or a guide: ``sectioned``) takes no
   article under another headline (a brief inside a digest); verbatim remains of a page that
   is not an article, and excerpts carrying its own headline, it takes.
3. **Excerpts.** A core whose items are contained in other items (weak links: an excerpt, a
   truncation, an earlier version kept in a later one) attaches to the one core it matches
   best, always a longer one (ranked by its longest text), so attachments form a tree and
   never a cycle. It must be contained in two of that core's items when the core has two or
   more: a page that carries its story and some other text (a second story stitched under it)
   does not pull the other text's story in. A core contained in two stories goes to the better
   match and the other is noted: a containment match never merges two stories.
4. **Stories.** Each tree is one story; the items of its root core are where the canonical
   item comes from (an excerpt listed first is never taken for the original).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from ingestd.dedup.headlines import same_title


@dataclass(frozen=True)
class Node:
    """An item: its text's length in shingles, headline, and a key that does not depend on
    arrival order (its normalised URL) to break ties."""

    id: int
    size: int
    title: str
    tiebreak: str
    sectioned: bool = False  # in many short sections under headlines: maybe a digest
    standalone: bool = True  # an article (or compilation), not a page's verbatim remains


@dataclass(frozen=True)
class Edge:
    """A verified link; ``child`` is the contained item of a weak link (None: strong)."""

    a: int
    b: int
    strong: bool
    child: int | None
    score: float
    reason: str

    def other(self, item: int) -> int:
        return self.b if item == self.a else self.a


@dataclass(frozen=True)
class Attachment:
    """How an item is held in its story: through which link (None: it heads the story)."""

    via: Edge | None


@dataclass(frozen=True)
class Story:
    """Items that are one article; ``root`` are the items of its root core."""

    members: tuple[int, ...]
    root: tuple[int, ...]


@dataclass(frozen=True)
class Partition:
    """Stories of two or more items, how each member is held, and notes on items whose
    containment matches were not followed (or which were found to be compilations)."""

    stories: tuple[Story, ...]
    held: dict[int, Attachment] = field(default_factory=dict)
    notes: dict[int, str] = field(default_factory=dict)


Rank = tuple[int, str]


class _Cores:
    """Union-find over the strong links."""

    def __init__(self, nodes: dict[int, Node]) -> None:
        self.parent = {item: item for item in nodes}

    def find(self, item: int) -> int:
        root = item
        while self.parent[root] != root:
            root = self.parent[root]
        while self.parent[item] != root:
            self.parent[item], item = root, self.parent[item]
        return root

    def union(self, a: int, b: int) -> None:
        first, second = self.find(a), self.find(b)
        if first != second:
            self.parent[max(first, second)] = min(first, second)


def partition(nodes: list[Node], edges: list[Edge]) -> Partition:
    """The stories of ``nodes`` given the ``edges`` among them (edges to unknown items are
    ignored)."""
    by_id = {node.id: node for node in nodes}
    edges = [e for e in edges if e.a in by_id and e.b in by_id and e.a != e.b]
    cores = _Cores(by_id)
    for edge in edges:
        if edge.strong:
            cores.union(edge.a, edge.b)
    members: dict[int, list[int]] = defaultdict(list)
    for item in sorted(by_id):
        members[cores.find(item)].append(item)
    rank = {
        core: max((by_id[i].size, by_id[i].tiebreak) for i in items)
        for core, items in members.items()
    }
    notes: dict[int, str] = {}
    weak = [e for e in edges if not e.strong and e.child is not None]
    refused = _compilations(weak, edges, cores, members, by_id, notes)
    parent_edge = _parents(weak, cores, members, rank, refused, by_id, notes)
    return _stories(members, cores, parent_edge, edges, by_id, notes)


def _compilations(
    weak: list[Edge],
    edges: list[Edge],
    cores: _Cores,
    members: dict[int, list[int]],
    by_id: dict[int, Node],
    notes: dict[int, str],
) -> set[tuple[int, int]]:
    """The (container item, contained core) pairs that are not one story (step 2)."""
    linked = {frozenset((cores.find(e.a), cores.find(e.b))) for e in edges}
    inside: dict[int, set[int]] = defaultdict(set)
    for edge in weak:
        assert edge.child is not None
        container = edge.other(edge.child)
        if cores.find(edge.child) != cores.find(container):
            inside[container].add(cores.find(edge.child))
    refused: set[tuple[int, int]] = set()
    for container, contained in inside.items():
        own_title = by_id[container].title
        alone = len(members[cores.find(container)]) == 1
        candidates = sorted(c for c in contained if alone or len(members[c]) > 1)
        pair = _unrelated_pair(candidates, linked, members, by_id, own_title)
        if pair is not None:
            refused.update((container, core) for core in contained)
            first, second = (min(members[core]) for core in pair)
            notes[container] = (
                f"contains two unrelated stories (items {first} and {second}): a compilation,"
                " which takes no excerpt"
            )
        elif by_id[container].sectioned and own_title:
            for core in contained:
                titles = [by_id[i].title for i in members[core] if by_id[i].title]
                stories = any(by_id[i].standalone for i in members[core])
                if stories and titles and not _any_same(titles, [own_title]):
                    refused.add((container, core))
                    notes.setdefault(
                        container,
                        "in many short sections under headlines (a digest, or a guide): it takes"
                        " no article under another headline",
                    )
    return refused


def _unrelated_pair(
    contained: list[int],
    linked: set[frozenset[int]],
    members: dict[int, list[int]],
    by_id: dict[int, Node],
    own_title: str,
) -> tuple[int, int] | None:
    """Two of the contained cores with no link between them and different headlines, neither
    of them the container's own (when it has one); None when there are none (or the contained
    stories' headlines are unknown)."""
    titles = {core: [by_id[i].title for i in members[core] if by_id[i].title] for core in contained}
    own = [own_title] if own_title else []
    for index, first in enumerate(contained):
        for second in contained[index + 1 :]:
            if frozenset((first, second)) in linked:
                continue
            if not titles[first] or not titles[second]:
                continue
            if _any_same(titles[first], titles[second]):
                continue
            if _any_same(titles[first], own) or _any_same(titles[second], own):
                continue
            return first, second
    return None


def _any_same(left: list[str], right: list[str]) -> bool:
    return any(same_title(a, b) for a in left for b in right)


def _parents(
    weak: list[Edge],
    cores: _Cores,
    members: dict[int, list[int]],
    rank: dict[int, Rank],
    refused: set[tuple[int, int]],
    by_id: dict[int, Node],
    notes: dict[int, str],
) -> dict[int, Edge]:
    """Each core's link to the one longer core it is contained in best (step 3)."""
    offers: dict[int, dict[int, Edge]] = defaultdict(dict)  # child core -> parent core -> edge
    containers: dict[tuple[int, int], set[int]] = defaultdict(set)
    for edge in sorted(weak, key=lambda e: (e.a, e.b)):
        assert edge.child is not None
        container = edge.other(edge.child)
        child, parent = cores.find(edge.child), cores.find(container)
        if (container, child) in refused:
            continue
        if child == parent or rank[parent] <= rank[child]:
            continue
        containers[(child, parent)].add(container)
        best = offers[child].get(parent)
        if best is None or _better(edge, best, edge.child, by_id):
            offers[child][parent] = edge
    for (child, parent), found in containers.items():
        if len(found) < min(2, len(members[parent])):  # one page of the story holds it
            edge = offers[child].pop(parent)
            assert edge.child is not None
            notes.setdefault(
                edge.child,
                f"contained in item {edge.other(edge.child)} but in none of that story's other"
                " copies: a page that carries more than its story, which it does not join",
            )
    chosen: dict[int, Edge] = {}
    offers = {child: found for child, found in offers.items() if found}
    for child, by_parent in offers.items():
        ordered = sorted(by_parent, key=lambda p: (by_parent[p].score, rank[p]), reverse=True)
        chosen[child] = by_parent[ordered[0]]
        for other in ordered[1:]:
            edge = by_parent[other]
            assert edge.child is not None
            picked = chosen[child].other(chosen[child].child or 0)
            notes.setdefault(
                edge.child,
                f"also contained in item {edge.other(edge.child)} ({edge.score:.0%}), a story of"
                f" its own; a containment match joins one story only: the best (item {picked})",
            )
    return chosen


def _stories(
    members: dict[int, list[int]],
    cores: _Cores,
    parent_edge: dict[int, Edge],
    edges: list[Edge],
    by_id: dict[int, Node],
    notes: dict[int, str],
) -> Partition:
    """Trees of cores as stories, and how each member is held (step 4)."""

    def root_of(core: int) -> int:
        while core in parent_edge:
            edge = parent_edge[core]
            assert edge.child is not None
            core = cores.find(edge.other(edge.child))
        return core

    trees: dict[int, list[int]] = defaultdict(list)
    for core in members:
        trees[root_of(core)].append(core)
    best_strong = _best_strong(edges, cores, by_id)
    stories: list[Story] = []
    held: dict[int, Attachment] = {}
    for root, tree in sorted(trees.items()):
        items = sorted(item for core in tree for item in members[core])
        if len(items) < 2:
            continue
        stories.append(Story(tuple(items), tuple(members[root])))
        attaching = {edge.child: edge for core, edge in parent_edge.items() if core in tree}
        for item in items:
            held[item] = Attachment(attaching.get(item) or best_strong.get(item))
    return Partition(tuple(stories), held, notes)


def _best_strong(edges: list[Edge], cores: _Cores, by_id: dict[int, Node]) -> dict[int, Edge]:
    """Each item's best strong link inside its core (the one that holds it there): the
    highest score, then the other item with the smallest tie-break key."""
    best: dict[int, Edge] = {}
    for edge in edges:
        if not edge.strong:
            continue
        for item in (edge.a, edge.b):
            current = best.get(item)
            if current is None or _better(edge, current, item, by_id):
                best[item] = edge
    return best


def _better(edge: Edge, current: Edge, item: int, by_id: dict[int, Node]) -> bool:
    """Whether ``edge`` holds ``item`` better than ``current``."""
    if edge.score != current.score:
        return edge.score > current.score
    return by_id[edge.other(item)].tiebreak < by_id[current.other(item)].tiebreak
