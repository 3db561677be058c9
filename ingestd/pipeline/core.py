"""The pipeline of one process: its store access (the writer, side transactions), its CPU pool,
its pass over due feeds and its polls, put together.

Network I/O runs concurrently on the event loop, each request when the fetcher's frontier lets
it go; parsing, extraction and signatures run in the process pool (:mod:`.cpu`); every database
write goes through one writer thread, each poll's results in one transaction, shared with the
other polls' writes queued beside it (so a crash never leaves half a poll behind).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import socket
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog

from ingestd.config import Settings
from ingestd.errors import NotFoundError
from ingestd.fetch import Fetcher
from ingestd.pipeline.events import NoEvents, PipelineEvents
from ingestd.pipeline.outcome import PollOutcome, RunSummary
from ingestd.pipeline.passes import run_pass
from ingestd.pipeline.poll import Poller
from ingestd.pipeline.sharedturns import StoreTurns
from ingestd.pipeline.workers.cpu import CpuPool
from ingestd.pipeline.writer import Writer
from ingestd.polling import schedule
from ingestd.store import FeedRecord, Store, Transaction

log = structlog.get_logger("ingestd.poll")
_T = TypeVar("_T")
SIDE_THREADS = 8  # threads for leases, shared host turns and the pool's first job


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
        """``pool_factory`` makes a new CPU pool when a worker process dies (see
        :class:`~ingestd.pipeline.workers.cpu.CpuPool`)."""
        self.settings = settings
        self.events: PipelineEvents = events or NoEvents()
        self.store = store
        self.writer = Writer(store)
        self.side = ThreadPoolExecutor(  # leases and host turns: short, never behind the writer
            max_workers=SIDE_THREADS, thread_name_prefix="ingestd-side"
        )
        self.cpu_pool = CpuPool(pool, self.side, pool_factory)
        self.poller = Poller(settings, self.events, self.db, self.cpu)
        self.turns = StoreTurns(self.aside_statement)  # host turns shared through the store
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.stopping = False  # set by stop(): the pass claims no more feeds
        # polls in flight, each with whether its feed's request went yet (see stop())
        self.waiting: dict[asyncio.Task[PollOutcome], Callable[[], bool]] = {}
        self.stranded: list[int] = []  # feeds whose claims a full store kept us from releasing

    @property
    def pool(self) -> Executor:
        """The CPU pool in use (a new one after a worker died)."""
        return self.cpu_pool.pool

    async def db(self, fn: Callable[[Transaction], _T], write: bool = True) -> _T:
        """Run ``fn`` in a transaction on the writer thread (shared with the functions queued
        beside it, see :mod:`ingestd.pipeline.writer`); its result once committed."""
        return await self.writer.run(fn, write)

    async def aside(self, fn: Callable[[Transaction], _T]) -> _T:
        """Run ``fn`` in its own short transaction on a thread of its own, not queued behind
        the writer (whose transactions may wait on other workers' dedup locks)."""

        def run() -> _T:
            with self.store.transaction() as tx:
                return fn(tx)

        return await asyncio.get_running_loop().run_in_executor(self.side, run)

    async def aside_statement(self, fn: Callable[[Transaction], _T]) -> _T:
        """Like :meth:`aside`, for ``fn`` of one statement (or several that need no common
        transaction): on the side thread's kept autocommit connection
        (:meth:`~ingestd.store.Store.statements`)."""

        def run() -> _T:
            with self.store.statements() as tx:
                return fn(tx)

        return await asyncio.get_running_loop().run_in_executor(self.side, run)

    async def cpu(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run ``fn(*args)`` in the process pool (see
        :class:`~ingestd.pipeline.workers.cpu.CpuPool`)."""
        return await self.cpu_pool.run(fn, *args)

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
        """Poll every due feed once (see :func:`~ingestd.pipeline.passes.run_pass`), then drop
        the dedup keys the window has passed."""
        summary = await run_pass(self, fetcher)
        await self.prune_index()
        return summary

    def stop(self) -> None:
        """Stop the pass in flight (SIGTERM): no more feed is claimed, and the polls that have
        not sent their feed's request yet (waiting for their host's turn) are given up, their
        feeds left due; the polls under way are let finish."""
        self.stopping = True
        for task, sent in list(self.waiting.items()):
            if not sent():
                task.cancel()

    async def poll(
        self, feed: FeedRecord, fetcher: Fetcher, on_start: Callable[[], None] | None = None
    ) -> PollOutcome:
        """Poll one claimed feed (see :class:`~ingestd.pipeline.poll.Poller`)."""
        return await self.poller.poll(feed, fetcher, on_start)

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

    async def prune_index(self) -> int:
        """Drop the dedup keys of items stored before the window, in small transactions."""
        before = datetime.now(UTC) - timedelta(days=self.settings.dedup.window_days)
        total = 0
        while pruned := await self.db(lambda tx: tx.prune_keys(before)):
            total += pruned
        if total:
            log.info("pruned dedup keys", items=total)
        return total

    def close(self) -> None:
        self.writer.close()
        self.side.shutdown(wait=True)
