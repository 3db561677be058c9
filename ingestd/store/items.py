"""Items: their identity, writes and reads."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    delete,
    func,
    select,
)

from ingestd.store.base import TransactionBase
from ingestd.store.records import (
    ItemRecord,
    NewItem,
)
from ingestd.store.schema import (
    NEWEST_FIRST,
    dedup_keys,
    feeds,
    items,
)
from ingestd.store.statements import (
    _INSERT_ITEM,
    _ITEMS_BY_ID,
    _ITEMS_MATCHING,
    _TIMESTAMP,
    _UPDATE_ITEM,
    _item,
    _item_select,
)


class ItemQueries(TransactionBase):
    """Items: their identity, writes and reads."""

    # --- items: identity ------------------------------------------------------------------

    def known_entry_keys(self, feed_id: int, keys: Iterable[str]) -> set[str]:
        """Which of these entry keys the feed already has (stored, or pruned by retention).

        Sent to the driver as is: it runs twice per poll, and SQLAlchemy's expanding ``IN``
        cost more than the query."""
        found: set[str] = set()
        one = self.markers(1)
        for chunk, listed in self._chunks(keys):
            statement = (
                f"SELECT entry_key FROM items WHERE feed_id = {one} AND entry_key IN ({listed})"
                " UNION ALL SELECT entry_key FROM pruned_entries"
                f" WHERE feed_id = {one} AND entry_key IN ({listed})"
            )
            rows = self.conn.exec_driver_sql(statement, (feed_id, *chunk, feed_id, *chunk))
            found.update(key for (key,) in rows)
        return found

    def first_items_by_url(self, url_norms: Iterable[str]) -> dict[str, int]:
        """For each of these normalised URLs that a stored item has, the first such item's id.

        One statement for a poll's new entries (sent to the driver as is, like
        :meth:`known_entry_keys`), instead of one :meth:`items_matching` each."""
        found: dict[str, int] = {}
        for chunk, listed in self._chunks(url_norms):
            statement = (
                f"SELECT url_norm, min(id) FROM items WHERE url_norm IN ({listed})"
                " GROUP BY url_norm"
            )
            rows = self.conn.exec_driver_sql(statement, tuple(chunk))
            found.update((str(norm), int(item_id)) for norm, item_id in rows)
        return found

    def items_matching(
        self, column: str, value: str, exclude_item: int | None = None
    ) -> list[ItemRecord]:
        """Items whose ``column`` (url_norm, canonical_norm, body_hash, guid) equals ``value``."""
        statement = _ITEMS_MATCHING[column]  # KeyError for any other column
        found = self.conn.execute(statement, {"value": value, "exclude": exclude_item or 0})
        return [_item(row) for row in found]

    def item_text(self, item_id: int) -> str:
        value = self.conn.execute(select(items.c.text).where(items.c.id == item_id)).scalar()
        return str(value or "")

    # --- items: writes --------------------------------------------------------------------

    def insert_item(self, item: NewItem) -> int:
        """Store a new item (a single until linking says otherwise); returns its id.

        The values go in as parameters of one prebuilt statement: building a fresh
        ``insert().values(...)`` per item cost SQLAlchemy ten times the insert itself.
        """
        values = dict(item.__dict__, role="single", split=False)
        values["attribution"] = "\n".join(item.attribution)
        result = self.conn.execute(_INSERT_ITEM, values)
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def payload(self, item_id: int) -> dict[str, Any]:
        """An item's article and signature columns, to reuse for the same page in another feed."""
        names = [
            "text",
            "text_source",
            "extract_note",
            "canonical_url",
            "canonical_norm",
            "site_name",
            "body_hash",
            "n_words",
            "shingles",
            "narrative",
            "minhash",
            "attribution",
            "compilation",
            "quality",
            "quality_note",
            "title",
            "published_at",
        ]
        row = self.conn.execute(
            select(*(items.c[n] for n in names)).where(items.c.id == item_id)
        ).one()
        return dict(row._mapping)

    def prune_keys(self, before: datetime, batch_items: int = 500) -> int:
        """Delete the keys of up to ``batch_items`` items stored before
        :meth:`first_item_since` ``before`` (the window's start, as :meth:`candidates` bounds it).

        Returns how many items lost their keys (0 when nothing is left to prune). The items
        themselves stay; they are just no longer dedup candidates.
        """
        first = self.first_item_since(before)
        old = select(dedup_keys.c.item_id).distinct().order_by(dedup_keys.c.item_id)
        if first is not None:
            old = old.where(dedup_keys.c.item_id < first)
        ids = [int(value) for value in self.conn.execute(old.limit(batch_items)).scalars()]
        if ids:
            self.conn.execute(delete(dedup_keys).where(dedup_keys.c.item_id.in_(ids)))
        return len(ids)

    def insert_keys(self, item_id: int, keys: Iterable[int]) -> None:
        """Index an item under its dedup keys (one row per distinct key).

        Sent with the driver's executemany: this is the hottest write of an ingest, and
        SQLAlchemy's per-row parameter processing would cost more than the insert itself.
        """
        rows = [(key, item_id) for key in dict.fromkeys(keys)]
        if not rows:
            return
        statement = f"INSERT INTO dedup_keys (key, item_id) VALUES ({self.markers(2)})"
        self.conn.exec_driver_sql(statement, rows)

    def set_membership(self, item_id: int, **values: Any) -> None:
        """Update an item's cluster fields (cluster_id, role, match_reason, similarity, ...)."""
        self.conn.execute(_UPDATE_ITEM, {"_id": item_id, **values})

    # --- items: reads ---------------------------------------------------------------------

    def item(self, item_id: int) -> ItemRecord | None:
        row = self.conn.execute(_item_select().where(items.c.id == item_id)).first()
        return _item(row) if row else None

    def items(self, ids: Iterable[int]) -> list[ItemRecord]:
        wanted = list(set(ids))
        if not wanted:
            return []
        return [_item(row) for row in self.conn.execute(_ITEMS_BY_ID, {"ids": wanted})]

    def list_items(self, feed_url: str | None = None, limit: int | None = None) -> list[ItemRecord]:
        """Items newest first (by publication, else fetch time), optionally of one feed."""
        query = _item_select().order_by(NEWEST_FIRST.desc(), items.c.id.desc())
        if feed_url is not None:
            query = query.where(feeds.c.url == feed_url)
        if limit is not None:
            query = query.limit(limit)
        return [_item(row) for row in self.conn.execute(query)]

    def item_counts(self, feed_ids: Sequence[int] | None = None) -> dict[int, int]:
        """Stored items per feed id (of these feeds only, when given)."""
        query = select(items.c.feed_id, func.count()).group_by(items.c.feed_id)
        if feed_ids is not None and len(feed_ids) <= 1000:
            query = query.where(items.c.feed_id.in_(list(feed_ids)))
        return {int(feed_id): int(count) for feed_id, count in self.conn.execute(query)}

    def count_items(self) -> int:
        return int(self.conn.execute(select(func.count()).select_from(items)).scalar() or 0)

    def first_item_since(self, moment: datetime) -> int | None:
        """The id of the first item fetched at or after ``moment`` (None: there is none).

        Where the dedup window starts, in storage order: ids follow the order items are stored,
        so every later id is in the window, to within the seconds an item waits to be stored.
        """
        found = self.conn.exec_driver_sql(self._first_item_sql(), (self._when(moment),))
        value = found.scalar()
        return None if value is None else int(value)

    def _first_item_sql(self) -> str:
        """:meth:`first_item_since` as SQL sent as is (:meth:`candidates` nests it)."""
        return (
            f"SELECT id FROM items WHERE fetched_at >= {self.markers(1)}"
            " ORDER BY fetched_at, id LIMIT 1"
        )

    def _when(self, moment: datetime) -> Any:
        """``moment`` as the driver's parameter for a timestamp column (SQL sent as is)."""
        process = _TIMESTAMP.bind_processor(self.conn.dialect)
        return process(moment) if process is not None else moment
