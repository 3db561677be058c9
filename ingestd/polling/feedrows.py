"""Writing a feed's new state inside a transaction: Retry-After holds, redirect adoption,
host-wide rate limits, lease renewal, and the recent polls the schedule adapts to."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog

from ingestd.polling import schedule
from ingestd.store import FeedRecord, Transaction
from ingestd.urls import feed_url_key, site_host

log = structlog.get_logger("ingestd.poll")

HOST_RATE_LIMITED_FEEDS = 2  # this many rate-limited feeds make the limit the whole host's


def renew(tx: Transaction, feed_id: int, owner: str, until: datetime) -> None:
    tx.renew_lease(feed_id, owner, until)


def recent(tx: Transaction, feed: FeedRecord) -> list[schedule.RecentPoll]:
    """The feed's latest successful polls, newest first: kept on its row, or (a feed not
    polled since migration 13) read once from its poll history."""
    if feed.recent_polls is not None:
        return schedule.decode_recent(feed.recent_polls)
    found = tx.recent_polls(feed.id, schedule.RECENT_POLLS)
    return [schedule.RecentPoll(new, rep) for new, rep in found]


def update_feed(tx: Transaction, feed: FeedRecord, values: dict[str, Any]) -> None:
    """Write the feed's new state (``values`` from :mod:`ingestd.polling.feedstate`,
    ``next_poll_at`` among them). The next poll never comes before a Retry-After hold that is still
    running (it may have been set on the host meanwhile); a redirect target that is already another
    feed is not adopted (both stay as they are)."""
    new_url = values.get("url")
    if new_url and tx.feed_id_for_url(new_url) not in (None, feed.id):
        log.warning("redirect target is already a feed; not adopted", target=new_url)
        values = {k: v for k, v in values.items() if k not in ("url", "aliases")}
    elif new_url:
        log.info("feed moved permanently; adopted its new URL", new_url=new_url)
        values = {**values, "url_key": feed_url_key(new_url)}
    tx.update_feed_held(feed.id, **values)  # the hold is read by the UPDATE itself


def widen_rate_limit(tx: Transaction, feed: FeedRecord, until: datetime, now: datetime) -> None:
    """When several feeds of one host are rate-limited, hold back all of that host's feeds."""
    host = site_host(feed.url)
    if host is None:
        return
    siblings = [f for f in tx.feeds(active_only=True) if site_host(f.url) == host]
    limited = [
        f
        for f in siblings
        if f.status == "rate_limited" and f.not_before_at and f.not_before_at > now
    ]
    if len(limited) < HOST_RATE_LIMITED_FEEDS:
        return
    log.warning(
        "host rate-limits several feeds; holding back all its feeds",
        host=host,
        until=until.isoformat(),
    )
    for sibling in siblings:
        later = max(until, sibling.next_poll_at or until)
        tx.update_feed(
            sibling.id, not_before_at=max(until, sibling.not_before_at or until), next_poll_at=later
        )
