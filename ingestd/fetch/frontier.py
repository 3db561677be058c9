"""Politeness: which request goes next.

Every request (feeds and pages alike) joins its host's queue, first come first served. A host
is *ready* when its turn has come (``min_host_gap_s`` after its last request started, plus a
little slack) and fewer than ``per_host_concurrency`` of its requests are in flight. One
dispatcher hands the ``max_concurrency`` global slots out: the ready host whose turn came first
gets the next free slot, for the request at the head of its queue, and its next turn is set
from that moment. A request waiting for its host holds nothing but its place in the queue, so
a slow or busy host never keeps another host's request from going: a pass is bounded by its
busiest host (its requests times the gap) or by the slots, not by how many polls wait.

This is the shape of Scrapy's downloader slots (a delay and a concurrency per domain), Apache
Nutch's fetch queues (one queue per host, served when its crawl delay has passed) and Heritrix's
frontier (per-host queues, the earliest ready one first).

Several workers sharing a PostgreSQL database share each host's turns and slots through it
(:class:`HostTurns`): a request granted here reserves its host's next turn there (when
another worker's request holds that turn, it gives its global slot back and waits for the
reserved moment at the head of its host's queue), then takes one of the host's shared slots.
A turn missed meanwhile (the slot was busy, or the machine woke it late) is given back for a
new one, so that a late request never lands on the next one's heels.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

GAP_SLACK_S = 0.05  # added to min_host_gap_s so that servers never see requests closer
LATE_S = 0.01  # a shared turn due within this is taken at once
TURN_ATTEMPTS = 5  # shared turns reserved for one request at most (each missed one given up)
SWEEP_HOSTS = 4096  # hosts remembered before the idle ones are forgotten


class HostTurns(Protocol):
    """Request turns per host shared by several workers (e.g. through the database)."""

    async def reserve(self, host: str, gap_s: float) -> float:
        """Reserve the next request start for ``host``; returns seconds to wait for it."""
        ...

    async def acquire(self, host: str, limit: int, hold_s: float) -> int:
        """Wait for one of ``host``'s ``limit`` request slots (held at most ``hold_s``)."""
        ...

    async def release(self, host: str, slot: int) -> None:
        """Give a slot back."""
        ...


@dataclass
class _Host:
    """One host's queue and state (forgotten once idle)."""

    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)
    in_flight: int = 0
    next_at: float = 0.0  # monotonic time of its next turn
    scheduled: bool = False  # in the ready heap


class Frontier:
    """Per-host queues and global slots for one process (see the module's docstring)."""

    def __init__(
        self,
        max_concurrency: int,
        per_host: int,
        gap_s: float,
        turns: HostTurns | None = None,
        hold_s: float = 65.0,
    ) -> None:
        """``hold_s``: the longest a request may hold a shared per-host slot (a dead worker's
        slot frees itself then)."""
        self._free = max(1, max_concurrency)
        self._per_host = max(1, per_host)
        self._gap = gap_s + GAP_SLACK_S if gap_s > 0 else 0.0
        self._turns = turns
        self._hold_s = hold_s
        self._hosts: dict[str, _Host] = {}
        self._ready: list[tuple[float, int, str]] = []  # (turn time, arrival, host)
        self._arrivals = itertools.count()
        self._wake = asyncio.Event()
        self._dispatcher: asyncio.Task[None] | None = None

    @contextlib.asynccontextmanager
    async def slot(
        self, host: str, on_grant: Callable[[], None] | None = None
    ) -> AsyncIterator[None]:
        """Hold a slot for one request to ``host``, once the frontier has granted it
        (``on_grant`` is called then, before the request is sent)."""
        await self._queue(host, front=False)
        holding = True  # this request holds one of the global slots (and its host's count)
        shared: int | None = None
        try:
            for attempt in range(TURN_ATTEMPTS if self._turns is not None else 0):
                wait = await self._shared_turn(host)
                due = time.monotonic() + wait
                if wait > LATE_S:  # another worker's request has the turn: wait at the head
                    self._done(host, not_before=due)
                    holding = False
                    await self._queue(host, front=True)
                    holding = True
                if (early := due - time.monotonic()) > 0:  # granted before the turn: wait
                    await asyncio.sleep(early)
                assert self._turns is not None
                shared = await self._turns.acquire(host, self._per_host, self._hold_s)
                # a turn missed (waiting for the shared slot, or woken late on a busy machine)
                # is given back for a new one: a late request must not land on the next's heels
                if time.monotonic() - due <= GAP_SLACK_S or attempt == TURN_ATTEMPTS - 1:
                    break
                await self._turns.release(host, shared)
                shared = None
            if on_grant is not None:
                on_grant()
            yield
        finally:
            if shared is not None and self._turns is not None:
                await self._turns.release(host, shared)
            if holding:
                self._done(host)

    async def close(self) -> None:
        """Stop the dispatcher (requests still waiting are cancelled)."""
        if self._dispatcher is not None:
            self._dispatcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._dispatcher
            self._dispatcher = None

    async def _shared_turn(self, host: str) -> float:
        """Reserve the host's next turn, shared with the other workers; the seconds until it."""
        if self._gap <= 0 or self._turns is None:
            return 0.0
        return await self._turns.reserve(host, self._gap)

    async def _queue(self, host: str, front: bool) -> None:
        """Join ``host``'s queue (at its head when ``front``) and wait to be granted a slot."""
        state = self._hosts.setdefault(host, _Host())
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if front:
            state.waiting.appendleft(granted)
        else:
            state.waiting.append(granted)
        self._schedule(host, state)
        self._start()
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._done(host)  # granted just as it was cancelled: the slot goes back
            elif granted in state.waiting:
                state.waiting.remove(granted)
                self._forget(host, state)
            raise

    def _start(self) -> None:
        if self._dispatcher is None or self._dispatcher.done():
            self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch())

    def _schedule(self, host: str, state: _Host) -> None:
        """Put a host with waiting requests and room for one more in the ready heap."""
        if state.scheduled or not state.waiting or state.in_flight >= self._per_host:
            return
        state.scheduled = True
        heapq.heappush(self._ready, (state.next_at, next(self._arrivals), host))
        self._wake.set()

    def _done(self, host: str, not_before: float | None = None) -> None:
        """A request to ``host`` ended (or gave its slot back until ``not_before``)."""
        state = self._hosts[host]
        state.in_flight -= 1
        self._free += 1
        if not_before is not None:
            state.next_at = max(state.next_at, not_before)
        self._schedule(host, state)
        self._forget(host, state)
        if len(self._hosts) > SWEEP_HOSTS:
            self._sweep()
        self._wake.set()

    def _sweep(self) -> None:
        """Forget every idle host whose turn has passed."""
        now = time.monotonic()
        for host, state in list(self._hosts.items()):
            idle = not state.waiting and not state.in_flight and not state.scheduled
            if idle and state.next_at <= now:
                del self._hosts[host]

    def _forget(self, host: str, state: _Host) -> None:
        """Drop an idle host whose turn has passed (a host's state lives while it is busy)."""
        idle = not state.waiting and not state.in_flight and not state.scheduled
        if idle and state.next_at <= time.monotonic():
            self._hosts.pop(host, None)

    async def _dispatch(self) -> None:
        """Hand free slots to ready hosts, the one whose turn came first first."""
        while True:
            if not self._ready or self._free <= 0:
                self._wake.clear()
                await self._wake.wait()
                continue
            due, _, host = self._ready[0]
            delay = due - time.monotonic()
            if delay > 0:
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), delay)
                continue
            heapq.heappop(self._ready)
            state = self._hosts[host]
            state.scheduled = False
            while state.waiting and state.waiting[0].done():  # cancelled while waiting
                state.waiting.popleft()
            if not state.waiting or state.in_flight >= self._per_host:
                self._forget(host, state)
                continue
            state.waiting.popleft().set_result(None)
            state.in_flight += 1
            self._free -= 1
            state.next_at = time.monotonic() + self._gap
            self._schedule(host, state)
