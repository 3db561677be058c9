"""Choosing a cluster's canonical item, with the evidence in words.

Policy, in order:

1. an operator's pin;
2. explicit signals: a copy whose ``rel=canonical``/``og:url`` points to another site's page,
   or whose attribution line ("originally published at …", "read the full article at …")
   names another member's host or outlet name, votes for that member; the member with the most
   votes that does not itself credit another member is the original;
3. the earliest publication;
4. the longest text.

Steps 3 and 4 choose among the items of the story's root core (``eligible``): an excerpt or a
truncation attached to the story is never taken for its original because it was listed first.
Ties are broken by URL, never by storage order, so the choice does not depend on the order in
which the items arrived.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from ingestd.dedup.attribution import source_key
from ingestd.urls import is_home_page, same_site, site_host


@dataclass(frozen=True)
class Member:
    """What the canonical choice needs to know about one item of a cluster."""

    id: int
    url: str | None
    url_norm: str | None
    canonical_url: str | None
    canonical_norm: str | None
    site_host: str | None
    site_name: str | None
    attribution: tuple[str, ...]
    when: datetime
    n_words: int


@dataclass(frozen=True)
class Vote:
    """An explicit signal: ``voter`` says ``target`` is where the story comes from."""

    voter: int
    target: int
    kind: str  # "canonical_link" or "attribution"
    evidence: str


@dataclass(frozen=True)
class CanonicalChoice:
    """The chosen canonical item, why, and every explicit signal seen."""

    item_id: int
    reason: str  # pinned, canonical_link, attribution, earliest, longest
    evidence: str
    votes: tuple[Vote, ...]


def explicit_votes(members: list[Member]) -> list[Vote]:
    """Every cross-site canonical link and attribution line that names another member."""
    votes: list[Vote] = []
    for member in members:
        votes.extend(_canonical_votes(member, members))
        votes.extend(_attribution_votes(member, members))
    return votes


def _canonical_votes(member: Member, members: list[Member]) -> list[Vote]:
    target_host = site_host(member.canonical_url)
    if not member.canonical_norm or not target_host or same_site(target_host, member.site_host):
        return []
    votes = []
    for other in members:
        if other.id == member.id:
            continue
        exact = member.canonical_norm in (other.url_norm, other.canonical_norm)
        if exact or (
            same_site(target_host, other.site_host) and not is_home_page(member.canonical_norm)
        ):
            evidence = f"{member.url} declares its canonical page is {member.canonical_url}"
            votes.append(Vote(member.id, other.id, "canonical_link", evidence))
    return votes


def _attribution_votes(member: Member, members: list[Member]) -> list[Vote]:
    votes = []
    for credited in member.attribution:
        for other in members:
            if other.id == member.id or same_site(other.site_host, member.site_host):
                continue
            if credits(credited, other.site_host, other.site_name):
                evidence = f'{member.url} credits "{credited}" (the site of {other.url})'
                votes.append(Vote(member.id, other.id, "attribution", evidence))
    return votes


def credits(credited: str, host: str | None, name: str | None) -> bool:
    """True when ``credited`` (a source key from an attribution line) names the site ``host``
    or the outlet ``name``: the host itself, the outlet's name, or the name part of the host
    ("The Example Times" credits www.exampletimes.com)."""
    if "." in credited and host:
        return same_site(credited, host)
    key = source_key(name) if name else None
    if key and key == credited:
        return True
    label = site_label(host or "")
    return bool(label) and credited.replace(" ", "") == label.replace("-", "")


Source = tuple[tuple[str, ...], str | None, str | None]  # credited sources, site host, site name


def credits_other_site(item: Source, other: Source) -> bool:
    """True when one of ``item``'s credited sources names ``other``'s site; a credit to the
    item's own site names nobody else. Each is ``(attribution, site_host, site_name)``."""
    attribution, own_host, _ = item
    _, host, name = other
    if not attribution or (own_host and host and same_site(own_host, host)):
        return False
    return any(credits(credited, host, name) for credited in attribution)


_SECOND_LEVEL = frozenset({"co", "com", "net", "org", "gov", "ac", "edu", "ne", "or", "go"})


def site_label(host: str) -> str:
    """The name part of a host: "www.bbc.co.uk" → "bbc", "news.example.com" → "example"."""
    labels = host.split(".")
    if len(labels) >= 3 and len(labels[-1]) == 2 and labels[-2] in _SECOND_LEVEL:
        return labels[-3]
    return labels[-2] if len(labels) >= 2 else host


def _order(member: Member) -> str:
    """A tie-break that does not depend on arrival order: the URL (the id for none)."""
    return member.url_norm or member.url or f"#{member.id:020d}"


def choose_canonical(
    members: list[Member], pinned: int | None = None, eligible: set[int] | None = None
) -> CanonicalChoice:
    """Apply the policy above; ``members`` must not be empty. ``eligible``: the members the
    earliest or longest may be chosen from (all when None or empty)."""
    votes = explicit_votes(members)
    by_id = {member.id: member for member in members}
    if pinned is not None and pinned in by_id:
        return CanonicalChoice(pinned, "pinned", "pinned by an operator", tuple(votes))
    voted = _original_by_votes(votes, by_id)
    if voted is not None:
        winning = [vote for vote in votes if vote.target == voted]
        kind = winning[0].kind
        return CanonicalChoice(voted, kind, "; ".join(v.evidence for v in winning), tuple(votes))
    pool = [m for m in members if m.id in eligible] if eligible else members
    pool = pool or members
    earliest = min(pool, key=lambda m: (m.when, -m.n_words, _order(m)))
    ties = [m for m in pool if m.when == earliest.when]
    if len(ties) > 1:
        longest = min(ties, key=lambda m: (-m.n_words, _order(m)))
        evidence = (
            f"published at the same time as others; the longest text ({longest.n_words} words)"
        )
        return CanonicalChoice(longest.id, "longest", evidence, tuple(votes))
    evidence = f"the earliest publication ({earliest.when.isoformat(timespec='minutes')})"
    return CanonicalChoice(earliest.id, "earliest", evidence, tuple(votes))


def _original_by_votes(votes: list[Vote], by_id: dict[int, Member]) -> int | None:
    """The most-credited member, following chains (a copy of a copy) to their root."""
    if not votes:
        return None
    counts = Counter(vote.target for vote in votes)
    crediting = {vote.voter for vote in votes}
    roots = [target for target in counts if target not in crediting]
    pool = roots or list(counts)
    return min(pool, key=lambda t: (-counts[t], by_id[t].when, _order(by_id[t])))
