"""Feed entries into item rows: their identity in a feed, and the row stored for each.

``Ready`` is an entry with its article and signature (or a stored item whose text it reuses,
for the same page reached from another feed); :func:`new_item` turns it into a
:class:`~ingestd.store.NewItem`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from ingestd.dedup.params import SignatureParams
from ingestd.dedup.quality import SiteEvidence, assess
from ingestd.model import Article, FeedEntry, ParsedFeed, Signature, TextKind
from ingestd.store import FeedRecord, NewItem, Transaction
from ingestd.urls import normalize_url, site_host


@dataclass(frozen=True)
class Ready:
    """A new entry with its article and signature, ready to store."""

    entry: FeedEntry
    entry_key: str
    article: Article | None  # None: reuse the stored item ``reuse_item``'s article
    signature: Signature | None
    final_url: str | None  # the link stored: the page's URL after redirects, or None
    reuse_item: int | None = None


def keyed_entries(parsed: ParsedFeed, limit: int) -> dict[str, FeedEntry]:
    """The first ``limit`` entries by their identity in the feed: GUID, else normalised URL,
    else title hash (a feed of 100,000 entries costs no more than one of ``limit``)."""
    keyed: dict[str, FeedEntry] = {}
    for entry in parsed.entries:
        if len(keyed) >= limit:
            break
        if entry.guid:
            key = entry.guid
        elif entry.url:
            key = normalize_url(entry.url)
        elif entry.title:
            key = "title:" + hashlib.blake2b(entry.title.encode(), digest_size=12).hexdigest()
        else:
            continue
        keyed.setdefault(key, entry)
    return keyed


def empty_signature() -> Signature:
    return Signature(
        body_hash="",
        n_words=0,
        shingles=b"",
        narrative=b"",
        minhash=b"",
        band_keys=(),
        anchor_keys=(),
        attribution=(),
    )


def new_item(
    tx: Transaction, feed: FeedRecord, parsed: ParsedFeed, ready: Ready, now: datetime
) -> tuple[NewItem, Signature]:
    """The row to insert for a prepared entry (reusing a stored item's text for the same URL)."""
    entry = ready.entry
    url = ready.final_url  # the entry's link if kept (ingestd.pipeline.poll.page_url)
    own_host = site_host(url) or site_host(parsed.site_url) or site_host(feed.site_url)
    if ready.reuse_item is not None:
        stored = tx.payload(ready.reuse_item)
        attribution = tuple(line for line in (stored.pop("attribution") or "").split("\n") if line)
        published = entry.published or stored.pop("published_at")
        stored.pop("published_at", None)
        stored["title"] = entry.title or stored["title"]
        item = NewItem(
            feed_id=feed.id,
            entry_key=ready.entry_key,
            guid=entry.guid,
            url=url,
            url_norm=normalize_url(url) if url else None,
            site_host=own_host,
            published_at=published,
            fetched_at=now,
            attribution=attribution,
            **stored,
        )
        return item, stored_signature(item)
    article, signature = ready.article, ready.signature
    assert article is not None and signature is not None
    canonical = article.canonical_url
    title = entry.title or article.title
    kind, note = TextKind.SHORT, "short: no text"
    if signature.profile is not None:  # the verdict on the text alone; linking adds the site's
        quality = assess(signature.profile, title, url, SiteEvidence())
        kind, note = quality.kind, quality.note
    item = NewItem(
        feed_id=feed.id,
        entry_key=ready.entry_key,
        guid=entry.guid,
        url=url,
        url_norm=normalize_url(url) if url else None,
        canonical_url=canonical,
        canonical_norm=normalize_url(canonical) if canonical else None,
        site_host=own_host or site_host(canonical),
        site_name=article.site_name or parsed.title or feed.name,
        title=title,
        published_at=entry.published or article.published,
        fetched_at=now,
        text=article.text,
        text_source=article.source,
        extract_note=article.note,
        body_hash=signature.body_hash or None,
        n_words=signature.n_words,
        shingles=signature.shingles,
        narrative=signature.narrative,
        minhash=signature.minhash,
        attribution=signature.attribution,
        compilation=signature.compilation_hint,
        quality=kind.value,
        quality_note=note,
    )
    return item, signature


def text_item(
    feed_id: int,
    entry_key: str,
    url: str,
    title: str,
    text: str,
    published: datetime | None,
    fetched: datetime,
    params: SignatureParams,
    *,
    guid: str | None = None,
) -> tuple[NewItem, Signature]:
    """The row to insert for a text that needs no extraction (a labelled article of
    ``ingest eval``, a benchmark's generated one): its signature, and its verdict on the text
    alone, as :func:`new_item` gives a fetched page's."""
    from ingestd.dedup.signature import make_signature  # numpy: only where texts are signed

    signature = make_signature(text, title, params)
    assert signature.profile is not None
    quality = assess(signature.profile, title, url, SiteEvidence())
    item = NewItem(
        feed_id=feed_id,
        entry_key=entry_key,
        guid=guid,
        url=url,
        url_norm=normalize_url(url),
        canonical_url=None,
        canonical_norm=None,
        site_host=site_host(url),
        site_name=None,
        title=title,
        published_at=published,
        fetched_at=fetched,
        text=text,
        text_source="page",
        extract_note=None,
        body_hash=signature.body_hash or None,
        n_words=signature.n_words,
        shingles=signature.shingles,
        narrative=signature.narrative,
        minhash=signature.minhash,
        attribution=signature.attribution,
        compilation=signature.compilation_hint,
        quality=quality.kind.value,
        quality_note=quality.note,
    )
    return item, signature


def stored_signature(item: NewItem) -> Signature:
    """A signature for an item that reuses another's text: no keys (the original has them)."""
    return Signature(
        body_hash=item.body_hash or "",
        n_words=item.n_words,
        shingles=item.shingles,
        narrative=item.narrative,
        minhash=item.minhash,
        band_keys=(),
        anchor_keys=(),
        attribution=item.attribution,
        compilation_hint=item.compilation,
    )
