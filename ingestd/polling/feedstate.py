"""How a poll's outcome changes a feed's stored state: column values out, no I/O.

Statuses: ``ok`` (a 200 answer), ``not_modified`` (304), ``failing`` (transient or permanent
failures), ``rate_limited`` (429, or 503 with Retry-After), ``gone`` (410; re-probed weekly) and
``redirected`` (the feed answers through a redirect). A permanent redirect (every hop 301/308)
becomes the feed's URL once seen on ``ADOPT_AFTER`` consecutive polls; the old URL is kept as an
alias. Temporary redirects (302/307) never change it.
"""

from __future__ import annotations

import email.utils
import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from ingestd.config import ScheduleSettings
from ingestd.model import FailureKind, Fetched, FetchFailed, NotModified, ParsedFeed
from ingestd.polling import schedule
from ingestd.polling.schedule import Hints, RecentPoll
from ingestd.store import FeedRecord

ADOPT_AFTER = 3  # consecutive polls that must see a permanent redirect before it is adopted
REVALIDATE_AFTER = timedelta(days=1)  # poll without validators if no 200 came for this long
NOTHING_NEW = RecentPoll(0, 0)  # a poll that stored no new item (304, unchanged body)
_MAX_AGE = re.compile(r"(?:^|,)\s*(?:s-)?max-age\s*=\s*\"?(\d+)", re.IGNORECASE)


def wants_unconditional(feed: FeedRecord, now: datetime) -> bool:
    """True when validators should not be sent this time (servers whose validators lie would
    otherwise never show new entries): no full answer for ``REVALIDATE_AFTER``."""
    if feed.etag is None and feed.last_modified is None:
        return False
    return feed.body_fetched_at is None or now - feed.body_fetched_at >= REVALIDATE_AFTER


def hints(parsed: ParsedFeed | None, headers: Mapping[str, str], now: datetime) -> Hints:
    """What the feed and its HTTP headers say about polling frequency."""
    max_age = _MAX_AGE.search(headers.get("cache-control", ""))
    expires_in = None
    if expires := headers.get("expires"):
        try:
            when = email.utils.parsedate_to_datetime(expires)
            expires_in = (when.astimezone(UTC) - now).total_seconds()
        except (TypeError, ValueError, IndexError):
            expires_in = None
    return Hints(
        ttl_s=float(parsed.ttl_s) if parsed and parsed.ttl_s else None,
        update_period_s=parsed.update_period_s if parsed else None,
        max_age_s=float(max_age.group(1)) if max_age else None,
        expires_in_s=expires_in if expires_in and expires_in > 0 else None,
    )


def after_answer(
    feed: FeedRecord,
    result: Fetched | NotModified,
    settings: ScheduleSettings,
    now: datetime,
    recent: Sequence[RecentPoll] = (),
    parsed: ParsedFeed | None = None,
    this_poll: RecentPoll = NOTHING_NEW,
) -> dict[str, Any]:
    """Column values after a 200 or 304 answer; ``recent``: the polls before this one (newest
    first), ``this_poll``: what this one stored (kept on the row for the next)."""
    headers = result.headers if isinstance(result, Fetched) else {}
    every = schedule.interval_s(feed.interval_s, settings, hints(parsed, headers, now), recent)
    values: dict[str, Any] = {
        "status": "ok" if isinstance(result, Fetched) else "not_modified",
        "consecutive_failures": 0,
        "failure_kind": None,
        "last_error": None,
        "last_polled_at": now,
        "last_success_at": now,
        "next_poll_at": schedule.next_success(now, every),
        "lease_owner": None,
        "lease_until": None,
        "recent_polls": schedule.encode_recent(this_poll, recent),
    }
    if isinstance(result, Fetched):
        values["etag"] = result.validators.etag
        values["last_modified"] = result.validators.last_modified
        values["body_fetched_at"] = now
    values.update(redirect_state(feed, result))
    return values


def redirect_state(feed: FeedRecord, result: Fetched | NotModified) -> dict[str, Any]:
    """Redirect bookkeeping: count a permanent redirect, adopt it after ``ADOPT_AFTER`` polls."""
    moved_to = result.moved_to
    if moved_to is None:
        redirected = isinstance(result, Fetched) and result.url != feed.url
        values: dict[str, Any] = {"redirect_to": None, "redirect_seen": 0}
        if redirected:
            values["status"] = "redirected"
        return values
    seen = feed.redirect_seen + 1 if moved_to == feed.redirect_to else 1
    if seen < ADOPT_AFTER:
        return {"redirect_to": moved_to, "redirect_seen": seen, "status": "redirected"}
    aliases = (*feed.aliases, feed.url)
    return {
        "url": moved_to,
        "aliases": "\n".join(dict.fromkeys(aliases)),
        "redirect_to": None,
        "redirect_seen": 0,
    }


def after_failure(
    feed: FeedRecord, failure: FetchFailed, settings: ScheduleSettings, now: datetime
) -> dict[str, Any]:
    """Column values after a failed poll: the failure class, backoff and Retry-After."""
    failures = feed.consecutive_failures + 1
    every = schedule.interval_s(feed.interval_s, settings)
    if failure.status == 410:
        status = "gone"
    elif failure.kind is FailureKind.RATE_LIMITED:
        status = "rate_limited"
    else:
        status = "failing"
    values: dict[str, Any] = {
        "status": status,
        "consecutive_failures": failures,
        "failure_kind": failure.kind.value,
        "last_error": failure.reason,
        "last_polled_at": now,
        "next_poll_at": schedule.next_failure(
            now, every, failures, failure.kind, failure.status, failure.retry_after_s
        ),
        "lease_owner": None,
        "lease_until": None,
    }
    if failure.retry_after_s is not None:
        capped = min(failure.retry_after_s, schedule.MAX_BACKOFF_S)
        values["not_before_at"] = now + timedelta(seconds=capped)
    return values
