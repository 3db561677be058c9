"""Assembling a run: the store, the process pool, the fetcher and the pipeline."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager

from ingestd.config import Settings
from ingestd.events import PipelineEvents
from ingestd.fetch import Fetcher
from ingestd.pipeline import Pipeline, RunSummary
from ingestd.store import Store


def make_pool(workers: int) -> ProcessPoolExecutor:
    """A process pool for parsing and extraction (``workers`` 0 = one per core).

    Workers come from a forkserver that has already imported the heavy modules, so they start
    fast and never inherit the event loop's threads.
    """
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["ingestd.work"])
    count = workers or os.cpu_count() or 1
    return ProcessPoolExecutor(max_workers=count, mp_context=context)


@asynccontextmanager
async def open_pipeline(
    settings: Settings, store: Store, events: PipelineEvents | None = None
) -> AsyncIterator[tuple[Pipeline, Fetcher]]:
    """A ready pipeline and fetcher, with the configured feeds synchronised into the store."""
    pool = make_pool(settings.extract.workers)
    pipeline = Pipeline(settings, store, pool, events)
    try:
        async with Fetcher(settings.http) as fetcher:
            await pipeline.sync_feeds()
            yield pipeline, fetcher
    finally:
        pipeline.close()
        pool.shutdown(wait=True, cancel_futures=True)


async def _once(
    settings: Settings, store: Store, events: PipelineEvents | None = None
) -> RunSummary:
    async with open_pipeline(settings, store, events) as (pipeline, fetcher):
        return await pipeline.run_due(fetcher)


def run_once(settings: Settings, events: PipelineEvents | None = None) -> RunSummary:
    """Poll every due feed once (a feed never polled is due) and return the totals."""
    store = Store.open(settings.database_url)
    try:
        return asyncio.run(_once(settings, store, events))
    finally:
        store.close()
