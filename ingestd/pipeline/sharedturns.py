"""Host turns and slots shared by the workers on one PostgreSQL database
(:class:`ingestd.fetch.HostTurns` through the store), each in a short transaction of its own
on a side thread, never queued behind the writer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ingestd.store import Transaction

SLOT_POLL_S = 0.05  # how often a worker looks for a free shared per-host request slot
_T = TypeVar("_T")

Aside = Callable[[Callable[[Transaction], _T]], Awaitable[_T]]


class StoreTurns:
    """:class:`~ingestd.fetch.HostTurns` kept in the store's ``host_turns`` and ``host_slots``."""

    def __init__(self, aside: Callable[[Callable[[Transaction], object]], Awaitable[object]]):
        self._aside = aside

    async def acquire(self, host: str, limit: int, hold_s: float) -> int:
        """One of the host's request slots, shared with every worker on the database; waits
        (looking every :data:`SLOT_POLL_S`) while all are held."""
        while True:

            def take(tx: Transaction) -> int | None:
                now_ms = int(time.time() * 1000)
                return tx.acquire_host_slot(host, limit, now_ms, now_ms + int(hold_s * 1000))

            slot = await self._aside(take)
            if isinstance(slot, int):
                return slot
            await asyncio.sleep(SLOT_POLL_S)

    async def release(self, host: str, slot: int) -> None:
        await self._aside(lambda tx: tx.release_host_slot(host, slot))

    async def reserve(self, host: str, gap_s: float) -> float:
        """The host's next request turn, shared with every worker on the database; returns
        the seconds to wait for it."""

        def reserve(tx: Transaction) -> int:
            return tx.reserve_host_turn(host, int(gap_s * 1000), int(time.time() * 1000))

        start_ms = await self._aside(reserve)
        assert isinstance(start_ms, int)
        return max(0.0, start_ms / 1000 - time.time())
