"""``ingest feeds import``: an OPML file's feeds subscribed in linear time, in batches.

The stored feeds are read once into an index by URL key (:func:`ingestd.urls.feed_url_key`:
scheme, ``www.`` and trailing slash ignored), every entry is looked up in it in memory, and
the new feeds are inserted :data:`BATCH` at a time, one transaction per batch. A feed is one
row, so an import stopped at any moment leaves whole feeds only; running it again skips those
already imported as duplicates and adds the rest.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ingestd.parse.opml import OpmlDocument, OpmlFeed, Problem
from ingestd.store import Store, Transaction
from ingestd.store.subscriptions import Known, NewFeed, insert_feeds, reactivate, url_index
from ingestd.urls import feed_url_key

BATCH = 5000  # feeds per transaction

Progress = Callable[[int, int], None]  # (feeds written so far, feeds to write)


@dataclass(frozen=True)
class ImportReport:
    """What ``feeds import`` did."""

    imported: int
    duplicates: int
    invalid: tuple[Problem, ...]
    not_feeds: tuple[Problem, ...] = ()

    def line(self) -> str:
        """The summary: "imported N feeds, skipped M duplicates, P pages that are not feeds,
        K invalid entries" (the pages only when there were some)."""
        skipped = len(self.not_feeds)
        pages = (
            f", {_count(skipped, 'page that is not a feed', 'pages that are not feeds')}"
            if skipped
            else ""
        )
        return (
            f"imported {_count(self.imported, 'feed')}, "
            f"skipped {_count(self.duplicates, 'duplicate')}{pages}, "
            f"{_count(len(self.invalid), 'invalid entry', 'invalid entries')}"
        )


def _count(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else many or one + 's'}"


@dataclass
class Plan:
    """What an import will write: new feeds, removed feeds subscribed again, duplicates."""

    new: list[NewFeed] = field(default_factory=list)
    again: dict[int, NewFeed] = field(default_factory=dict)
    duplicates: int = 0


def plan(document: OpmlDocument, known: dict[str, Known]) -> Plan:
    """Sort the document's feeds against the stored ones (``known``, by URL key). Pure and
    linear: the first spelling of a feed in the file is kept, later ones are duplicates."""
    result = Plan()
    seen: set[str] = set()
    for entry in document.feeds:
        key = feed_url_key(entry.url)
        stored = known.get(key)
        if key in seen or (stored is not None and stored.active):
            result.duplicates += 1
            continue
        seen.add(key)
        if stored is not None:
            result.again[stored.id] = new_feed(entry)
        else:
            result.new.append(new_feed(entry))
    return result


def new_feed(entry: OpmlFeed) -> NewFeed:
    """The row of an OPML entry: named by its title (else text), its text kept when it says
    something else, its folder and site page."""
    text = entry.text if entry.text and entry.text != entry.name else None
    return NewFeed(entry.url, entry.name, entry.folder, text, entry.html_url)


def import_document(
    store: Store,
    document: OpmlDocument,
    sync: Callable[[Transaction], None],
    progress: Progress | None = None,
    batch: int = BATCH,
) -> ImportReport:
    """Subscribe to the document's feeds: ``sync`` (the configuration's feeds, first) and the
    index in one transaction, then the new feeds ``batch`` at a time, ``progress`` told after
    each batch."""
    with store.transaction() as tx:
        sync(tx)
        todo = plan(document, url_index(tx))
        reactivate(tx, todo.again)
    now = datetime.now(UTC)
    total = len(todo.new)
    for start in range(0, total, batch):
        with store.transaction() as tx:
            insert_feeds(tx, todo.new[start : start + batch], now)
        if progress is not None:
            progress(min(start + batch, total), total)
    return ImportReport(
        total + len(todo.again), todo.duplicates, document.problems, document.not_feeds
    )
