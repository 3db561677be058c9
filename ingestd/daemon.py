"""The long-running service: APScheduler polls due feeds until SIGTERM or SIGINT.

A scheduling job runs every ``TICK_S`` seconds and polls the feeds that are due (the store
knows each feed's next poll time), sharing every code path with ``ingest --once``.
"""

from __future__ import annotations

import asyncio
import signal
from datetime import UTC, datetime

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from ingestd.config import Settings
from ingestd.fetch import Fetcher
from ingestd.pipeline import Pipeline
from ingestd.runner import open_pipeline
from ingestd.store import Store

TICK_S = 10.0  # how often the scheduler looks for due feeds
log = structlog.get_logger("ingestd.daemon")


async def _tick(pipeline: Pipeline, fetcher: Fetcher) -> None:
    summary = await pipeline.run_due(fetcher)
    if summary.feeds_polled:
        log.info(
            "pass",
            feeds=summary.feeds_polled,
            new=summary.new_items,
            republications=summary.republications,
            failures=summary.failures,
        )


async def _serve(settings: Settings, store: Store) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with open_pipeline(settings, store) as (pipeline, fetcher):
        scheduler = AsyncIOScheduler(event_loop=loop)
        scheduler.add_job(
            _tick,
            "interval",
            seconds=TICK_S,
            args=(pipeline, fetcher),
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        log.info("started", feeds=len(settings.feeds), database=store.dialect)
        await stop.wait()
        log.info("stopping")
        scheduler.shutdown(wait=False)


def run_daemon(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT."""
    store = Store.open(settings.database_url)
    try:
        asyncio.run(_serve(settings, store))
    finally:
        store.close()
