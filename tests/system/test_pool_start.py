"""Starting the process pool must not stall the event loop.

A ``ProcessPoolExecutor``'s first job starts its forkserver and waits until it has imported the
worker modules (0.2-0.6 s on this machine kind); that happens inside ``submit``. The executor
here stands in for it: a thread pool whose first ``submit`` blocks for ``START_S``.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ingestd.config import Settings
from ingestd.pipeline import Pipeline
from ingestd.store import Store

START_S = 0.4
TICK_S = 0.01


class SlowStartPool(ThreadPoolExecutor):
    """A pool whose first ``submit`` takes ``START_S`` (a forkserver starting), as
    ``ProcessPoolExecutor.submit`` does, and which records the threads that submitted."""

    def __init__(self) -> None:
        super().__init__(max_workers=2)
        self.started = False
        self.submitters: list[str] = []
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        with self._lock:  # ProcessPoolExecutor also holds a lock while it starts a worker
            self.submitters.append(threading.current_thread().name)
            if not self.started:
                time.sleep(START_S)
                self.started = True
            return super().submit(fn, *args, **kwargs)


def double(value: int) -> int:
    return value * 2


def test_the_event_loop_runs_on_while_the_pool_starts(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/t.sqlite3")
    pool = SlowStartPool()
    pipeline = Pipeline(Settings(database_url=""), store, pool)

    async def run() -> tuple[list[int], float]:
        longest_gap = 0.0
        done = False

        async def heartbeat() -> None:
            nonlocal longest_gap
            last = time.perf_counter()
            while not done:
                await asyncio.sleep(TICK_S)
                now = time.perf_counter()
                longest_gap = max(longest_gap, now - last)
                last = now

        beating = asyncio.create_task(heartbeat())
        await asyncio.sleep(TICK_S)
        results = await asyncio.gather(*(pipeline.cpu(double, n) for n in range(5)))
        done = True
        await beating
        return results, longest_gap

    try:
        results, longest_gap = asyncio.run(run())
    finally:
        pipeline.close()
        pool.shutdown(wait=True)
        store.close()
    assert results == [0, 2, 4, 6, 8]
    # The loop never stopped for the pool's start-up (it did for START_S before).
    assert longest_gap < START_S / 2, f"the event loop stalled for {longest_gap:.3f} s"
    # The first job was handed over off the loop; the others, once the pool ran, on it.
    assert not pool.submitters[0].startswith("MainThread")
    assert pool.submitters[1:] == ["MainThread"] * 4
