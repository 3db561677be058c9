"""A pass over the due feeds: claims (leases, so that several workers sharing the database never
poll one feed twice), and as many polls at once as the frontier can use.

A poll waiting for a host's turn holds no request slot (see :mod:`ingestd.fetch.frontier`), so
the pass keeps up to :data:`POLLS_IN_FLIGHT` polls going: with fewer, a handful of polls
waiting for busy hosts would stall the pass (16 pollers each holding a feed while its pages
waited a second for their hosts' turns capped a pass at ~16 polls a second, whatever the hosts).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING

from ingestd.errors import StoreError, StoreFullError
from ingestd.fetch import Fetcher
from ingestd.pipeline.outcome import PollOutcome, RunSummary
from ingestd.polling import feedrows
from ingestd.store import FeedRecord

if TYPE_CHECKING:
    from ingestd.pipeline.core import Pipeline

POLLS_IN_FLIGHT = 512  # polls a pass keeps going at once (most of them wait for a host's turn)
CLAIM_BATCH = 256  # feeds claimed in one transaction


async def run_pass(pipeline: Pipeline, fetcher: Fetcher) -> RunSummary:
    """Poll every due feed once, until none is due or the daemon stops.

    When the store runs out of space (:class:`StoreFullError`) no more feeds are claimed,
    the polls in flight end (nothing of theirs is stored, no feed is blamed), their claims are
    given back (or at the next pass, if even that cannot be written), and the error is raised.
    """
    if pipeline.stranded:
        left, pipeline.stranded = pipeline.stranded, []
        await pipeline.db(lambda tx: tx.release_claims(left, pipeline.worker_id))
    now = datetime.now(UTC)
    due = await pipeline.db(lambda tx: tx.count_due_feeds(now), write=False)
    pipeline.events.pass_started(due)
    summary = RunSummary()
    pollers = max(1, min(POLLS_IN_FLIGHT, due))
    claims = _Claims(pipeline, now, batch=min(pollers, CLAIM_BATCH))
    try:
        outcomes = await asyncio.gather(
            *(_poll_claimed(pipeline, fetcher, summary, claims) for _ in range(pollers)),
            return_exceptions=True,
        )
    finally:
        try:
            await claims.give_back()
        except StoreError:  # full: the next pass gives them back
            pipeline.stranded = claims.unreleased
    errors = [e for e in outcomes if isinstance(e, BaseException)]
    if errors:
        raise next((e for e in errors if isinstance(e, StoreFullError)), errors[0])
    return summary


async def _poll_claimed(
    pipeline: Pipeline, fetcher: Fetcher, summary: RunSummary, claims: _Claims
) -> None:
    """Take one claimed feed at a time and poll it, until none is left (a feed that comes due
    again during the pass waits for the next pass) or the store is full."""
    while not pipeline.stopping and (claimed := await claims.next()):
        feed, claimed_at = claimed
        renewal = asyncio.create_task(_keep_lease(pipeline, feed.id, claimed_at))
        try:
            outcome = await _poll_unless_stopped(pipeline, feed, fetcher)
            if outcome is None:  # stopped before it sent anything: the feed stays due
                claims.unpolled(feed)
                return
            summary.add(outcome)
        except StoreFullError:
            claims.halt(feed)
            raise
        finally:
            renewal.cancel()


async def _poll_unless_stopped(
    pipeline: Pipeline, feed: FeedRecord, fetcher: Fetcher
) -> PollOutcome | None:
    """The feed's poll, or None when the daemon stopped (:meth:`Pipeline.stop`) while it still
    waited for its host's turn: a poll that has sent nothing is given up, not waited for."""
    sent = False

    def started() -> None:
        nonlocal sent
        sent = True

    task = asyncio.create_task(pipeline.poll(feed, fetcher, started))
    pipeline.waiting[task] = lambda: sent
    try:
        return await task
    except asyncio.CancelledError:
        current = asyncio.current_task()
        if task.cancelled() and (current is None or not current.cancelling()):
            return None
        raise
    finally:
        pipeline.waiting.pop(task, None)


async def _keep_lease(pipeline: Pipeline, feed_id: int, claimed_at: float) -> None:
    """Extend this worker's lease on a feed every third of the lease while polling it; the
    first extension is due a third of the lease after the claim (``time.monotonic()``)."""
    lease_s = pipeline.settings.schedule.lease_s
    await asyncio.sleep(max(0.0, claimed_at + lease_s / 3 - time.monotonic()))
    while True:
        until = datetime.now(UTC) + timedelta(seconds=lease_s)
        await pipeline.aside(
            partial(feedrows.renew, feed_id=feed_id, owner=pipeline.worker_id, until=until)
        )
        await asyncio.sleep(lease_s / 3)


class _Claims:
    """The due feeds of one pass, claimed ``batch`` at a time for the pass's pollers.

    One claim transaction per feed cost as much as the poll of a feed that answers 304; a
    batch costs one transaction per round of polls. A feed waits in the batch for at most one
    poll of another poller, well within its lease (whose first renewal is timed from the
    claim).
    """

    def __init__(self, pipeline: Pipeline, due_at: datetime, batch: int) -> None:
        self._pipeline = pipeline
        self._due_at = due_at
        self._batch = batch
        self._waiting: list[tuple[FeedRecord, float]] = []  # next feed last
        self._lock = asyncio.Lock()
        self._exhausted = False
        self._interrupted: list[int] = []  # feeds whose poll the full store stopped
        self.unreleased: list[int] = []  # what give_back could not release

    async def next(self) -> tuple[FeedRecord, float] | None:
        """A claimed feed and when it was claimed (``time.monotonic()``); None when no feed is
        due any more."""
        async with self._lock:
            if self._exhausted:
                return None
            if not self._waiting:
                pipeline, due_at, batch = self._pipeline, self._due_at, self._batch
                feeds = await pipeline.db(lambda tx: pipeline.claim(tx, due_at, batch))
                claimed_at = time.monotonic()
                self._waiting = [(feed, claimed_at) for feed in reversed(feeds)]
                self._exhausted = not feeds
            return self._waiting.pop() if self._waiting else None

    def unpolled(self, feed: FeedRecord) -> None:
        """``feed`` was claimed but its poll given up before it sent anything."""
        self._exhausted = True
        self._interrupted.append(feed.id)

    def halt(self, feed: FeedRecord) -> None:
        """The store is full: claim no more feeds; ``feed``'s poll was stopped by it."""
        self._exhausted = True
        self._interrupted.append(feed.id)

    async def give_back(self) -> None:
        """Release the leases of claimed feeds that were not polled (the pass was stopped) or
        whose poll the full store stopped; :attr:`unreleased` names them if that fails."""
        left = [feed.id for feed, _ in self._waiting] + self._interrupted
        self._waiting, self._interrupted = [], []
        if left:
            owner = self._pipeline.worker_id
            self.unreleased = left
            await self._pipeline.db(lambda tx: tx.release_claims(left, owner))
            self.unreleased = []
