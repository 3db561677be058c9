"""What the store knows about an item's site: its template, and pages that are one stub.

A site repeats some paragraphs on most of its pages (an "about us" blurb, a gallery's
"more photos" block, a standard footer that survived extraction). They are not article text,
and two pages sharing them are not copies. A paragraph (by its opening words, the paragraph
keys of :mod:`ingestd.dedup.keys`) is the site's template for an item when at least
:data:`TEMPLATE_PAGES` - 1 other pages of the site carry it, not counting pages that carry half
or more of the item's paragraphs (those may be copies or versions of the item, not evidence of
a template), or when :data:`TEMPLATE_ANY_PAGES` - 1 other pages carry it, counting those too
(a page that is mostly template looks like a copy of every other such page, and a site seldom
carries that many versions of one story). A key carried by more items than a lookup follows is
a stock phrase and counts as template too. Pages of one site with the very same body under
other titles are one stub.

Learned from the pages stored so far, this would depend on arrival order: the first page of a
site would never know its template. So when a new page is the one that makes a paragraph a
template (the :data:`TEMPLATE_PAGES`-th page carrying it) or a body a stub, the pages that
already carried it are returned, to be linked again (:func:`ingestd.dedup.link.relink`).
The pages a site has stored in the window are the evidence, so a site's first pages are judged
again when its later pages arrive, whatever order they come in.
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

import numpy as np

from ingestd.dedup.headlines import same_title
from ingestd.dedup.normalize import read
from ingestd.dedup.quality import STUB_PAGES, SiteEvidence
from ingestd.dedup.signature import opening_key, shingle_hashes
from ingestd.model import TextKind
from ingestd.store import ItemRecord, Transaction
from ingestd.urls import same_site

if TYPE_CHECKING:
    from ingestd.dedup.link import Subject

TEMPLATE_PAGES = 3  # pages of a site carrying a paragraph that make it the site's template
TEMPLATE_ANY_PAGES = 6  # the same, counting pages that look like copies of the item too
MAX_KEY_ITEMS = 200  # holders beyond which a key is a stock phrase (as candidate lookups)


def site_evidence(
    tx: Transaction,
    subject: Subject,
    holders: dict[int, list[int]],
    identity: list[tuple[str, ItemRecord]],
) -> tuple[SiteEvidence, list[int]]:
    """The subject's site template and stub count, and the pages its arrival reveals them to."""
    if not subject.site_host or subject.profile is None:
        return SiteEvidence(), []
    keys = [key for key, _ in subject.profile.paragraph_words]
    template, revealed = _template(tx, subject.site_host, keys, holders)
    stubs = [
        record.id
        for column, record in identity
        if column == "body_hash"
        and same_site(subject.site_host, record.site_host)
        and subject.title
        and record.title
        and not same_title(subject.title, record.title)
    ]
    stubs = list(dict.fromkeys(stubs))
    if len(stubs) >= STUB_PAGES:  # the body is a stub: tell the pages not yet told
        told = {record.id for _, record in identity if record.quality == TextKind.STUB.value}
        revealed.extend(item for item in stubs if item not in told)
    return SiteEvidence(frozenset(template), len(stubs)), revealed


def _template(
    tx: Transaction, site: str, keys: list[int], holders: dict[int, list[int]]
) -> tuple[set[int], list[int]]:
    """The subject's paragraph keys that are its site's template, and the pages that carry a
    key this page turns into template."""
    stock = {key for key in keys if len(holders.get(key, ())) > MAX_KEY_ITEMS}
    carriers = {item for key in keys if key not in stock for item in holders.get(key, ())}
    if not carriers:
        return stock, []
    own = tx.on_site(site, carriers)
    shared = Counter(
        item for key in keys if key not in stock for item in holders.get(key, ()) if item in own
    )
    versions = {item for item, count in shared.items() if 2 * count >= len(keys)}
    template, revealed = set(stock), []
    for key in keys:
        carriers_of_key = [item for item in holders.get(key, ()) if item in own]
        others = [item for item in carriers_of_key if item not in versions]
        if len(others) >= TEMPLATE_PAGES - 1 or len(carriers_of_key) >= TEMPLATE_ANY_PAGES - 1:
            template.add(key)
        if _just_reached(len(others), TEMPLATE_PAGES) or _just_reached(
            len(carriers_of_key), TEMPLATE_ANY_PAGES
        ):
            revealed.extend(carriers_of_key)
    return template, revealed


REVEAL_BAND = 3  # counts past a threshold at which pages are still told (a count can jump)


def _just_reached(others: int, pages: int) -> bool:
    """Whether this page may be the one that made a paragraph carried by ``others`` other pages
    a template at ``pages`` pages. A count seen from this page can pass the threshold by more
    than one (pages it takes for its own copies are left out of it, not out of theirs), so
    the pages are told within a small band past it: a few more re-links, never every page of
    a site for every new page."""
    return pages - 1 <= others < pages - 1 + REVEAL_BAND


def template_hashes(text: str, template_keys: frozenset[int], shingle_words: int) -> np.ndarray:
    """The shingle hashes of the text's template paragraphs (uint32, sorted, distinct)."""
    if not template_keys:
        return np.empty(0, dtype=np.uint32)
    parts = [
        shingle_hashes(paragraph.words, shingle_words)
        for paragraph in read(text).story
        if opening_key(paragraph) in template_keys
    ]
    if not parts:
        return np.empty(0, dtype=np.uint32)
    return np.unique(np.concatenate(parts))
