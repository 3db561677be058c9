"""The writer thread's group commit, on a real SQLite store (and PostgreSQL when configured)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event

from ingestd.config import FeedConfig
from ingestd.pipeline.writer import Writer
from ingestd.store import Store, Transaction

NOW = datetime(2024, 5, 6, 12, 0, tzinfo=UTC)


def _feed_ids(store: Store, count: int) -> list[int]:
    configured = [FeedConfig(f"https://f{n}.example/feed.xml") for n in range(count)]
    with store.transaction() as tx:
        tx.sync_feeds(configured, NOW)
        return sorted(feed.id for feed in tx.feeds())


def _titles(store: Store) -> dict[int, str | None]:
    with store.transaction(write=False) as tx:
        return {feed.id: feed.title for feed in tx.feeds()}


class _CountingLoop(asyncio.SelectorEventLoop):
    """A real event loop that counts the callbacks other threads hand it (each one a write to
    its wake-up socket)."""

    handed_over = 0

    def call_soon_threadsafe(self, callback: Any, *args: Any, context: Any = None) -> Any:
        self.handed_over += 1
        return super().call_soon_threadsafe(callback, *args, context=context)


def _run_behind_a_blocker(
    store: Store,
    queued: list[tuple[int, str | None]],
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None,
) -> list[object]:
    """One function holds the writer until ``queued`` (feed id, title to write; None raises)
    are all waiting; returns each queued function's result or exception."""
    release = threading.Event()

    def blocker(tx: Transaction) -> str:
        release.wait(5)
        return "first"

    def retitle(feed_id: int, title: str | None) -> object:
        def write(tx: Transaction) -> str:
            if title is None:
                raise ValueError(f"refused for feed {feed_id}")
            tx.update_feed(feed_id, title=title)
            return title

        return write

    async def run() -> list[object]:
        writer = Writer(store)
        try:
            first = asyncio.ensure_future(writer.run(blocker))
            await asyncio.sleep(0.05)  # the blocker is running
            rest = [asyncio.ensure_future(writer.run(retitle(i, t))) for i, t in queued]
            await asyncio.sleep(0.05)  # all queued behind it
            release.set()
            assert await first == "first"
            return list(await asyncio.gather(*rest, return_exceptions=True))
        finally:
            writer.close()

    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(run())


def test_functions_queued_behind_a_transaction_share_the_next_one(store: Store) -> None:
    ids = _feed_ids(store, 3)
    commits: list[int] = []
    event.listen(store.engine, "commit", lambda conn: commits.append(1))

    results = _run_behind_a_blocker(store, [(i, f"t{i}") for i in ids])

    assert len(commits) == 2  # the blocker's, then one for the three queued behind it
    assert results == [f"t{i}" for i in ids]
    assert _titles(store) == {i: f"t{i}" for i in ids}


def test_a_groups_results_reach_the_event_loop_in_one_hand_over(store: Store) -> None:
    ids = _feed_ids(store, 3)
    loops: list[_CountingLoop] = []

    def counting_loop() -> asyncio.AbstractEventLoop:
        loops.append(_CountingLoop())
        return loops[-1]

    results = _run_behind_a_blocker(store, [(i, f"t{i}") for i in ids], counting_loop)

    assert results == [f"t{i}" for i in ids]
    assert loops[0].handed_over == 2  # the blocker's result, then the three queued behind it


def test_a_failing_function_fails_alone_and_the_others_are_committed(store: Store) -> None:
    ids = _feed_ids(store, 3)

    results = _run_behind_a_blocker(store, [(ids[0], "kept"), (ids[1], None), (ids[2], "too")])

    assert results[0] == "kept" and results[2] == "too"
    assert isinstance(results[1], ValueError) and str(ids[1]) in str(results[1])
    assert _titles(store) == {ids[0]: "kept", ids[1]: None, ids[2]: "too"}


def test_close_runs_what_is_queued(store: Store) -> None:
    ids = _feed_ids(store, 1)
    seen: list[str] = []

    async def run() -> None:
        writer = Writer(store)
        pending = asyncio.ensure_future(writer.run(lambda tx: tx.update_feed(ids[0], title="x")))
        await asyncio.sleep(0)  # queued
        writer.close()
        await pending
        seen.append("done")

    asyncio.run(run())
    assert seen == ["done"] and _titles(store) == {ids[0]: "x"}


@pytest.mark.parametrize("write", [True, False])
def test_a_lone_function_runs_in_its_own_transaction(store: Store, write: bool) -> None:
    ids = _feed_ids(store, 1)

    async def run() -> int | None:
        writer = Writer(store)
        try:
            return await writer.run(lambda tx: tx.feed_id_for_url(tx.feeds()[0].url), write=write)
        finally:
            writer.close()

    assert asyncio.run(run()) == ids[0]
