"""One poll of one feed, end to end: fetch, parse, fetch and extract new entries, dedup, store.

The feed is fetched (conditionally); an answer that brings nothing new (304, or the same body)
only updates the feed's row. New entries' pages are fetched and extracted concurrently (each
request waits for its host's turn in the fetcher's frontier, never for another poll), CPU work
runs in the pool, and everything the poll stores goes in one transaction on the writer.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog

from ingestd.config import FeedConfig, Settings
from ingestd.dedup.params import signature_params
from ingestd.errors import StoreFullError
from ingestd.fetch import Fetcher
from ingestd.model import (
    Article,
    ExtractFailed,
    FailureKind,
    FeedEntry,
    FeedOptions,
    Fetched,
    FetchFailed,
    FetchResult,
    NotModified,
    ParsedFeed,
    ParseFailed,
    Validators,
)
from ingestd.pipeline import entries, work
from ingestd.pipeline.answers import Answer, AnswerBook
from ingestd.pipeline.events import PipelineEvents
from ingestd.pipeline.outcome import PollOutcome
from ingestd.polling import feedrows, feedstate
from ingestd.polling.schedule import RecentPoll
from ingestd.store import FeedRecord, PollRecord, Transaction
from ingestd.store.upkeep import forget_pruned
from ingestd.urls import authority, normalize_url, web_url

log = structlog.get_logger("ingestd.poll")
_T = TypeVar("_T")
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json,"
    " application/xml;q=0.9, text/xml;q=0.8, application/json;q=0.8, */*;q=0.5"
)
PAGE_ACCEPT = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"

Db = Callable[..., Awaitable[Any]]  # Pipeline.db: fn(tx) on the writer, ``write=`` keyword
Cpu = Callable[..., Awaitable[Any]]  # CpuPool.run: fn(*args) in the process pool


class Poller:
    """Polls one feed at a time on behalf of a pass (any number of polls at once)."""

    def __init__(self, settings: Settings, events: PipelineEvents, db: Db, cpu: Cpu) -> None:
        self.settings = settings
        self.events = events
        self.db = db
        self.cpu = cpu
        self.params = signature_params(settings.dedup)
        self.feed_configs = {feed.url: feed for feed in settings.feeds}
        self.answers = AnswerBook(db, settings.schedule)

    async def poll(
        self, feed: FeedRecord, fetcher: Fetcher, on_start: Callable[[], None] | None = None
    ) -> PollOutcome:
        """Poll one feed; never raises for the feed's own problems (they are recorded on it).
        A full store (:class:`StoreFullError`) is the store's failure: it is raised, and
        nothing is recorded on the feed. ``on_start`` is called when the feed's own request
        is about to go (until then the poll has done nothing and may be cancelled)."""
        started = datetime.now(UTC)
        clock = time.perf_counter()
        if feed.next_poll_at is not None:
            self.events.poll_late(max(0.0, (started - feed.next_poll_at).total_seconds()))
        structlog.contextvars.bind_contextvars(feed=feed.url)
        try:
            outcome = await self._poll(feed, fetcher, started, on_start)
        except StoreFullError:
            raise
        except Exception as exc:  # the per-feed guard: record, log, carry on with other feeds
            error = f"internal error: {type(exc).__name__}: {exc}"
            log.exception("poll crashed", feed=feed.url)
            outcome = PollOutcome(feed.url, "failed", error=error)
            await self._record_failure(
                feed, started, FetchFailed(feed.url, FailureKind.PERMANENT, error)
            )
        finally:
            structlog.contextvars.unbind_contextvars("feed")
        elapsed_s = time.perf_counter() - clock
        self.events.poll_finished(
            feed.url, outcome.outcome, outcome.new_items, outcome.republications, elapsed_s
        )
        log.info(
            "poll",
            feed=feed.url,
            outcome=outcome.outcome,
            entries=outcome.entries,
            new=outcome.new_items,
            republications=outcome.republications,
            error=outcome.error,
            duration_ms=round(elapsed_s * 1000),
        )
        return outcome

    def _options(self, feed: FeedRecord, url: str) -> FeedOptions:
        """The feed's own settings for a request to ``url``: its extra headers only to the
        feed's own host (never to the sites its entries link to)."""
        options = feed.options
        if options.allow_private_networks is None:
            config = self.feed_configs.get(feed.url, FeedConfig(feed.url))
            options = replace(options, allow_private_networks=config.allow_private_networks)
        if options.headers and authority(url) != authority(feed.url):
            options = replace(options, headers=())
        return options

    async def _fetch(
        self, fetcher: Fetcher, kind: str, url: str, feed: FeedRecord, **options: Any
    ) -> FetchResult:
        """Fetch through ``fetcher`` and report the outcome and duration to the observers."""
        clock = time.perf_counter()
        own = self._options(feed, url)
        private = own.allow_private_networks
        result = await fetcher.fetch(url, allow_private=private, options=own, **options)
        outcome = {Fetched: "ok", NotModified: "not_modified"}.get(type(result), "failed")
        self.events.fetch_finished(kind, outcome, time.perf_counter() - clock)
        return result

    async def _poll(
        self,
        feed: FeedRecord,
        fetcher: Fetcher,
        started: datetime,
        on_start: Callable[[], None] | None,
    ) -> PollOutcome:
        unconditional = feedstate.wants_unconditional(feed, started)
        validators = None if unconditional else Validators(feed.etag, feed.last_modified)
        result = await self._fetch(
            fetcher,
            "feed",
            feed.url,
            feed,
            validators=validators,
            accept=FEED_ACCEPT,
            on_start=on_start,
        )
        if isinstance(result, FetchFailed):
            await self._record_failure(feed, started, result)
            return PollOutcome(feed.url, "failed", error=result.reason)
        if isinstance(result, NotModified):
            await self._record_answer(feed, started, result, "not_modified")
            return PollOutcome(feed.url, "not_modified")
        body_hash = hashlib.blake2b(result.body, digest_size=16).hexdigest()
        if body_hash == feed.body_hash:
            await self._record_answer(feed, started, result, "unchanged")
            return PollOutcome(feed.url, "unchanged")
        parsed = await self.cpu(work.parse_job, result.body, result.url, result.content_type)
        if isinstance(parsed, ParseFailed):
            failure = FetchFailed(
                feed.url,
                FailureKind.PERMANENT,
                f"parse: {parsed.reason} at {feed.url}",
                status=result.status,
            )
            await self._record_failure(feed, started, failure)
            return PollOutcome(feed.url, "failed", error=failure.reason)
        return await self._ingest(feed, fetcher, started, result, body_hash, parsed)

    async def _ingest(
        self,
        feed: FeedRecord,
        fetcher: Fetcher,
        started: datetime,
        result: Fetched,
        body_hash: str,
        parsed: ParsedFeed,
    ) -> PollOutcome:
        keyed = entries.keyed_entries(parsed, self.settings.extract.max_entries)
        fresh, stored = await self.db(lambda tx: _fresh_entries(tx, feed, keyed), write=False)
        ready = await asyncio.gather(
            *(self._prepare(feed, key, entry, fetcher, stored) for key, entry in fresh)
        )
        new, republications = await self.db(
            lambda tx: self._write_poll(tx, feed, started, result, body_hash, parsed, ready)
        )
        return PollOutcome(
            feed.url, "new" if new else "unchanged", len(parsed.entries), new, republications
        )

    async def _prepare(
        self,
        feed: FeedRecord,
        key: str,
        entry: FeedEntry,
        fetcher: Fetcher,
        stored: Mapping[str, int],
    ) -> entries.Ready:
        """Fetch and extract the entry's page, falling back to the feed's own content; or reuse
        the stored item of the same page (``stored``: its id by entry key) instead."""
        url = page_url(feed, entry)
        if url and (reuse := stored.get(key)) is not None:
            return entries.Ready(entry, key, None, None, url, reuse_item=reuse)
        note = _dropped_link(entry.url) if entry.url and not url else "the entry has no link"
        extract, own = self.settings.extract, feed.options
        fetch_pages = extract.fetch_pages if own.fetch_pages is None else own.fetch_pages
        if url and fetch_pages:
            page = await self._fetch(fetcher, "page", url, feed, accept=PAGE_ACCEPT)
            if isinstance(page, Fetched):
                favor = own.favor or extract.favor
                prepared = await self.cpu(
                    work.page_job, page.body, page.url, favor, extract.fast, self.params
                )
                if not isinstance(prepared, ExtractFailed):
                    return entries.Ready(entry, key, prepared[0], prepared[1], page.url)
                note = f"extract: {prepared.reason} at {page.url}"
                self.events.extraction_failed(prepared.reason)
            else:
                note = f"fetch: {page.reason}" if isinstance(page, FetchFailed) else "fetch: 304"
        elif url:
            note = "page fetching is off ([extract] fetch_pages = false)"
        fallback = await self.cpu(
            work.feed_content_job, entry.content_html, entry.title, note, self.params
        )
        if isinstance(fallback, ExtractFailed):
            log.warning("entry without text", entry=url, reason=fallback.reason)
            empty = Article("", entry.title, None, None, None, source="feed", note=fallback.reason)
            return entries.Ready(entry, key, empty, entries.empty_signature(), url)
        return entries.Ready(entry, key, fallback[0], fallback[1], url)

    def _write_poll(
        self,
        tx: Transaction,
        feed: FeedRecord,
        started: datetime,
        result: Fetched,
        body_hash: str,
        parsed: ParsedFeed,
        ready: list[entries.Ready],
    ) -> tuple[int, int]:
        """Store a poll's new items, link them, and update the feed: one transaction."""
        from ingestd.dedup.link import link_new_item  # numpy: only once there is something new

        tx.lock_dedup()
        now = datetime.now(UTC)
        still_new = tx.known_entry_keys(feed.id, [r.entry_key for r in ready])
        listed = entries.keyed_entries(parsed, self.settings.extract.max_entries)
        forget_pruned(tx, feed.id, listed)  # retention's tombstones of entries no longer listed
        new = republications = 0
        ordered = sorted(ready, key=lambda r: (r.entry.published or now, r.entry_key))
        for prepared in ordered:
            if prepared.entry_key in still_new:
                continue  # another worker stored it meanwhile
            item, signature = entries.new_item(tx, feed, parsed, prepared, now)
            item_id = tx.insert_item(item)
            outcome = link_new_item(tx, item_id, item, signature, self.settings.dedup, now)
            new += 1
            republications += outcome.republication
        values = feedstate.after_answer(
            feed,
            result,
            self.settings.schedule,
            now,
            feedrows.recent(tx, feed),
            parsed,
            RecentPoll(new, republications),
        )
        values.update(
            title=parsed.title or feed.title, site_url=parsed.site_url, body_hash=body_hash
        )
        feedrows.update_feed(tx, feed, values)
        poll = PollRecord(
            feed.id,
            started,
            now,
            "new" if new else "unchanged",
            result.status,
            len(parsed.entries),
            new,
            republications,
            None,
        )
        tx.insert_poll(poll)
        return new, republications

    async def _record_answer(
        self, feed: FeedRecord, started: datetime, result: Fetched | NotModified, outcome: str
    ) -> None:
        """Record a poll that stored nothing new (304, or an unchanged body), in a batch."""
        await self.answers.record(Answer(feed, started, result, outcome))

    async def _record_failure(
        self, feed: FeedRecord, started: datetime, failure: FetchFailed
    ) -> None:
        """Record a failed poll on the feed: class, backoff, Retry-After (widened to the host
        when several of its feeds are rate-limited)."""

        def write(tx: Transaction) -> None:
            now = datetime.now(UTC)
            current = tx.feed(feed.id) or feed
            values = feedstate.after_failure(current, failure, self.settings.schedule, now)
            tx.update_feed(feed.id, **values)
            tx.insert_poll(
                PollRecord(feed.id, started, now, "failed", failure.status, 0, 0, 0, failure.reason)
            )
            if failure.kind is FailureKind.RATE_LIMITED and values.get("not_before_at"):
                feedrows.widen_rate_limit(tx, feed, values["not_before_at"], now)

        await self.db(write)


_REUSABLE_SCHEMES = ("http", "https", "file")  # links whose stored page an entry may reuse


def page_url(feed: FeedRecord, entry: FeedEntry) -> str | None:
    """The entry's link as stored and fetched: an http(s) URL, or a ``file:`` URL in a
    ``file:`` feed (a remote feed's ``file:`` link is never read). Any other link
    (``javascript:``, ``data:``, ...) is dropped: feed text is hostile, and ingestd serves
    and shows the links it stores."""
    url = entry.url
    if url and url.startswith("file:") and feed.url.startswith("file:"):
        return url
    return web_url(url)


def _dropped_link(url: str) -> str:
    """The note stored on an item whose entry's link was dropped."""
    scheme = url.partition(":")[0].lower() if ":" in url else "relative"
    if len(scheme) > 20 or not scheme.replace("+", "").replace("-", "").isalnum():
        scheme = "unusable"
    return f"the entry's {scheme}: link was dropped (only http and https links are kept)"


def _fresh_entries(
    tx: Transaction, feed: FeedRecord, keyed: Mapping[str, FeedEntry]
) -> tuple[list[tuple[str, FeedEntry]], dict[str, int]]:
    """The entries the feed does not have yet (stored or pruned), and for those whose page is
    already stored, from this feed or another, that item's id by entry key (one query each)."""
    known = tx.known_entry_keys(feed.id, keyed)
    fresh = [(key, entry) for key, entry in keyed.items() if key not in known]
    norms: dict[str, str] = {}
    for key, entry in fresh:
        url = page_url(feed, entry)
        if url and url.split(":", 1)[0] in _REUSABLE_SCHEMES:
            norms[key] = normalize_url(url)
    stored = tx.first_items_by_url(norms.values()) if norms else {}
    return fresh, {key: stored[norm] for key, norm in norms.items() if norm in stored}
