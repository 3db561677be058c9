"""The writer thread: every store function of a pipeline runs here, one at a time, and the
functions that queued up while a transaction ran share the next one (a group commit).

A function's caller gets its result once the transaction that ran it has committed, so
nothing is reported stored before it is. When a shared transaction fails, it is rolled back
and each of its functions runs again in a transaction of its own: one function's failure
(a constraint, a lock timeout) is its caller's alone, as with a transaction per function.

Why: on the main process's one core, a transaction per function cost more than the function
itself for the small ones (a poll answered 304 is two reads, an update and an insert), and
each result crossed threads on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ingestd.store import Store, Transaction

__all__ = ["MAX_GROUP", "Writer"]

_T = TypeVar("_T")

MAX_GROUP = 16  # functions per shared transaction: a larger group delays its first result


@dataclass
class _Job(Generic[_T]):
    """One function waiting for the writer, and where its result goes."""

    fn: Callable[[Transaction], _T]
    write: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[_T]


_Outcome = tuple[_Job[Any], Any, Exception | None]  # a job, its result, its error


class Writer:
    """One thread that runs store functions in transactions, grouping those that queue up."""

    def __init__(self, store: Store, name: str = "ingestd-writer") -> None:
        self._store = store
        self._jobs: queue.SimpleQueue[_Job[Any] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    async def run(self, fn: Callable[[Transaction], _T], write: bool = True) -> _T:
        """``fn(tx)`` in a transaction on the writer thread; its result once committed.

        ``write=False`` promises that ``fn`` only reads (SQLite then need not take the write
        lock when it runs alone)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._jobs.put(_Job(fn, write, loop, future))
        return await future

    def close(self) -> None:
        """Run what is queued, then stop the thread (waits for it)."""
        self._jobs.put(None)
        self._thread.join()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            group, stop = self._group(job)
            self._run_group(group)
            if stop:
                return

    def _group(self, first: _Job[Any]) -> tuple[list[_Job[Any]], bool]:
        """``first`` and whatever else is already queued, up to :data:`MAX_GROUP`; True when
        the stop mark was among them."""
        group = [first]
        while len(group) < MAX_GROUP:
            try:
                job = self._jobs.get_nowait()
            except queue.Empty:
                break
            if job is None:
                return group, True
            group.append(job)
        return group, False

    def _run_group(self, group: list[_Job[Any]]) -> None:
        live = [job for job in group if not job.future.cancelled()]  # its caller gave up
        if len(live) > 1:
            try:
                with self._store.transaction(write=any(job.write for job in live)) as tx:
                    results = [job.fn(tx) for job in live]
            except Exception:  # rolled back: each function runs again on its own, below
                pass
            else:
                _settle([(job, result, None) for job, result in zip(live, results, strict=True)])
                return
        for job in live:
            try:
                with self._store.transaction(write=job.write) as tx:
                    result = job.fn(tx)
            except Exception as exc:  # the caller's to handle
                _settle([(job, None, exc)])
            else:
                _settle([(job, result, None)])


def _settle(outcomes: list[_Outcome]) -> None:
    """Hand the results (or errors) to their jobs' event loops, unless a loop is gone.

    One hand-over per loop, not one per job: each ``call_soon_threadsafe`` writes to the loop's
    wake-up socket, and the loop wakes for each write."""
    by_loop: dict[asyncio.AbstractEventLoop, list[_Outcome]] = {}
    for outcome in outcomes:
        by_loop.setdefault(outcome[0].loop, []).append(outcome)
    for loop, handed in by_loop.items():
        with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits any more
            loop.call_soon_threadsafe(_set_results, handed)


def _set_results(outcomes: list[_Outcome]) -> None:
    """Set each job's future (on its event loop), skipping those cancelled meanwhile."""
    for job, result, error in outcomes:
        if job.future.done():
            continue
        if error is not None:
            job.future.set_exception(error)
        else:
            job.future.set_result(result)
