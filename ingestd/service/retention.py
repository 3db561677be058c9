"""Retention: items stored more than ``[retention] days`` ago are pruned, in small batches.

Each batch is one short transaction on the pipeline's writer thread (see
:func:`ingestd.store.upkeep.prune_batch` for what a batch deletes and what it keeps), with a
pause between batches, so the writes of polls in flight are never held up behind a long
delete. SQLite reuses the freed pages, so a database whose items come and go stays the same
size instead of growing. ``days = 0`` keeps everything.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import structlog

from ingestd.pipeline import Pipeline
from ingestd.store.upkeep import Pruned, prune_batch

PAUSE_S = 0.05  # between two batches: the writer thread takes the polls' writes meanwhile
log = structlog.get_logger("ingestd.retention")


async def prune(
    pipeline: Pipeline, days: float, stopping: Callable[[], bool] = lambda: False
) -> Pruned:
    """Delete what is older than ``days`` (nothing when ``days`` is 0); returns the totals."""
    if days <= 0:
        return Pruned()
    now = datetime.now(UTC)
    before = now - timedelta(days=days)
    items = clusters = polls = 0
    while not stopping():
        batch = await pipeline.db(lambda tx: prune_batch(tx, before, now))
        if not batch:
            break
        items, clusters, polls = items + batch.items, clusters + batch.clusters, polls + batch.polls
        await asyncio.sleep(PAUSE_S)
    total = Pruned(items, clusters, polls)
    if total:
        log.info(
            "retention", items=items, clusters=clusters, polls=polls, before=before.isoformat()
        )
    return total
