"""When to poll a feed next (pure: time and outcomes in, a time out)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from ingestd.config import ScheduleSettings

MAX_BACKOFF_S = 86_400.0  # failures never push a feed further out than a day
JITTER = 0.1  # every delay is spread by ±10% so feeds of one host drift apart


def interval_s(
    feed_interval_s: float | None, settings: ScheduleSettings, ttl_s: int | None = None
) -> float:
    """The feed's polling interval in seconds: its own, else the default, at least its ``<ttl>``,
    bounded by ``min_interval``/``max_interval``."""
    base = feed_interval_s or settings.default_interval_s
    if ttl_s and ttl_s > base:
        base = float(ttl_s)
    return min(max(base, settings.min_interval_s), settings.max_interval_s)


def next_success(now: datetime, every_s: float, rng: random.Random | None = None) -> datetime:
    """The next poll after a successful one: one interval later, with jitter."""
    return now + timedelta(seconds=_jitter(every_s, rng))


def next_failure(
    now: datetime,
    every_s: float,
    failures: int,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """The next poll after ``failures`` consecutive failures (≥ 1): the interval doubled per
    failure, capped at a day, never sooner than the server's Retry-After."""
    delay = min(every_s * (2 ** max(failures - 1, 0)), MAX_BACKOFF_S)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_BACKOFF_S))
    return now + timedelta(seconds=_jitter(delay, rng))


def _jitter(delay_s: float, rng: random.Random | None) -> float:
    source = rng or random
    return delay_s * (1 + source.uniform(-JITTER, JITTER))
