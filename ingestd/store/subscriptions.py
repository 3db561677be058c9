"""Feed subscriptions made on the command line (``ingest feeds add/remove/import``).

Configured feeds (``[[feeds]]``) are written by :meth:`Transaction.sync_feeds` with
``source='config'``; the functions here write ``source='cli'`` feeds, which configuration sync
never deactivates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update

from ingestd.model import FeedOptions
from ingestd.store.feedoptions import option_columns
from ingestd.store.records import FeedRecord
from ingestd.store.schema import feeds
from ingestd.store.store import Transaction
from ingestd.urls import feed_url_key

CLI = "cli"
CONFIG = "config"


@dataclass(frozen=True)
class Known:
    """A stored feed as an import sees it."""

    id: int
    active: bool


@dataclass(frozen=True)
class NewFeed:
    """A command-line feed to insert (``feeds import``)."""

    url: str
    name: str | None = None
    folder: str | None = None
    opml_text: str | None = None
    site_url: str | None = None


def find_feed(tx: Transaction, url: str) -> FeedRecord | None:
    """The stored feed with this URL (or with it among its earlier URLs, or spelled with another
    scheme, ``www.`` or trailing slash), active or not; None for an empty URL."""
    if not url.strip():
        return None
    feed_id = tx.feed_id_for_url(url)
    if feed_id is None:
        key = feed_url_key(url)
        feed_id = tx.conn.execute(
            select(feeds.c.id).where(feeds.c.url_key == key).order_by(feeds.c.id).limit(1)
        ).scalar()
    return tx.feed(int(feed_id)) if feed_id is not None else None


def url_index(tx: Transaction) -> dict[str, Known]:
    """Every stored feed by the key (:func:`ingestd.urls.feed_url_key`) of its URL and of its
    earlier URLs: one query, for an import to look each of its entries up in memory."""
    index: dict[str, Known] = {}
    query = select(feeds.c.id, feeds.c.url, feeds.c.aliases, feeds.c.active).order_by(feeds.c.id)
    for row in tx.conn.execute(query):
        known = Known(int(row.id), bool(row.active))
        index.setdefault(feed_url_key(row.url), known)
        for alias in (row.aliases or "").split("\n"):
            if alias:
                index.setdefault(feed_url_key(alias), known)
    return index


def insert_feeds(tx: Transaction, new: Sequence[NewFeed], now: datetime) -> None:
    """Insert these command-line feeds, never polled yet (one statement for the batch)."""
    rows = [{**entry.__dict__, "url_key": feed_url_key(entry.url)} for entry in new]
    if rows:
        tx.conn.execute(
            insert(feeds).values(
                status="new",
                consecutive_failures=0,
                created_at=now,
                active=True,
                source=CLI,
            ),
            rows,
        )


def reactivate(tx: Transaction, found: Mapping[int, NewFeed]) -> None:
    """Subscribe again to removed feeds (by id): active, command-line, named and filed anew."""
    rows = [
        {"_id": feed_id, "name": entry.name, "folder": entry.folder, "opml_text": entry.opml_text}
        for feed_id, entry in found.items()
    ]
    if rows:
        statement = (
            update(feeds)
            .where(feeds.c.id == bindparam("_id"))
            .values(
                name=bindparam("name"),
                folder=bindparam("folder"),
                opml_text=bindparam("opml_text"),
                active=True,
                source=CLI,
            )
        )
        tx.conn.execute(statement, rows)


def subscribe(
    tx: Transaction,
    url: str,
    now: datetime,
    *,
    name: str | None = None,
    interval_s: float | None = None,
    title: str | None = None,
    options: FeedOptions | None = None,
) -> FeedRecord:
    """Store ``url`` as an active command-line feed, or reactivate it if it is stored inactive.

    A reactivated feed keeps its polling state and items; ``name``/``interval_s`` replace its
    own, ``title`` (the feed's own title, when it was checked) only fills a missing one.
    """
    existing = find_feed(tx, url)
    values: dict[str, Any] = {
        "name": name,
        "interval_s": interval_s,
        "active": True,
        "source": CLI,
        **option_columns(options or FeedOptions()),
    }
    if existing is not None:
        tx.update_feed(existing.id, title=existing.title or title, **values)
        feed_id = existing.id
    else:
        result = tx.conn.execute(
            insert(feeds).values(
                url=url,
                url_key=feed_url_key(url),
                title=title,
                status="new",
                consecutive_failures=0,
                created_at=now,
                **values,
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
            url=url,
            url_key=feed_url_key(url),
            status="ok",
            active=False,
            consecutive_failures=0,
            created_at=now,
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
