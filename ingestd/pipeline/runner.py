"""Assembling a run: the store (behind its writer lock), the process pool, the fetcher and the
pipeline. ``ingest --once`` and the daemon both start here."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager, contextmanager

import structlog

from ingestd.config import Settings
from ingestd.errors import StoreFullError
from ingestd.fetch import Fetcher
from ingestd.pipeline import Pipeline, PollOutcome, RunSummary
from ingestd.pipeline.events import PipelineEvents
from ingestd.pipeline.workers import workerinit
from ingestd.pipeline.workers.poolstart import forkserver_context
from ingestd.service import retention
from ingestd.service.lock import writer_lock
from ingestd.store import Store
from ingestd.store.migrations import Migration
from ingestd.store.upkeep import release_leases

log = structlog.get_logger("ingestd.runner")


def make_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool for parsing and extraction (``workers`` 0 = one per core).

    Workers come from a forkserver that has already imported the heavy modules, so they start
    fast and never inherit the event loop's threads; each ignores SIGINT and exits when this
    process dies (see :mod:`ingestd.pipeline.workers.workerinit`).
    """
    context = forkserver_context()
    count = workers or os.cpu_count() or 1
    return ProcessPoolExecutor(
        max_workers=count,
        mp_context=context,
        initializer=workerinit.setup,
        initargs=(os.getpid(),),
    )


@asynccontextmanager
async def open_pipeline(
    settings: Settings, store: Store, events: PipelineEvents | None = None
) -> AsyncIterator[tuple[Pipeline, Fetcher]]:
    """A ready pipeline and fetcher, with the configured feeds synchronised into the store."""
    workers = settings.extract.workers
    pipeline = Pipeline(settings, store, make_pool(workers), events, lambda: make_pool(workers))
    try:
        shared_turns = pipeline.turns if store.dialect == "postgresql" else None  # several workers
        async with Fetcher(settings.http, turns=shared_turns) as fetcher:
            await pipeline.sync_feeds()
            yield pipeline, fetcher
    finally:
        pipeline.close()
        pipeline.pool.shutdown(wait=True, cancel_futures=True)


@contextmanager
def open_store(
    settings: Settings, before_migration: Callable[[Migration], None] | None = None
) -> Iterator[Store]:
    """The configured store, migrated, held with its writer lock (SQLite: one writer process;
    :class:`ingestd.service.lock.DatabaseBusy` when another one has it). ``before_migration`` is
    called before each schema migration that runs."""
    with writer_lock(settings.database_url) as locked:
        # The one SQLite writer checkpoints the WAL on a thread, not inside its commits.
        store = Store.open(
            settings.database_url,
            background_checkpoints=locked is not None,
            before_migration=before_migration,
        )
        try:
            if locked is not None:  # the only writer: leases left behind are a dead process's
                with store.transaction() as tx:
                    if released := release_leases(tx):
                        log.info("released the feed leases of a process that died", feeds=released)
            yield store
        finally:
            store.close()


async def _once(
    settings: Settings, store: Store, events: PipelineEvents | None = None
) -> RunSummary:
    async with open_pipeline(settings, store, events) as (pipeline, fetcher):
        summary = await pipeline.run_due(fetcher)
        await retention.prune(pipeline, settings.retention.days)
        return summary


def run_once(settings: Settings, events: PipelineEvents | None = None) -> RunSummary:
    """Poll every due feed once (a feed never polled is due), apply retention, return the
    totals. :class:`StoreFullError` when the store ran out of space: the pass stopped there,
    and no feed was marked failed for it."""
    with open_store(settings) as store:
        try:
            return asyncio.run(_once(settings, store, events))
        except StoreFullError as exc:
            raise StoreFullError(
                f"{exc}; the pass stopped, no feed was marked failed and nothing of the "
                "unfinished polls was stored: free some space and run it again"
            ) from None


async def _poll_one(settings: Settings, store: Store, url: str) -> PollOutcome:
    async with open_pipeline(settings, store) as (pipeline, fetcher):
        return await pipeline.poll_url(url, fetcher)


def poll_one(settings: Settings, url: str) -> PollOutcome:
    """Poll the feed with this URL now (``ingest feeds poll``); NotFoundError if unknown."""
    with open_store(settings) as store:
        return asyncio.run(_poll_one(settings, store, url))
