"""Linking a stored item to the stories already stored (runs inside the write transaction).

For a new item: its keys are stored; the items sharing them are read; its article-ness is
decided with what the store knows of its site (:mod:`ingestd.dedup.sitecontext`); then every link is
verified and stored: identity (same normalised URL, same GUID in another feed, a canonical link
to a stored page, the same body hash), then near-duplicates (LSH band and anchor keys give
candidates, each verified by exact shingle overlap and :func:`ingestd.dedup.links.decide`).
Finally the stories of every item connected to it by links are re-decided from the links
alone (:mod:`ingestd.dedup.stories`), so they do not depend on the order the items arrived in.

When the new item makes a paragraph a template of its site (or a body a stub), the pages that
already carried it are linked again with that knowledge (:func:`relink`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from ingestd.config import DedupSettings
from ingestd.dedup.canonical import credits_other_site
from ingestd.dedup.compare import Overlap, Thresholds, as_hashes, overlap, thresholds, without
from ingestd.dedup.headlines import same_title
from ingestd.dedup.links import Decision, Side, decide
from ingestd.dedup.quality import Quality, SiteEvidence, assess
from ingestd.dedup.sitecontext import TEMPLATE_PAGES, site_evidence, template_hashes
from ingestd.dedup.stories import repartition
from ingestd.model import Reason, Signature, TextKind, TextProfile
from ingestd.store import ItemRecord, NewItem, Transaction
from ingestd.store.records import ItemShingles, LinkRecord
from ingestd.store.statements import count_by_kind
from ingestd.urls import is_home_page, same_site

MIN_HASH_WORDS = 20  # texts shorter than this are not matched by body hash alone
MAX_CANDIDATES = 100  # verified per new item, most shared keys first
MAX_KEY_ITEMS = 200  # a key carried by more items is a stock phrase, not a lead
MAX_LINKS = 12  # links stored per item: identity first, then the strongest (a story of
# hundreds of copies is still one story through them, and re-deciding it reads fewer rows)
ANOTHER_COPY = 0.5  # a same-site page holding this share of a pair's common text is a copy too


@dataclass(frozen=True)
class LinkOutcome:
    """Where the item ended up."""

    item_id: int
    cluster_id: int | None
    republication: bool  # it is one story with items already stored
    compilation: bool = False
    quality: str = TextKind.ARTICLE.value


@dataclass(frozen=True)
class Subject:
    """The item being linked, with what its links are decided from."""

    id: int
    feed_id: int
    url_norm: str | None
    canonical_norm: str | None
    guid: str | None
    body_hash: str | None
    n_words: int
    title: str
    url: str | None
    site_host: str | None
    site_name: str | None
    attribution: tuple[str, ...]
    shingles: bytes
    narrative: bytes
    keys: tuple[int, ...]
    text: str
    profile: TextProfile | None  # None: a stored copy's verdict is kept as it is
    quality: Quality


def link_new_item(
    tx: Transaction,
    item_id: int,
    item: NewItem,
    sig: Signature,
    settings: DedupSettings,
    now: datetime,
) -> LinkOutcome:
    """Store the item's keys and links, decide its story, and re-link the pages of its site
    whose template it reveals."""
    keys = (*sig.band_keys, *sig.anchor_keys)
    tx.insert_keys(item_id, keys)
    subject = Subject(
        item_id,
        item.feed_id,
        item.url_norm,
        item.canonical_norm,
        item.guid,
        item.body_hash,
        item.n_words,
        item.title,
        item.url,
        item.site_host,
        item.site_name,
        item.attribution,
        item.shingles,
        item.narrative,
        keys,
        item.text,
        sig.profile,
        Quality(TextKind(item.quality), item.n_words, item.quality_note or ""),
    )
    since = item.fetched_at - timedelta(days=settings.window_days)
    outcome, revealed = _link(tx, subject, settings, since, now, ())
    for other in revealed:
        relink(tx, other, settings, now)
    return outcome


def relink(tx: Transaction, item_id: int, settings: DedupSettings, now: datetime) -> LinkOutcome:
    """Decide a stored item's verdict and links again from its text and keys (what the store
    knows of its site may have changed), and re-decide the stories it touched."""
    record = tx.item(item_id)
    if record is None:
        return LinkOutcome(item_id, None, False)
    before = tx.delete_links(item_id)
    mates = [m.id for m in tx.cluster_members(record.cluster_id)] if record.cluster_id else []
    if record.split:
        repartition(tx, [item_id, *before, *mates], settings, now)
        return LinkOutcome(item_id, None, False, quality=record.quality)
    subject = stored_subject(tx, record)
    profile = subject.profile
    sectioned = profile is not None and (profile.compilation is not None or profile.sectioned)
    if sectioned != record.compilation:  # a store from before the profile said otherwise
        tx.set_membership(item_id, compilation=sectioned)
    since = now - timedelta(days=settings.window_days)
    outcome, _ = _link(tx, subject, settings, since, now, (*before, *mates))
    return outcome


def stored_subject(tx: Transaction, record: ItemRecord) -> Subject:
    """A stored item as a subject: its text read again for its profile."""
    from ingestd.dedup.normalize import read
    from ingestd.dedup.profile import text_profile
    from ingestd.dedup.signature import paragraph_words

    text = tx.item_text(record.id)
    arrays = tx.shingles([record.id]).get(record.id, ItemShingles(record.id, b"", b""))
    reading = read(text, record.title)
    profile = text_profile(reading, record.title, paragraph_words(reading.story))
    return Subject(
        record.id,
        record.feed_id,
        record.url_norm,
        record.canonical_norm,
        record.guid,
        record.body_hash,
        record.n_words,
        record.title,
        record.url,
        record.site_host,
        record.site_name,
        record.attribution,
        arrays.shingles,
        arrays.narrative,
        tuple(tx.item_keys(record.id)),
        text,
        profile,
        Quality(TextKind(record.quality), record.n_words, record.quality_note or ""),
    )


def _link(
    tx: Transaction,
    subject: Subject,
    settings: DedupSettings,
    since: datetime,
    now: datetime,
    seeds: tuple[int, ...],
) -> tuple[LinkOutcome, list[int]]:
    """Verdict, links and stories for ``subject``; returns its outcome and the items whose
    verdict its arrival may have changed."""
    holders = tx.key_holders(subject.keys, since, subject.id)
    identity = identity_candidates(tx, subject)
    site, revealed = site_evidence(tx, subject, holders, identity)
    quality = _verdict(subject, site)
    if (quality.kind, quality.note) != (subject.quality.kind, subject.quality.note):
        tx.set_membership(subject.id, quality=quality.kind.value, quality_note=quality.note)
    links = _identity_links(subject, quality.kind, identity)
    bodies = {record.id: record.body_hash for _, record in identity}
    linked = {link.item_a if link.item_b == subject.id else link.item_b for link in links}
    links += _near_links(tx, subject, quality.kind, site, holders, linked, settings, bodies)
    links = _kept_links(links, subject.id, bodies)
    tx.insert_links(links)
    others = [link.item_a if link.item_b == subject.id else link.item_b for link in links]
    cluster_id = None
    if others or seeds:  # a new item that links to nothing changes no story: most of them
        cluster_id = repartition(tx, [subject.id, *others, *seeds], settings, now).get(subject.id)
    outcome = LinkOutcome(
        subject.id,
        cluster_id,
        cluster_id is not None,
        compilation=quality.kind == TextKind.COMPILATION,
        quality=quality.kind.value,
    )
    return outcome, [item for item in dict.fromkeys(revealed) if item != subject.id]


def _link_order(link: LinkRecord) -> tuple[bool, bool, float, int, int]:
    """Identity links first, then strong ones, each by score (the ids only break ties)."""
    return (link.measure != "identity", not link.strong, -link.score, link.item_a, link.item_b)


def _kept_links(
    links: list[LinkRecord], subject: int, bodies: dict[int, str | None]
) -> list[LinkRecord]:
    """The :data:`MAX_LINKS` links to store: the best one to each distinct text first (twenty
    identical copies of one brief must not crowd out the one link to another story that shows
    a page holds two), then the best of the rest."""
    ordered = sorted(links, key=_link_order)
    seen: set[object] = set()
    first: list[LinkRecord] = []
    rest: list[LinkRecord] = []
    for link in ordered:
        other = link.item_a if link.item_b == subject else link.item_b
        text: object = bodies.get(other) or other
        (rest if text in seen else first).append(link)
        seen.add(text)
    return (first + rest)[:MAX_LINKS]


def _verdict(subject: Subject, site: SiteEvidence) -> Quality:
    if subject.profile is None:
        return subject.quality
    return assess(subject.profile, subject.title, subject.url, site)


# --- identity ---------------------------------------------------------------------------------


def identity_candidates(tx: Transaction, subject: Subject) -> list[tuple[str, ItemRecord]]:
    """Stored items with this item's URL, canonical page, GUID or body hash."""
    canonical = (
        subject.canonical_norm
        if subject.canonical_norm and not is_home_page(subject.canonical_norm)
        else None
    )
    pages = [value for value in (subject.url_norm, canonical) if value]
    guid = subject.guid if subject.guid and len(subject.guid) >= 8 else None
    text = subject.body_hash if subject.body_hash and subject.n_words >= MIN_HASH_WORDS else None
    values = {
        "url_norm": pages,
        "canonical_norm": pages,
        "guid": [guid] if guid else [],
        "body_hash": [text] if text else [],
    }
    return tx.identity_candidates(values, subject.id)


def _identity_links(
    subject: Subject, kind: TextKind, identity: list[tuple[str, ItemRecord]]
) -> list[LinkRecord]:
    """Strong links to the stored items that are this item by URL, canonical link, GUID or
    identical text (identical text only between texts that may link by text at all)."""
    found: dict[int, LinkRecord] = {}
    for column, record in identity:
        if record.split or record.id in found:
            continue
        reason = _identity_reason(column, record, subject)
        if reason is None:
            continue
        if reason == Reason.BODY_HASH and not _same_text_links(kind, TextKind(record.quality)):
            continue
        found[record.id] = _record(subject.id, record.id, True, None, reason, "identity", 1.0)
    return list(found.values())


def _same_text_links(first: TextKind, second: TextKind) -> bool:
    """Identical texts are one article when both are articles; two pages that are not (one
    stub body on many pages, one gallery template, two headline posts) are not copies."""
    return first.is_article and second.is_article


def _identity_reason(column: str, record: ItemRecord, subject: Subject) -> Reason | None:
    """Why a stored item found by the identity query is this item, if it is."""
    if column == "url_norm":
        return Reason.URL if record.url_norm == subject.url_norm else Reason.CANONICAL_LINK
    if column == "canonical_norm":
        if record.canonical_norm and is_home_page(record.canonical_norm):
            return None
        return Reason.CANONICAL_LINK
    if column == "guid":
        return None if record.feed_id == subject.feed_id else Reason.GUID
    return Reason.BODY_HASH


def _record(
    first: int,
    second: int,
    strong: bool,
    child: int | None,
    reason: Reason,
    measure: str,
    score: float,
) -> LinkRecord:
    a, b = sorted((first, second))
    return LinkRecord(a, b, strong, child, reason.value, measure, round(score, 4))


# --- near-duplicates --------------------------------------------------------------------------


def _near_links(
    tx: Transaction,
    subject: Subject,
    kind: TextKind,
    site: SiteEvidence,
    holders: dict[int, list[int]],
    linked: set[int],
    settings: DedupSettings,
    bodies: dict[int, str | None],
) -> list[LinkRecord]:
    """Links to the candidates found by shared keys, each verified by its text (``bodies``
    gets each candidate's body hash)."""
    ranked = [c for c in _ranked_candidates(holders, len(subject.keys)) if c not in linked]
    records = {record.id: record for record in tx.items(ranked)}
    bodies.update((record.id, record.body_hash) for record in records.values())
    arrays = tx.shingles(ranked)
    limits = thresholds(settings)
    template: np.ndarray | None = None
    found = []
    for candidate in ranked:
        record = records.get(candidate)
        if record is None or record.split or candidate not in arrays:
            continue
        one_site = bool(subject.site_host) and same_site(subject.site_host, record.site_host)
        if one_site and template is None:
            template = template_hashes(subject.text, site.template_keys, settings.shingle_words)
        shared = pair_overlap(tx, subject, arrays[candidate], template if one_site else None)
        decision = judge(shared, subject, kind, record, limits, one_site)
        if decision.link is not None:
            link = decision.link
            child = None if link.child is None else (subject.id, candidate)[link.child]
            found.append(
                _record(
                    subject.id, candidate, link.strong, child, link.reason, link.measure, link.score
                )
            )
    return found


def _ranked_candidates(holders: dict[int, list[int]], own_keys: int) -> list[int]:
    """Candidates by shared keys, the best :data:`MAX_CANDIDATES`: any shared LSH band, any
    shared paragraph opening, or two shared anchors (one for a text with fewer than four keys).
    A short excerpt stored before its article has one or two keys: the article, arriving later
    with many, still finds it by the opening they share."""
    found_by = count_by_kind(holders, MAX_KEY_ITEMS)
    needed = 1 if own_keys < 4 else 2
    scores = dict(found_by.get("b", {}))
    openings = found_by.get("p", {})
    excerpts: dict[int, int] = {}
    for kind in ("a", "p"):
        for candidate, shared in found_by.get(kind, {}).items():
            excerpts[candidate] = excerpts.get(candidate, 0) + shared
    for candidate, shared in excerpts.items():
        if shared >= needed or candidate in openings:
            scores[candidate] = scores.get(candidate, 0) + shared
    return sorted(scores, key=lambda c: (-scores[c], c))[:MAX_CANDIDATES]


def judge(
    found: Overlap,
    subject: Subject,
    kind: TextKind,
    record: ItemRecord,
    limits: Thresholds,
    one_site: bool,
) -> Decision:
    """How the subject links to a stored item, given their overlap."""
    mine = (subject.attribution, subject.site_host, subject.site_name)
    theirs = (record.attribution, record.site_host, record.site_name)
    return decide(
        found,
        Side(kind, credits_other_site(mine, theirs)),
        Side(TextKind(record.quality), credits_other_site(theirs, mine)),
        limits,
        same_site=one_site,
        same_headline=same_title(subject.title, record.title),
    )


def pair_overlap(
    tx: Transaction, subject: Subject, other: ItemShingles, template: np.ndarray | None
) -> Overlap:
    """Overlap of the subject with a stored item; for pages of one site, without the site's
    template (its repeated paragraphs, and text the pair shares with the site's other pages)."""
    if template is None:
        return overlap(subject.shingles, other.shingles, subject.narrative, other.narrative)
    assert subject.site_host is not None
    removed = np.union1d(template, _repeated_on_site(tx, subject, other))
    return overlap(
        without(subject.shingles, removed),
        without(other.shingles, removed),
        without(subject.narrative, removed),
        without(other.narrative, removed),
    )


def _repeated_on_site(tx: Transaction, subject: Subject, other: ItemShingles) -> np.ndarray:
    """Shingles the pair shares that also occur on two other recent pages of the site (not its
    compilations, which quote its stories): furniture that survived extraction. A page holding
    most of the shared text is a further copy of the story, not template, and is ignored."""
    assert subject.site_host is not None
    neighbours = tx.site_neighbours(subject.site_host, [subject.id, other.item_id])
    shared = np.intersect1d(
        as_hashes(subject.shingles), as_hashes(other.shingles), assume_unique=True
    )
    nothing = np.empty(0, dtype="<u4")
    if len(neighbours) < TEMPLATE_PAGES - 1 or not len(shared):
        return nothing
    found: list[np.ndarray] = []
    for neighbour in tx.shingles(neighbours).values():
        repeated = np.intersect1d(shared, as_hashes(neighbour.shingles), assume_unique=True)
        if len(repeated) < ANOTHER_COPY * len(shared):
            found.append(repeated)
    if len(found) < TEMPLATE_PAGES - 1:
        return nothing
    values, counts = np.unique(np.concatenate(found), return_counts=True)
    repeated_enough: np.ndarray = values[counts >= TEMPLATE_PAGES - 1]
    return repeated_enough
