"""When to poll a feed next (pure: times, hints and outcomes in, a time out).

* The interval is the feed's own (else ``default_interval``), lengthened to what the publisher
  asks for (``<ttl>``, ``sy:updatePeriod``/``sy:updateFrequency``, ``Cache-Control: max-age``,
  ``Expires``) when that is longer, and bounded by ``min_interval``/``max_interval``.
* It adapts to the feed, only ever slower: quiet feeds (no new items for several polls) are
  polled up to 8× less often, and feeds whose new items are nearly all republications of stories
  already stored half as often. It never polls faster than the interval: that interval is what
  the operator (and the publisher's hints) asked for.
* Failures back off per class: transient failures double the interval per consecutive failure;
  permanent ones start at four intervals; rate limits wait at least the server's Retry-After.
  Every backoff is capped at ``MAX_BACKOFF_S``; a 410 Gone feed is re-probed after a week.
* Every delay is lengthened by a random 0-10%, so feeds of one host drift apart instead of
  polling in lockstep; jitter only ever delays, so no feed is polled before its interval ends.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from ingestd.config import ScheduleSettings
from ingestd.model import FailureKind

MAX_BACKOFF_S = 86_400.0  # failures never push a feed further out than a day
GONE_REPROBE_S = 7 * 86_400.0  # a 410 Gone feed is asked again after a week
JITTER = 0.1  # every delay is lengthened by up to 10%
QUIET_POLLS = 3  # polls without new items before the interval starts to grow
MAX_SLOWDOWN = 8.0  # a quiet feed is polled at most this many times less often
REPUBLISHED_SHARE = 0.8  # above this share of republications a feed is polled half as often
RECENT_POLLS = 6  # successful polls the adaptation looks back on


@dataclass(frozen=True)
class Hints:
    """What the publisher says about how often to poll, in seconds (None: not said)."""

    ttl_s: float | None = None
    update_period_s: float | None = None
    max_age_s: float | None = None
    expires_in_s: float | None = None


@dataclass(frozen=True)
class RecentPoll:
    """A past successful poll: how many new items it stored and how many were republications."""

    new_items: int
    republications: int


def decode_recent(text: str) -> list[RecentPoll]:
    """The polls kept on a feed's row (:func:`encode_recent`), newest first; a malformed
    part is skipped."""
    recent = []
    for part in text.split(","):
        new, _, republications = part.partition(":")
        if new.isdigit() and republications.isdigit():
            recent.append(RecentPoll(int(new), int(republications)))
    return recent


def encode_recent(latest: RecentPoll, earlier: Sequence[RecentPoll]) -> str:
    """``latest`` followed by ``earlier`` (newest first), :data:`RECENT_POLLS` at most, as
    ``"new:republications,..."`` for the feed's row."""
    kept = [latest, *earlier][:RECENT_POLLS]
    return ",".join(f"{poll.new_items}:{poll.republications}" for poll in kept)


def interval_s(
    feed_interval_s: float | None,
    settings: ScheduleSettings,
    hints: Hints | None = None,
    recent: Sequence[RecentPoll] = (),
) -> float:
    """The feed's polling interval in seconds (see the module docstring)."""
    base = feed_interval_s or settings.default_interval_s
    asked = [value for value in _hint_values(hints) if value and value > base]
    if asked:
        base = max(asked)
    base *= _adaptation(recent)
    return min(max(base, settings.min_interval_s), settings.max_interval_s)


def _hint_values(hints: Hints | None) -> list[float | None]:
    if hints is None:
        return []
    return [hints.ttl_s, hints.update_period_s, hints.max_age_s, hints.expires_in_s]


def _adaptation(recent: Sequence[RecentPoll]) -> float:
    """A factor on the interval from the latest polls (newest first)."""
    if not recent:
        return 1.0
    quiet = 0
    for poll in recent:
        if poll.new_items:
            break
        quiet += 1
    if quiet >= QUIET_POLLS:
        return float(min(2 ** (quiet // QUIET_POLLS), MAX_SLOWDOWN))
    new = sum(poll.new_items for poll in recent)
    republished = sum(poll.republications for poll in recent)
    if new and republished / new >= REPUBLISHED_SHARE:
        return 2.0
    return 1.0  # never faster than the interval asked for: it is the operator's promise


def next_success(now: datetime, every_s: float, rng: random.Random | None = None) -> datetime:
    """The next poll after a successful one: one interval later, with jitter."""
    return now + timedelta(seconds=_jitter(every_s, rng))


def failure_delay_s(
    every_s: float,
    failures: int,
    kind: FailureKind,
    status: int | None = None,
    retry_after_s: float | None = None,
) -> float:
    """Seconds until the next poll after ``failures`` consecutive failures (≥ 1), no jitter."""
    if status == 410:
        return GONE_REPROBE_S
    growth = 2.0 ** max(failures - 1, 0)
    if kind is FailureKind.PERMANENT:
        delay = every_s * 4 * growth
    elif kind is FailureKind.RATE_LIMITED:
        delay = every_s * 2 * growth
    else:
        delay = every_s * growth
    delay = min(delay, MAX_BACKOFF_S)
    if retry_after_s is not None:
        delay = max(delay, min(retry_after_s, MAX_BACKOFF_S))
    return delay


def next_failure(
    now: datetime,
    every_s: float,
    failures: int,
    kind: FailureKind = FailureKind.TRANSIENT,
    status: int | None = None,
    retry_after_s: float | None = None,
    rng: random.Random | None = None,
) -> datetime:
    """The next poll after a failure: :func:`failure_delay_s` with jitter that never comes
    before the server's Retry-After."""
    delay = failure_delay_s(every_s, failures, kind, status, retry_after_s)
    jittered = _jitter(delay, rng)
    if retry_after_s is not None:
        jittered = max(jittered, min(retry_after_s, MAX_BACKOFF_S))
    return now + timedelta(seconds=jittered)


def _jitter(delay_s: float, rng: random.Random | None) -> float:
    source = rng or random
    return delay_s * (1 + source.uniform(0.0, JITTER))
