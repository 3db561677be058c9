"""Frozen values that cross module boundaries.

Third-party objects (aiohttp responses, feedparser dicts, trafilatura documents, MinHash objects,
SQLAlchemy rows) never leave the module that uses them: these dataclasses do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

# --- per-feed settings --------------------------------------------------------------------


@dataclass(frozen=True)
class FeedOptions:
    """A feed's own settings (``[[feeds]]`` keys, ``feeds add`` options); None: the global one.

    ``headers`` are extra request headers (a cookie for a subscriber-only feed): they are sent
    with the feed's own requests and never shown (left out of ``repr``, logs and listings).
    """

    user_agent: str | None = None
    fetch_pages: bool | None = None
    favor: str | None = None  # "precision", "balanced" or "recall"
    allow_private_networks: bool | None = None
    headers: tuple[tuple[str, str], ...] = field(default=(), repr=False)

    def public(self) -> dict[str, object]:
        """The settings that may be shown (no headers), those set only."""
        values = {
            "user_agent": self.user_agent,
            "fetch_pages": self.fetch_pages,
            "favor": self.favor,
            "allow_private_networks": self.allow_private_networks,
        }
        return {key: value for key, value in values.items() if value is not None}


# --- fetch -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Validators:
    """HTTP cache validators remembered from the last successful fetch of a URL."""

    etag: str | None = None
    last_modified: str | None = None


class FailureKind(enum.StrEnum):
    """How a failed fetch should be treated by the scheduler."""

    TRANSIENT = "transient"  # timeout, connection error, 5xx
    RATE_LIMITED = "rate_limited"  # 429, or 503 with Retry-After
    PERMANENT = "permanent"  # 404, 410, blocked address, body too large, bad URL


@dataclass(frozen=True)
class Fetched:
    """A successful response: the (decoded) body and what is needed to fetch it again."""

    url: str  # the final URL after redirects
    status: int
    body: bytes
    content_type: str | None
    validators: Validators
    headers: dict[str, str] = field(default_factory=dict)
    moved_to: str | None = None  # every redirect hop was permanent (301/308): the new URL


@dataclass(frozen=True)
class NotModified:
    """The server answered 304 to a conditional request."""

    url: str
    moved_to: str | None = None  # every redirect hop was permanent (301/308): the new URL


@dataclass(frozen=True)
class FetchFailed:
    """A fetch that produced no usable body, with the reason in words."""

    url: str
    kind: FailureKind
    reason: str
    status: int | None = None
    retry_after_s: float | None = None


FetchResult = Fetched | NotModified | FetchFailed

# --- parse -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed, as published."""

    guid: str | None
    url: str | None  # absolute
    title: str
    published: datetime | None  # timezone-aware UTC
    content_html: str  # the entry's own content or summary (may be empty)


@dataclass(frozen=True)
class ParsedFeed:
    """A parsed feed document."""

    title: str
    site_url: str | None  # the channel's <link>
    entries: tuple[FeedEntry, ...]
    ttl_s: int | None = None  # RSS <ttl>, in seconds
    update_period_s: float | None = None  # sy:updatePeriod / sy:updateFrequency, in seconds


@dataclass(frozen=True)
class ParseFailed:
    """The body is not a feed we can read."""

    reason: str


# --- extract -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Article:
    """The article text of a page (or of a feed entry when the page was unusable)."""

    text: str  # paragraphs separated by newlines
    title: str
    canonical_url: str | None  # rel=canonical or og:url, absolute
    published: datetime | None
    site_name: str | None
    source: str = "page"  # "page" or "feed"
    note: str | None = None  # why the feed's content was used instead of the page


@dataclass(frozen=True)
class ExtractFailed:
    """Extraction produced no usable text."""

    reason: str


# --- dedup -------------------------------------------------------------------------------


@dataclass(frozen=True)
class TextProfile:
    """What a text is made of, in words (tokens), for the article-ness verdict.

    ``paragraph_words`` pairs each keyed story paragraph's key (its opening, see
    :mod:`ingestd.dedup.keys`) with its words, so that paragraphs a site repeats on its other
    pages (its template) can be taken out of the count. ``compilation`` says why the text reads
    as a digest, live page or running file, or is None.
    """

    story_words: int = 0  # words of the story paragraphs (captions and furniture dropped)
    caption_paragraphs: int = 0
    caption_words: int = 0
    headline_lines: int = 0  # story paragraphs that read as headlines or link lines
    headline_words: int = 0
    paragraph_words: tuple[tuple[int, int], ...] = ()
    compilation: str | None = None
    sectioned: bool = False  # five headlines or more, each over a short story (a digest, or not)


@dataclass(frozen=True)
class Signature:
    """Everything dedup needs to compare one text with others.

    ``shingles`` is a sorted array of distinct 32-bit shingle hashes (little-endian uint32),
    ``narrative`` the same for the text outside quotations, ``minhash`` the MinHash values
    (uint32), ``band_keys`` the LSH keys and ``anchor_keys`` sampled shingle hashes and
    paragraph openings that find excerpts Jaccard would miss (integer keys, see
    :mod:`ingestd.dedup.keys`).
    """

    body_hash: str
    n_words: int
    shingles: bytes
    narrative: bytes  # shingle hashes of the text outside quotation marks
    minhash: bytes
    band_keys: tuple[int, ...]
    anchor_keys: tuple[int, ...]
    attribution: tuple[str, ...]  # hosts or outlet names an attribution line credits
    compilation_hint: bool = False  # the text looks like a digest or live file (or is sectioned)
    profile: TextProfile | None = None  # None: the text's profile is not known (a stored copy)


class TextKind(enum.StrEnum):
    """The article-ness verdict on an item's text (:mod:`ingestd.dedup.quality`)."""

    ARTICLE = "article"
    COMPILATION = "compilation"  # several stories: a digest, live page or running file
    SHORT = "short"  # too little article text to judge (a headline post, a failed scrape)
    GALLERY = "gallery"  # mostly photo captions and credit lines
    LISTING = "listing"  # mostly headlines and link lines
    STUB = "stub"  # one body on several pages of a site under other titles (share pages)

    @property
    def is_article(self) -> bool:
        """Articles and compilations link by their text; the others only as verbatim copies."""
        return self in (TextKind.ARTICLE, TextKind.COMPILATION)


class Role(enum.StrEnum):
    """An item's place in its story."""

    SINGLE = "single"
    CANONICAL = "canonical"
    REPUBLICATION = "republication"


class Reason(enum.StrEnum):
    """Why an item was linked to a story."""

    URL = "url"
    GUID = "guid"
    BODY_HASH = "body_hash"
    CANONICAL_LINK = "canonical_link"
    ATTRIBUTION = "attribution"
    MINHASH = "minhash"
    OPERATOR = "operator"  # an operator merged them (ingest clusters merge)
