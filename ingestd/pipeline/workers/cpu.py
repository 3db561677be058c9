"""The CPU pool: parsing, extraction and signatures run in worker processes, never on the loop.

Threads share one core under the GIL, so CPU work goes to a process pool sized to the cores.
The pool's first job is handed over from a thread (it starts the forkserver, 0.2-0.6 s of
imports); a pool broken by a dead worker is replaced once, and the job tried again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from concurrent.futures import BrokenExecutor, Executor, ProcessPoolExecutor
from functools import partial
from typing import Any, TypeVar

import structlog

log = structlog.get_logger("ingestd.poll")
_T = TypeVar("_T")


class CpuPool:
    """A process pool with its start-up off the event loop and a replacement when it breaks."""

    def __init__(
        self,
        pool: Executor,
        starter: Executor,
        factory: Callable[[], Executor] | None = None,
    ) -> None:
        """``starter`` is a thread pool that hands the first job over; ``factory`` makes a new
        pool when a worker process dies (killed, out of memory, a crash in a C extension): a
        daemon must not stay broken for the rest of its life because one job took its worker
        down."""
        self.pool = pool
        self._starter = starter
        self._factory = factory
        self._started: Executor | None = None  # the pool that has had a job
        self._start = asyncio.Lock()

    async def run(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` in the pool, replacing the pool once if it is broken."""
        try:
            return await self._submit(fn, *args)
        except BrokenExecutor:
            if self._factory is None:
                raise
            self._replace()
            return await self._submit(fn, *args)

    async def _submit(self, fn: Callable[..., _T], *args: Any) -> _T:
        """``fn(*args)`` on the pool. A pool's first job is handed over from a thread: it
        starts the pool's forkserver and waits until that has imported the worker modules
        (0.2-0.6 s), which would otherwise stall the event loop and every fetch on it. Jobs
        that come meanwhile wait for it here, without blocking the loop."""
        loop = asyncio.get_running_loop()
        pool = self.pool
        if pool is not self._started:
            async with self._start:
                if pool is not self._started:
                    job = await loop.run_in_executor(self._starter, partial(pool.submit, fn, *args))
                    self._started = pool
                    return await asyncio.wrap_future(job)
        return await loop.run_in_executor(pool, partial(fn, *args))

    def _replace(self) -> None:
        """A fresh pool for a broken one (jobs in flight on the old one fail and are retried)."""
        broken = self.pool
        if isinstance(broken, ProcessPoolExecutor) and not getattr(broken, "_broken", True):
            return  # another coroutine already replaced it
        assert self._factory is not None
        log.warning("a worker process died; starting a new process pool")
        self.pool = self._factory()
        broken.shutdown(wait=False, cancel_futures=True)
