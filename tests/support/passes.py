"""One pass of a :class:`ingestd.pipeline.Pipeline` in this process, as `ingest --once` runs it."""

from __future__ import annotations

import asyncio

from ingestd.fetch import Fetcher
from ingestd.pipeline import Pipeline


def run_pass(pipeline: Pipeline) -> None:
    """Sync the configured feeds, poll every due one, then close the pipeline and its pool."""

    async def run() -> None:
        async with Fetcher(pipeline.settings.http) as fetcher:
            await pipeline.sync_feeds()
            await pipeline.run_due(fetcher)

    try:
        asyncio.run(run())
    finally:
        pipeline.close()
        pipeline.pool.shutdown(wait=True, cancel_futures=True)
