"""One feed poll, end to end: fetch, parse, fetch and extract new entries, dedup, store.

Network I/O runs concurrently on the event loop; parsing, extraction and signatures run in a
process pool; every database access goes through one writer thread, and each poll's results are
written in one transaction (so a crash never leaves half a poll behind).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import structlog

from ingestd import schedule, work
from ingestd.config import FeedConfig, Settings
from ingestd.dedup.signature import SignatureParams
from ingestd.events import NoEvents, PipelineEvents
from ingestd.fetch import Fetcher
from ingestd.linking import link_new_item
from ingestd.model import (
    Article,
    ExtractFailed,
    FailureKind,
    FeedEntry,
    Fetched,
    FetchFailed,
    FetchResult,
    NotModified,
    ParsedFeed,
    ParseFailed,
    Signature,
    Validators,
)
from ingestd.store import FeedRecord, NewItem, PollRecord, Store, Transaction
from ingestd.urls import normalize_url, site_host

log = structlog.get_logger("ingestd.poll")
_T = TypeVar("_T")
FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/xml;q=0.9,"
    " text/xml;q=0.8, */*;q=0.5"
)


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one feed did."""

    feed_url: str
    outcome: str  # new, unchanged, not_modified, failed
    entries: int = 0
    new_items: int = 0
    republications: int = 0
    error: str | None = None


@dataclass
class RunSummary:
    """Totals of one pass over the due feeds."""

    feeds_polled: int = 0
    new_items: int = 0
    republications: int = 0
    failures: int = 0
    outcomes: list[PollOutcome] = field(default_factory=list)

    def add(self, outcome: PollOutcome) -> None:
        self.feeds_polled += 1
        self.new_items += outcome.new_items
        self.republications += outcome.republications
        self.failures += outcome.outcome == "failed"
        self.outcomes.append(outcome)

    def line(self) -> str:
        feeds = "feed" if self.feeds_polled == 1 else "feeds"
        return (
            f"polled {self.feeds_polled} {feeds}: {self.new_items} new items, "
            f"{self.republications} republications linked, {self.failures} failures"
        )


@dataclass(frozen=True)
class _Ready:
    """A new entry with its article and signature, ready to store."""

    entry: FeedEntry
    entry_key: str
    article: Article | None  # None: reuse the stored item ``reuse_item``'s article
    signature: Signature | None
    final_url: str | None
    reuse_item: int | None = None


class Pipeline:
    """Polls feeds with a fetcher, a CPU pool and a store. One per process."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        pool: Executor,
        events: PipelineEvents | None = None,
    ) -> None:
        self.settings = settings
        self.events: PipelineEvents = events or NoEvents()
        self.store = store
        self.pool = pool
        self.writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingestd-writer")
        self.params = SignatureParams(
            settings.dedup.shingle_words,
            settings.dedup.num_perm,
            settings.dedup.bands,
            settings.dedup.anchor_every,
        )
        self.feed_configs = {feed.url: feed for feed in settings.feeds}

    async def db(self, fn: Callable[[Transaction], _T], write: bool = True) -> _T:
        """Run ``fn`` in one transaction on the writer thread."""

        def run() -> _T:
            with self.store.transaction(write=write) as tx:
                return fn(tx)

        return await asyncio.get_running_loop().run_in_executor(self.writer, run)

    async def cpu(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self.pool, partial(fn, *args))

    async def sync_feeds(self) -> None:
        feeds = self.settings.feeds
        await self.db(lambda tx: tx.sync_feeds(feeds, datetime.now(UTC)))

    async def run_due(self, fetcher: Fetcher) -> RunSummary:
        """Poll every due feed once, concurrently (the fetcher bounds the concurrency)."""
        now = datetime.now(UTC)
        due = await self.db(lambda tx: tx.due_feeds(now), write=False)
        self.events.pass_started(len(due))
        summary = RunSummary()
        for outcome in await asyncio.gather(*(self.poll(feed, fetcher) for feed in due)):
            summary.add(outcome)
        await self.prune_index()
        return summary

    async def prune_index(self) -> int:
        """Drop the dedup keys of items stored before the window, in small transactions."""
        before = datetime.now(UTC) - timedelta(days=self.settings.dedup.window_days)
        total = 0
        while pruned := await self.db(lambda tx: tx.prune_keys(before)):
            total += pruned
        if total:
            log.info("pruned dedup keys", items=total)
        return total

    def _allow_private(self, feed: FeedRecord) -> bool | None:
        config = self.feed_configs.get(feed.url, FeedConfig(feed.url))
        return config.allow_private_networks

    async def poll(self, feed: FeedRecord, fetcher: Fetcher) -> PollOutcome:
        """Poll one feed; never raises for the feed's own problems (they are recorded on it)."""
        started = datetime.now(UTC)
        clock = time.perf_counter()
        structlog.contextvars.bind_contextvars(feed=feed.url)
        try:
            outcome = await self._poll(feed, fetcher, started)
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

    async def _fetch(
        self, fetcher: Fetcher, kind: str, url: str, feed: FeedRecord, **options: Any
    ) -> FetchResult:
        """Fetch through ``fetcher`` and report the outcome and duration to the observers."""
        clock = time.perf_counter()
        result = await fetcher.fetch(url, allow_private=self._allow_private(feed), **options)
        outcome = {Fetched: "ok", NotModified: "not_modified"}.get(type(result), "failed")
        self.events.fetch_finished(kind, outcome, time.perf_counter() - clock)
        return result

    async def _poll(self, feed: FeedRecord, fetcher: Fetcher, started: datetime) -> PollOutcome:
        validators = _validators(feed)
        result = await self._fetch(
            fetcher, "feed", feed.url, feed, validators=validators, accept=FEED_ACCEPT
        )
        if isinstance(result, FetchFailed):
            await self._record_failure(feed, started, result)
            return PollOutcome(feed.url, "failed", error=result.reason)
        if isinstance(result, NotModified):
            await self._record_quiet(feed, started, "not_modified", None)
            return PollOutcome(feed.url, "not_modified")
        body_hash = hashlib.blake2b(result.body, digest_size=16).hexdigest()
        if body_hash == feed.body_hash:
            await self._record_quiet(feed, started, "unchanged", result)
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
        keyed = _keyed_entries(parsed)
        known = await self.db(lambda tx: tx.known_entry_keys(feed.id, keyed), write=False)
        fresh = [(key, entry) for key, entry in keyed.items() if key not in known]
        ready = await asyncio.gather(
            *(self._prepare(feed, key, entry, fetcher) for key, entry in fresh)
        )
        new, republications = await self.db(
            lambda tx: self._write_poll(tx, feed, started, result, body_hash, parsed, ready)
        )
        return PollOutcome(
            feed.url, "new" if new else "unchanged", len(parsed.entries), new, republications
        )

    async def _prepare(
        self, feed: FeedRecord, key: str, entry: FeedEntry, fetcher: Fetcher
    ) -> _Ready:
        """Fetch and extract the entry's page, falling back to the feed's own content."""
        url = entry.url
        if url and url.startswith("file:") and not feed.url.startswith("file:"):
            url = None  # a remote feed must not make us read local files
        if url and url.split(":", 1)[0] in ("http", "https", "file"):
            norm = normalize_url(url)
            reuse = await self.db(lambda tx: tx.items_matching("url_norm", norm), write=False)
            if reuse:
                return _Ready(entry, key, None, None, url, reuse_item=reuse[0].id)
        note = "the entry has no link"
        if url and self.settings.extract.fetch_pages:
            page = await self._fetch(
                fetcher, "page", url, feed, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
            )
            if isinstance(page, Fetched):
                prepared = await self.cpu(
                    work.page_job, page.body, page.url, self.settings.extract.favor, self.params
                )
                if not isinstance(prepared, ExtractFailed):
                    return _Ready(entry, key, prepared[0], prepared[1], page.url)
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
            return _Ready(entry, key, empty, _empty_signature(), url)
        return _Ready(entry, key, fallback[0], fallback[1], url)

    def _write_poll(
        self,
        tx: Transaction,
        feed: FeedRecord,
        started: datetime,
        result: Fetched,
        body_hash: str,
        parsed: ParsedFeed,
        ready: list[_Ready],
    ) -> tuple[int, int]:
        """Store a poll's new items, link them, and update the feed: one transaction."""
        tx.lock_dedup()
        now = datetime.now(UTC)
        still_new = tx.known_entry_keys(feed.id, [r.entry_key for r in ready])
        new = republications = 0
        ordered = sorted(ready, key=lambda r: (r.entry.published or now, r.entry_key))
        for prepared in ordered:
            if prepared.entry_key in still_new:
                continue  # another worker stored it meanwhile
            item, signature = _new_item(tx, feed, parsed, prepared, now)
            item_id = tx.insert_item(item)
            outcome = link_new_item(tx, item_id, item, signature, self.settings.dedup, now)
            new += 1
            republications += outcome.republication
        every = schedule.interval_s(feed.interval_s, self.settings.schedule, parsed.ttl_s)
        tx.update_feed(
            feed.id,
            title=parsed.title or feed.title,
            site_url=parsed.site_url,
            etag=result.validators.etag,
            last_modified=result.validators.last_modified,
            body_hash=body_hash,
            status="ok",
            consecutive_failures=0,
            last_error=None,
            last_polled_at=now,
            last_success_at=now,
            next_poll_at=schedule.next_success(now, every),
        )
        tx.insert_poll(
            PollRecord(
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
        )
        return new, republications

    async def _record_quiet(
        self, feed: FeedRecord, started: datetime, outcome: str, result: Fetched | None
    ) -> None:
        every = schedule.interval_s(feed.interval_s, self.settings.schedule)

        def write(tx: Transaction) -> None:
            now = datetime.now(UTC)
            values: dict[str, Any] = {}
            if result is not None:
                values = {
                    "etag": result.validators.etag,
                    "last_modified": result.validators.last_modified,
                }
            tx.update_feed(
                feed.id,
                status="ok",
                consecutive_failures=0,
                last_error=None,
                last_polled_at=now,
                last_success_at=now,
                next_poll_at=schedule.next_success(now, every),
                **values,
            )
            tx.insert_poll(
                PollRecord(
                    feed.id, started, now, outcome, result.status if result else 304, 0, 0, 0, None
                )
            )

        await self.db(write)

    async def _record_failure(
        self, feed: FeedRecord, started: datetime, failure: FetchFailed
    ) -> None:
        every = schedule.interval_s(feed.interval_s, self.settings.schedule)

        def write(tx: Transaction) -> None:
            now = datetime.now(UTC)
            current = tx.feed(feed.id)
            failures = (current.consecutive_failures if current else 0) + 1
            status = "gone" if failure.status == 410 else "failing"
            tx.update_feed(
                feed.id,
                status=status,
                consecutive_failures=failures,
                last_error=failure.reason,
                last_polled_at=now,
                next_poll_at=schedule.next_failure(now, every, failures, failure.retry_after_s),
            )
            tx.insert_poll(
                PollRecord(feed.id, started, now, "failed", failure.status, 0, 0, 0, failure.reason)
            )

        await self.db(write)

    def close(self) -> None:
        self.writer.shutdown(wait=True)


def _validators(feed: FeedRecord) -> Validators:
    return Validators(feed.etag, feed.last_modified)


def _keyed_entries(parsed: ParsedFeed) -> dict[str, FeedEntry]:
    """Entries by their identity in the feed: GUID, else normalised URL, else title hash."""
    keyed: dict[str, FeedEntry] = {}
    for entry in parsed.entries:
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


def _empty_signature() -> Signature:
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


def _new_item(
    tx: Transaction, feed: FeedRecord, parsed: ParsedFeed, ready: _Ready, now: datetime
) -> tuple[NewItem, Signature]:
    """The row to insert for a prepared entry (reusing a stored item's text for the same URL)."""
    entry = ready.entry
    url = ready.final_url or entry.url
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
        return item, _stored_signature(item)
    article, signature = ready.article, ready.signature
    assert article is not None and signature is not None
    canonical = article.canonical_url
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
        title=entry.title or article.title,
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
    )
    return item, signature


def _stored_signature(item: NewItem) -> Signature:
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
