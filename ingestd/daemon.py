"""The long-running service: APScheduler polls due feeds until SIGTERM or SIGINT.

A scheduling job runs every ``TICK_S`` seconds and polls the feeds that are due (the store
knows each feed's next poll time), sharing every code path with ``ingest --once``. On the first
SIGTERM/SIGINT no new pass starts; the pass in flight gets ``SHUTDOWN_TIMEOUT_S`` to finish and
is then cancelled (each poll is one transaction, so nothing half-written remains). A second
signal exits at once.
"""

from __future__ import annotations

import asyncio
import os
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
SHUTDOWN_TIMEOUT_S = 10.0  # how long an in-flight pass may take to finish after a signal
log = structlog.get_logger("ingestd.daemon")


class _Passes:
    """Runs polling passes and remembers the one in flight, for a clean shutdown."""

    def __init__(self, pipeline: Pipeline, fetcher: Fetcher) -> None:
        self.pipeline = pipeline
        self.fetcher = fetcher
        self.running: set[asyncio.Task[None]] = set()
        self.stopping = False

    async def tick(self) -> None:
        if self.stopping:
            return
        task = asyncio.current_task()
        assert task is not None
        self.running.add(task)
        try:
            summary = await self.pipeline.run_due(self.fetcher)
        finally:
            self.running.discard(task)
        if summary.feeds_polled:
            log.info(
                "pass",
                feeds=summary.feeds_polled,
                new=summary.new_items,
                republications=summary.republications,
                failures=summary.failures,
            )

    async def drain(self, timeout_s: float) -> None:
        """Let the pass in flight finish within ``timeout_s``, then cancel it."""
        self.stopping = True
        if not self.running:
            return
        _done, pending = await asyncio.wait(set(self.running), timeout=timeout_s)
        for task in pending:
            task.cancel()
        if pending:
            log.warning("pass cancelled at shutdown", timeout_s=timeout_s)
            await asyncio.gather(*pending, return_exceptions=True)


def _install_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()

    def first(signum: int) -> None:
        log.info("signal received, stopping", signal=signal.Signals(signum).name)
        stop.set()
        for again in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(again, _exit_now, again)

    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, first, signum)


def _exit_now(signum: int) -> None:
    """Second signal: leave at once. Committed polls are complete; the rest was never written."""
    log.warning("second signal, exiting now", signal=signal.Signals(signum).name)
    os._exit(128 + signum)


async def _serve(settings: Settings, store: Store) -> None:
    stop = asyncio.Event()
    _install_signals(stop)
    async with open_pipeline(settings, store) as (pipeline, fetcher):
        passes = _Passes(pipeline, fetcher)
        scheduler = AsyncIOScheduler(event_loop=asyncio.get_running_loop())
        scheduler.add_job(
            passes.tick,
            "interval",
            seconds=TICK_S,
            max_instances=1,
            coalesce=True,
            next_run_time=datetime.now(UTC),
        )
        scheduler.start()
        log.info("started", feeds=len(settings.feeds), database=store.dialect)
        await stop.wait()
        scheduler.shutdown(wait=False)
        await passes.drain(SHUTDOWN_TIMEOUT_S)
    log.info("stopped")


def run_daemon(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; returns normally after a clean stop."""
    store = Store.open(settings.database_url)
    try:
        asyncio.run(_serve(settings, store))
    finally:
        store.close()
