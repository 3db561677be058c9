"""A dead worker process must not leave the daemon broken: the pool is replaced."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from ingestd.config import Settings
from ingestd.model import ParsedFeed
from ingestd.pipeline import Pipeline, work
from ingestd.pipeline.runner import make_pool
from ingestd.store import Store

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'


def test_a_killed_worker_process_gets_a_new_pool(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/t.sqlite3")
    pipeline = Pipeline(Settings(database_url=""), store, make_pool(1), None, lambda: make_pool(1))

    async def run() -> tuple[object, object]:
        first = await pipeline.cpu(work.parse_job, FEED, "http://x.example/f", None)
        for process in list(pipeline.pool._processes.values()):  # type: ignore[attr-defined]
            process.kill()
        time.sleep(0.5)
        second = await pipeline.cpu(work.parse_job, FEED, "http://x.example/f", None)
        return first, second

    try:
        first, second = asyncio.run(run())
        assert isinstance(first, ParsedFeed) and isinstance(second, ParsedFeed)
    finally:
        pipeline.close()
        pipeline.pool.shutdown(wait=True, cancel_futures=True)
        store.close()
