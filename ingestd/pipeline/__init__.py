"""Orchestration: a pass over the due feeds (:mod:`.passes`), one poll of a feed
(:mod:`.poll`), its entries (:mod:`.entries`), the writer thread (:mod:`.writer`), the
observers (:mod:`.events`), a run (:mod:`.runner`), the CPU pool (:mod:`.workers`) and the
host turns shared through the store (:mod:`.sharedturns`), put together by
:class:`~ingestd.pipeline.core.Pipeline`.

The names below load on first use (PEP 562): importing the package costs nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingestd.lazy import lazy_names

if TYPE_CHECKING:
    from ingestd.pipeline.core import Pipeline
    from ingestd.pipeline.outcome import PollOutcome, RunSummary
    from ingestd.pipeline.poll import FEED_ACCEPT

__all__ = ["FEED_ACCEPT", "Pipeline", "PollOutcome", "RunSummary"]
_HOMES = {
    "FEED_ACCEPT": "ingestd.pipeline.poll",
    "Pipeline": "ingestd.pipeline.core",
    "PollOutcome": "ingestd.pipeline.outcome",
    "RunSummary": "ingestd.pipeline.outcome",
}

__getattr__ = lazy_names(__name__, _HOMES)
