"""Feed subscriptions made on the command line (``ingest feeds add/remove/import``).

Configured feeds (``[[feeds]]``) are written by :meth:`Transaction.sync_feeds` with
``source='config'``; the functions here write ``source='cli'`` feeds, which configuration sync
never deactivates.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, insert, select, update

from ingestd.store.records import FeedRecord
from ingestd.store.schema import feeds
from ingestd.store.store import Transaction

CLI = "cli"
CONFIG = "config"


def find_feed(tx: Transaction, url: str) -> FeedRecord | None:
    """The stored feed with this URL (or with it among its earlier URLs), active or not; None
    for an empty URL."""
    if not url.strip():
        return None
    feed_id = tx.feed_id_for_url(url)
    return tx.feed(feed_id) if feed_id is not None else None


def subscribe(
    tx: Transaction,
    url: str,
    now: datetime,
    *,
    name: str | None = None,
    interval_s: float | None = None,
    title: str | None = None,
) -> FeedRecord:
    """Store ``url`` as an active command-line feed, or reactivate it if it is stored inactive.

    A reactivated feed keeps its polling state and items; ``name``/``interval_s`` replace its
    own, ``title`` (the feed's own title, when it was checked) only fills a missing one.
    """
    existing = find_feed(tx, url)
    values = {"name": name, "interval_s": interval_s, "active": True, "source": CLI}
    if existing is not None:
        tx.update_feed(existing.id, title=existing.title or title, **values)
        feed_id = existing.id
    else:
        result = tx.conn.execute(
            insert(feeds).values(
                url=url, title=title, status="new", consecutive_failures=0, created_at=now, **values
            )
        )
        feed_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    found = tx.feed(feed_id)
    assert found is not None
    return found


def add_feed(tx: Transaction, url: str, now: datetime) -> int:
    """Store an inactive feed that nothing polls (items of ``ingest eval`` belong to one);
    returns its id."""
    result = tx.conn.execute(
        insert(feeds).values(
            url=url, status="ok", active=False, consecutive_failures=0, created_at=now
        )
    )
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def unsubscribe(tx: Transaction, feed_id: int) -> None:
    """Stop polling a feed; its items and polling history stay."""
    tx.conn.execute(update(feeds).where(feeds.c.id == feed_id).values(active=False))


def count_active(tx: Transaction, source: str | None = None) -> int:
    """How many active feeds there are (of one source, if given)."""
    query = select(func.count()).select_from(feeds).where(feeds.c.active.is_(True))
    if source is not None:
        query = query.where(feeds.c.source == source)
    return int(tx.conn.execute(query).scalar() or 0)
