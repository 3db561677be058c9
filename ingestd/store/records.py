"""Rows in and out of the store, as frozen dataclasses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ingestd.model import FeedOptions


@dataclass(frozen=True)
class FeedRecord:
    """A feed and its polling state."""

    id: int
    url: str
    name: str | None
    title: str | None
    site_url: str | None
    active: bool
    status: str
    interval_s: float | None
    etag: str | None
    last_modified: str | None
    body_hash: str | None
    next_poll_at: datetime | None
    last_polled_at: datetime | None
    consecutive_failures: int
    last_error: str | None
    failure_kind: str | None = None
    not_before_at: datetime | None = None
    body_fetched_at: datetime | None = None
    redirect_to: str | None = None
    redirect_seen: int = 0
    aliases: tuple[str, ...] = ()
    lease_owner: str | None = None
    lease_until: datetime | None = None
    source: str = "config"  # "config" ([[feeds]] in the file) or "cli" (ingest feeds add/import)
    folder: str | None = None  # OPML folder path, "/"-joined
    opml_text: str | None = None  # the OPML outline's text, when it differs from the name
    options: FeedOptions = field(default_factory=FeedOptions)
    recent_polls: str | None = None  # the schedule's memory (see schedule.encode_recent)


@dataclass(frozen=True)
class NewItem:
    """An item to insert, with its article and signature flattened."""

    feed_id: int
    entry_key: str
    guid: str | None
    url: str | None
    url_norm: str | None
    canonical_url: str | None
    canonical_norm: str | None
    site_host: str | None
    site_name: str | None
    title: str
    published_at: datetime | None
    fetched_at: datetime
    text: str
    text_source: str
    extract_note: str | None
    body_hash: str | None
    n_words: int
    shingles: bytes
    narrative: bytes
    minhash: bytes
    attribution: tuple[str, ...]
    compilation: bool
    quality: str = "article"  # a TextKind value (re-decided with the site's template at linking)
    quality_note: str | None = None


@dataclass(frozen=True)
class ItemRecord:
    """A stored item without its text and signature arrays (see ``Transaction.signatures``)."""

    id: int
    feed_id: int
    feed_url: str
    guid: str | None
    url: str | None
    url_norm: str | None
    canonical_url: str | None
    canonical_norm: str | None
    site_host: str | None
    site_name: str | None
    title: str
    published_at: datetime | None
    fetched_at: datetime
    text_source: str
    extract_note: str | None
    body_hash: str | None
    n_words: int
    attribution: tuple[str, ...]
    compilation: bool
    cluster_id: int | None
    role: str
    match_reason: str | None
    link_reason: str | None
    matched_item_id: int | None
    similarity: float | None
    similarity_measure: str | None
    split: bool
    quality: str = "article"
    quality_note: str | None = None

    @property
    def when(self) -> datetime:
        """Publication time, else the time it was fetched."""
        return self.published_at or self.fetched_at


@dataclass(frozen=True)
class ItemShingles:
    """An item's stored shingle arrays (for exact comparison)."""

    item_id: int
    shingles: bytes
    narrative: bytes


@dataclass(frozen=True)
class LinkRecord:
    """A link verified between two items (``item_a`` < ``item_b``); ``child`` is the contained
    item of a weak link, None for a strong one."""

    item_a: int
    item_b: int
    strong: bool
    child: int | None
    reason: str
    measure: str
    score: float


@dataclass(frozen=True)
class ClusterRecord:
    """A cluster of two or more items."""

    id: int
    canonical_item_id: int | None
    canonical_reason: str
    evidence: str
    pinned_item_id: int | None
    size: int
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class PollRecord:
    """The outcome of one feed poll, for the ``polls`` history."""

    feed_id: int
    started_at: datetime
    finished_at: datetime
    outcome: str
    status_code: int | None
    entries: int
    new_items: int
    republications: int
    error: str | None
