"""Polls that stored nothing new (a ``304``, or the same body again), recorded in batches.

Most polls of a pass of conditional requests are these, and each only moves its feed's row
on (the next poll time, the schedule's memory) and adds a line to the poll history. Recording
them one transaction function each cost more in statement overhead than the statements
themselves, so they queue here and go to the writer together: while one batch is being
written, the next one fills. Each batch is one writer function with one ``executemany``
UPDATE per shape of row values and one ``executemany`` INSERT of poll lines.

A poll's ``record`` returns once its batch has committed (nothing is reported stored before
it is); a batch that fails fails every poll in it with the same error (the store's failure,
such as :class:`~ingestd.errors.StoreFullError`, not a feed's).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ingestd.config import ScheduleSettings
from ingestd.model import Fetched, NotModified
from ingestd.polling import feedrows, feedstate
from ingestd.store import FeedRecord, PollRecord, Transaction

Db = Callable[..., Awaitable[Any]]  # Pipeline.db: fn(tx) on the writer


@dataclass(frozen=True)
class Answer:
    """One poll that stored nothing new: its feed, when it started, the answer, its outcome
    (``not_modified`` or ``unchanged``)."""

    feed: FeedRecord
    started: datetime
    result: Fetched | NotModified
    outcome: str


class AnswerBook:
    """Queues :class:`Answer` records and writes them in batches on the writer."""

    def __init__(self, db: Db, schedule: ScheduleSettings) -> None:
        self._db = db
        self._schedule = schedule
        self._pending: list[tuple[Answer, asyncio.Future[None]]] = []
        self._draining = False

    async def record(self, answer: Answer) -> None:
        """Record ``answer``; returns once it is committed."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((answer, done))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        await asyncio.shield(done)  # a cancelled poll's answer is still written

    async def _drain(self) -> None:
        """Write batches until none is waiting."""
        try:
            while self._pending:
                batch, self._pending = self._pending, []
                answers = [answer for answer, _ in batch]
                try:
                    await self._db(
                        functools.partial(write_answers, answers=answers, schedule=self._schedule)
                    )
                except Exception as exc:  # the store's failure: every poll of the batch sees it
                    for _, done in batch:
                        if not done.done():
                            done.set_exception(exc)
                    continue
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)
        finally:
            self._draining = False


def write_answers(tx: Transaction, answers: Sequence[Answer], schedule: ScheduleSettings) -> None:
    """The feed rows and poll lines of ``answers``, in ``tx``: rows of the same shape in one
    statement; a row that adopts a redirect (a new URL) through :func:`feedrows.update_feed`,
    which checks that no other feed has that URL."""
    now = datetime.now(UTC)
    shapes: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    polls = []
    for answer in answers:
        feed = answer.feed
        values = feedstate.after_answer(
            feed, answer.result, schedule, now, feedrows.recent(tx, feed)
        )
        if "url" in values:
            feedrows.update_feed(tx, feed, values)
        else:
            shapes.setdefault(tuple(sorted(values)), []).append({"_id": feed.id, **values})
        status = answer.result.status if isinstance(answer.result, Fetched) else 304
        polls.append(
            PollRecord(feed.id, answer.started, now, answer.outcome, status, 0, 0, 0, None)
        )
    for rows in shapes.values():
        tx.update_feeds_held(rows)
    tx.insert_polls(polls)
