"""One feed poll, end to end: fetch, parse, fetch and extract new entries, dedup, store.

Network I/O runs concurrently on the event loop; parsing, extraction and signatures run in a
process pool; every database access goes through one writer thread, and each poll's results are
written in one transaction, shared with the other polls' writes queued beside them (so a crash
never leaves half a poll behind).
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import socket
import time
from collections.abc import Callable, Mapping
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

import structlog

from ingestd import entries, feedrows, feedstate, schedule, work
from ingestd.config import FeedConfig, Settings
from ingestd.dedup.params import signature_params
from ingestd.errors import NotFoundError, StoreError, StoreFullError
from ingestd.events import NoEvents, PipelineEvents
from ingestd.fetch import Fetcher
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
    Validators,
)
from ingestd.store import FeedRecord, PollRecord, Store, Transaction
from ingestd.store.upkeep import forget_pruned
from ingestd.urls import normalize_url, web_url
from ingestd.writer import Writer

log = structlog.get_logger("ingestd.poll")
_T = TypeVar("_T")
SLOT_POLL_S = 0.05  # how often a worker looks for a free shared per-host request slot
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


class Pipeline:
    """Polls feeds with a fetcher, a CPU pool and a store. One per process."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        pool: Executor,
        events: PipelineEvents | None = None,
        pool_factory: Callable[[], Executor] | None = None,
    ) -> None:
        """``pool_factory`` makes a new CPU pool when a worker process dies (killed, out of
        memory, a crash in a C extension): a daemon must not stay broken for the rest of its
        life because one job took its worker down."""
        self.settings = settings
        self.pool_factory = pool_factory
        self.events: PipelineEvents = events or NoEvents()
        self.store = store
        self.pool = pool
        self._started_pool: Executor | None = None  # the pool that has had a job: see _submit
        self._pool_start = asyncio.Lock()
        self.writer = Writer(store)
        self.side = ThreadPoolExecutor(  # leases and host turns: short, never behind the writer
            max_workers=settings.http.max_concurrency + 2, thread_name_prefix="ingestd-side"
        )
        self.params = signature_params(settings.dedup)
        self.feed_configs = {feed.url: feed for feed in settings.feeds}
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stopping = False  # set by the daemon on SIGTERM: the pass claims no more feeds
        self.stranded: list[int] = []  # feeds whose claims a full store kept us from releasing

    async def db(self, fn: Callable[[Transaction], _T], write: bool = True) -> _T:
        """Run ``fn`` in a transaction on the writer thread (shared with the functions queued
        beside it, see :mod:`ingestd.writer`); its result once committed."""
        return await self.writer.run(fn, write)

    async def aside(self, fn: Callable[[Transaction], _T]) -> _T:
        """Run ``fn`` in its own short transaction on a thread of its own, not queued behind
        the writer (whose transactions may wait on other workers' dedup locks)."""

        def run() -> _T:
            with self.store.transaction() as tx:
                return fn(tx)

        return await asyncio.get_running_loop().run_in_executor(self.side, run)

    async def cpu(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` in the process pool, replacing the pool once if it is broken."""
        try:
            return await self._submit(fn, *args)
        except BrokenExecutor:
            if self.pool_factory is None:
                raise
            self._replace_pool()
            return await self._submit(fn, *args)

    async def _submit(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` on the pool. A pool's first job is handed over from a thread: it
        starts the pool's forkserver and waits until that has imported the worker modules
        (0.2-0.6 s), which would otherwise stall the event loop and every fetch on it. Jobs
        that come meanwhile wait for it here, without blocking the loop."""
        loop = asyncio.get_running_loop()
        pool = self.pool
        if pool is not self._started_pool:
            async with self._pool_start:
                if pool is not self._started_pool:
                    job = await loop.run_in_executor(self.side, partial(pool.submit, fn, *args))
                    self._started_pool = pool
                    return await asyncio.wrap_future(job)
        return await loop.run_in_executor(pool, partial(fn, *args))

    def _replace_pool(self) -> None:
        """A fresh pool for a broken one (jobs in flight on the old one fail and are retried)."""
        broken = self.pool
        if isinstance(broken, ProcessPoolExecutor) and not getattr(broken, "_broken", True):
            return  # another coroutine already replaced it
        assert self.pool_factory is not None
        log.warning("a worker process died; starting a new process pool")
        self.pool = self.pool_factory()
        broken.shutdown(wait=False, cancel_futures=True)

    async def sync_feeds(self) -> None:
        """Bring the configured feeds into the store; say which intervals are out of bounds.
        Without a configuration file (``settings.owns_feeds`` False) the stored configured
        feeds are left as they are: only the file that lists them may change them."""
        if not self.settings.owns_feeds:
            log.warning(
                "no configuration file found; the configured feeds stored are kept as they are"
            )
            return
        if self.settings.source is not None:
            log.info("configuration", file=str(self.settings.source))
        feeds = self.settings.feeds
        bounds = self.settings.schedule
        for feed in feeds:
            asked = feed.interval_s
            if asked is not None and not bounds.min_interval_s <= asked <= bounds.max_interval_s:
                used = schedule.interval_s(asked, bounds)
                log.warning(
                    "feed interval outside [schedule] bounds; using the bound",
                    feed=feed.url,
                    interval_s=asked,
                    used_s=used,
                )
        await self.db(lambda tx: tx.sync_feeds(feeds, datetime.now(UTC)))

    async def run_due(self, fetcher: Fetcher) -> RunSummary:
        """Poll every due feed once: claim feeds (a lease, so that several workers sharing the
        database never poll one feed twice) and poll them concurrently until none is due.

        When the store runs out of space (:class:`StoreFullError`) no more feeds are claimed,
        the polls in flight end (nothing of theirs is stored, no feed is blamed), their
        claims are given back (or at the next pass, if even that cannot be written), and the
        error is raised."""
        if self.stranded:
            left, self.stranded = self.stranded, []
            await self.db(lambda tx: tx.release_claims(left, self.worker_id))
        now = datetime.now(UTC)
        due = await self.db(lambda tx: tx.count_due_feeds(now), write=False)
        self.events.pass_started(due)
        summary = RunSummary()
        workers = max(1, self.settings.http.max_concurrency)
        claims = _Claims(self, now, batch=workers)
        try:
            outcomes = await asyncio.gather(
                *(self._poll_claimed(fetcher, summary, claims) for _ in range(workers)),
                return_exceptions=True,
            )
        finally:
            try:
                await claims.give_back()
            except StoreError:  # full: the next pass gives them back
                self.stranded = claims.unreleased
        errors = [e for e in outcomes if isinstance(e, BaseException)]
        if errors:
            raise next((e for e in errors if isinstance(e, StoreFullError)), errors[0])
        await self.prune_index()
        return summary

    async def _poll_claimed(self, fetcher: Fetcher, summary: RunSummary, claims: _Claims) -> None:
        """Take one claimed feed at a time and poll it, until none is left (a feed that comes
        due again during the pass waits for the next pass) or the store is full."""
        while not self.stopping and (claimed := await claims.next()):
            feed, claimed_at = claimed
            renewal = asyncio.create_task(self._keep_lease(feed.id, claimed_at))
            try:
                summary.add(await self.poll(feed, fetcher))
            except StoreFullError:
                claims.halt(feed)
                raise
            finally:
                renewal.cancel()

    async def _keep_lease(self, feed_id: int, claimed_at: float) -> None:
        """Extend this worker's lease on a feed every third of the lease while polling it; the
        first extension is due a third of the lease after the claim (``time.monotonic()``)."""
        lease_s = self.settings.schedule.lease_s
        await asyncio.sleep(max(0.0, claimed_at + lease_s / 3 - time.monotonic()))
        while True:
            until = datetime.now(UTC) + timedelta(seconds=lease_s)
            await self.aside(
                partial(feedrows.renew, feed_id=feed_id, owner=self.worker_id, until=until)
            )
            await asyncio.sleep(lease_s / 3)

    def claim(self, tx: Transaction, due_at: datetime, limit: int) -> list[FeedRecord]:
        """Lease up to ``limit`` feeds due at ``due_at`` to this worker."""
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.settings.schedule.lease_s)
        return tx.claim_due_feeds(self.worker_id, due_at, until, limit, lease_now=now)

    async def poll_url(self, url: str, fetcher: Fetcher) -> PollOutcome:
        """Poll the feed with this URL (or alias) now, whatever its schedule, but not before a
        server's Retry-After nor while another worker polls it."""
        feed_id = await self.db(lambda tx: tx.feed_id_for_url(url), write=False)
        if feed_id is None:
            raise NotFoundError(f"feeds poll: no feed with URL {url} (see `ingest feeds list`)")
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.settings.schedule.lease_s)
        feed = await self.db(lambda tx: tx.claim_feed(feed_id, self.worker_id, now, until))
        if feed is None:
            return PollOutcome(url, "skipped", error="another worker is polling it right now")
        if feed.not_before_at and feed.not_before_at > now:
            await self.db(lambda tx: tx.update_feed(feed_id, lease_owner=None, lease_until=None))
            wait = feed.not_before_at.isoformat(timespec="seconds")
            return PollOutcome(
                feed.url, "skipped", error=f"the server asked for no request before {wait}"
            )
        return await self.poll(feed, fetcher)

    async def acquire(self, host: str, limit: int, hold_s: float) -> int:
        """:class:`~ingestd.fetch.HostTurns`: one of the host's request slots, shared with
        every worker on the database; waits (polling every ``SLOT_POLL_S``) while all are held."""
        while True:

            def take(tx: Transaction) -> int | None:
                now_ms = int(time.time() * 1000)
                return tx.acquire_host_slot(host, limit, now_ms, now_ms + int(hold_s * 1000))

            slot = await self.aside(take)
            if slot is not None:
                return slot
            await asyncio.sleep(SLOT_POLL_S)

    async def release(self, host: str, slot: int) -> None:
        await self.aside(lambda tx: tx.release_host_slot(host, slot))

    async def reserve(self, host: str, gap_s: float) -> float:
        """:class:`~ingestd.fetch.HostTurns` through the store: the host's next request turn,
        shared with every worker on the database; returns the seconds to wait."""

        def reserve(tx: Transaction) -> int:
            return tx.reserve_host_turn(host, int(gap_s * 1000), int(time.time() * 1000))

        start_ms = await self.aside(reserve)
        return max(0.0, start_ms / 1000 - time.time())

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
        except StoreFullError:  # the store's failure, not the feed's: nothing is recorded
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
        unconditional = feedstate.wants_unconditional(feed, started)
        validators = None if unconditional else _validators(feed)
        result = await self._fetch(
            fetcher, "feed", feed.url, feed, validators=validators, accept=FEED_ACCEPT
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
        url = _page_url(feed, entry)
        if url and (reuse := stored.get(key)) is not None:
            return entries.Ready(entry, key, None, None, url, reuse_item=reuse)
        note = _dropped_link(entry.url) if entry.url and not url else "the entry has no link"
        if url and self.settings.extract.fetch_pages:
            page = await self._fetch(
                fetcher, "page", url, feed, accept="text/html,application/xhtml+xml;q=0.9,*/*;q=0.5"
            )
            if isinstance(page, Fetched):
                extract = self.settings.extract
                prepared = await self.cpu(
                    work.page_job, page.body, page.url, extract.favor, extract.fast, self.params
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
        from ingestd.linking import link_new_item  # numpy: only once there is something new

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
            feed, result, self.settings.schedule, now, feedrows.recent(tx, feed.id), parsed
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
        """Record a poll that stored nothing new (304, or an unchanged body)."""

        def write(tx: Transaction) -> None:
            now = datetime.now(UTC)
            values = feedstate.after_answer(
                feed, result, self.settings.schedule, now, feedrows.recent(tx, feed.id)
            )
            feedrows.update_feed(tx, feed, values)
            status = result.status if isinstance(result, Fetched) else 304
            tx.insert_poll(PollRecord(feed.id, started, now, outcome, status, 0, 0, 0, None))

        await self.db(write)

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

    def close(self) -> None:
        self.writer.close()
        self.side.shutdown(wait=True)


class _Claims:
    """The due feeds of one pass, claimed ``batch`` at a time for the pass's pollers.

    One claim transaction per feed cost as much as the poll of a feed that answers 304; a
    batch as large as the number of pollers costs one transaction per round of polls. A feed
    waits in the batch for at most one poll of another poller, well within its lease (whose
    first renewal is timed from the claim).
    """

    def __init__(self, pipeline: Pipeline, due_at: datetime, batch: int) -> None:
        self._pipeline = pipeline
        self._due_at = due_at
        self._batch = batch
        self._waiting: list[tuple[FeedRecord, float]] = []  # next feed last
        self._lock = asyncio.Lock()
        self._exhausted = False
        self._interrupted: list[int] = []  # feeds whose poll the full store stopped
        self.unreleased: list[int] = []  # what give_back could not release

    async def next(self) -> tuple[FeedRecord, float] | None:
        """A claimed feed and when it was claimed (``time.monotonic()``); None when no feed is
        due any more."""
        async with self._lock:
            if self._exhausted:
                return None
            if not self._waiting:
                pipeline, due_at, batch = self._pipeline, self._due_at, self._batch
                feeds = await pipeline.db(lambda tx: pipeline.claim(tx, due_at, batch))
                claimed_at = time.monotonic()
                self._waiting = [(feed, claimed_at) for feed in reversed(feeds)]
                self._exhausted = not feeds
            return self._waiting.pop() if self._waiting else None

    def halt(self, feed: FeedRecord) -> None:
        """The store is full: claim no more feeds; ``feed``'s poll was stopped by it."""
        self._exhausted = True
        self._interrupted.append(feed.id)

    async def give_back(self) -> None:
        """Release the leases of claimed feeds that were not polled (the pass was stopped) or
        whose poll the full store stopped; :attr:`unreleased` names them if that fails."""
        left = [feed.id for feed, _ in self._waiting] + self._interrupted
        self._waiting, self._interrupted = [], []
        if left:
            owner = self._pipeline.worker_id
            self.unreleased = left
            await self._pipeline.db(lambda tx: tx.release_claims(left, owner))
            self.unreleased = []


def _validators(feed: FeedRecord) -> Validators:
    return Validators(feed.etag, feed.last_modified)


_REUSABLE_SCHEMES = ("http", "https", "file")  # links whose stored page an entry may reuse


def _page_url(feed: FeedRecord, entry: FeedEntry) -> str | None:
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
        url = _page_url(feed, entry)
        if url and url.split(":", 1)[0] in _REUSABLE_SCHEMES:
            norms[key] = normalize_url(url)
    stored = tx.first_items_by_url(norms.values()) if norms else {}
    return fresh, {key: stored[norm] for key, norm in norms.items() if norm in stored}
