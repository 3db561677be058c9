"""The pure schedule: intervals, adaptation, backoff by failure class, jitter."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from ingestd.config import ScheduleSettings
from ingestd.model import FailureKind
from ingestd.polling.schedule import (
    GONE_REPROBE_S,
    MAX_BACKOFF_S,
    Hints,
    RecentPoll,
    decode_recent,
    encode_recent,
    failure_delay_s,
    interval_s,
    next_failure,
    next_success,
)

SETTINGS = ScheduleSettings(default_interval_s=1800, min_interval_s=300, max_interval_s=86400)


def test_interval_takes_the_longest_publisher_hint_and_stays_in_bounds() -> None:
    assert interval_s(None, SETTINGS) == 1800
    assert interval_s(None, SETTINGS, Hints(ttl_s=3600, max_age_s=7200)) == 7200
    assert interval_s(None, SETTINGS, Hints(max_age_s=60)) == 1800  # shorter hints are ignored
    assert interval_s(60, SETTINGS) == 300  # min_interval
    assert interval_s(None, SETTINGS, Hints(update_period_s=10 * 86400)) == 86400  # max_interval


def test_quiet_feeds_and_republishers_slow_down_busy_ones_never_go_faster() -> None:
    quiet = [RecentPoll(0, 0)] * 6
    busy = [RecentPoll(3, 0)] * 4
    echoes = [RecentPoll(5, 5), RecentPoll(4, 4)]
    assert interval_s(None, SETTINGS, recent=quiet) == 1800 * 4
    assert interval_s(None, SETTINGS, recent=[RecentPoll(0, 0)] * 30) == 1800 * 8  # capped
    assert interval_s(None, SETTINGS, recent=busy) == 1800
    assert interval_s(None, SETTINGS, recent=echoes) == 3600


def test_backoff_grows_per_class_and_is_capped() -> None:
    transient = [failure_delay_s(600, n, FailureKind.TRANSIENT) for n in (1, 2, 3)]
    assert transient == [600, 1200, 2400]
    assert failure_delay_s(600, 1, FailureKind.PERMANENT) == 2400
    assert failure_delay_s(600, 1, FailureKind.RATE_LIMITED, retry_after_s=5000) == 5000
    assert failure_delay_s(600, 40, FailureKind.TRANSIENT) == MAX_BACKOFF_S
    assert failure_delay_s(600, 1, FailureKind.PERMANENT, status=410) == GONE_REPROBE_S


def test_jitter_spreads_polls_but_never_before_retry_after() -> None:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    rng = random.Random(1)
    times = {next_success(now, 1000, rng) for _ in range(50)}
    assert len(times) > 40
    assert all(timedelta(seconds=1000) <= t - now <= timedelta(seconds=1100) for t in times)
    for _ in range(50):
        later = next_failure(now, 10, 1, FailureKind.RATE_LIMITED, 429, 3600, rng)
        assert later - now >= timedelta(seconds=3600)


def test_the_recent_polls_kept_on_a_feed_row_round_trip_and_are_capped() -> None:
    earlier = [RecentPoll(3, 1)] * 8
    text = encode_recent(RecentPoll(0, 0), earlier)
    assert text == "0:0," + ",".join(["3:1"] * 5)
    assert decode_recent(text) == [RecentPoll(0, 0)] + [RecentPoll(3, 1)] * 5
    assert decode_recent("2:0,junk,:,4:1") == [RecentPoll(2, 0), RecentPoll(4, 1)]
    assert decode_recent("") == []
