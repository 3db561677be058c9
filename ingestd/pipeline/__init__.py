"""Orchestration: a pass over the due feeds, one poll of a feed, the CPU pool, and the store
access of one process, each in a module of its own (:mod:`.passes`, :mod:`.poll`, :mod:`.cpu`,
:mod:`.sharedturns`), put together by :class:`~ingestd.pipeline.core.Pipeline`."""

from __future__ import annotations

from ingestd.pipeline.core import Pipeline
from ingestd.pipeline.outcome import PollOutcome, RunSummary
from ingestd.pipeline.poll import FEED_ACCEPT

__all__ = ["FEED_ACCEPT", "Pipeline", "PollOutcome", "RunSummary"]
