"""Near-duplicate candidates: the index keys items share."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import (
    select,
)

from ingestd.store.items import ItemQueries
from ingestd.store.records import (
    ItemRecord,
    ItemShingles,
)
from ingestd.store.schema import (
    dedup_keys,
    items,
)
from ingestd.store.statements import (
    _IDENTITY_COLUMNS,
    count_by_kind,
)


class KeyQueries(ItemQueries):
    """Near-duplicate candidates: the index keys items share."""

    # --- items: near-duplicate candidates ---------------------------------------------------

    def candidates(
        self,
        keys: Sequence[int],
        since: datetime | None,
        exclude_item: int,
        max_key_items: int = 200,
    ) -> dict[str, dict[int, int]]:
        """Items sharing keys with ``keys``, by key kind: {"b": {item id: keys shared}, ...}.

        The kind is the key's (:func:`ingestd.dedup.keys.key_kind`: ``b`` LSH band, ``a``
        anchor, ``p`` paragraph). Only items in the dedup window count: from
        :meth:`first_item_since` ``since`` on (every item when ``since`` is None). A key carried
        by more than ``max_key_items`` other items is a stock phrase and is ignored.
        """
        return count_by_kind(self.key_holders(keys, since, exclude_item), max_key_items)

    def key_holders(
        self, keys: Sequence[int], since: datetime | None, exclude_item: int
    ) -> dict[int, list[int]]:
        """The other items in the dedup window that carry each of ``keys`` (see
        :meth:`candidates`): {key: [item id, ...]}, keys nobody else carries left out."""
        holders: dict[int, list[int]] = {}
        window, bound = "", []
        if since is not None:  # a subquery: as a statement of its own it cost 0.1-0.27 ms more
            window, bound = f" AND item_id >= ({self._first_item_sql()})", [self._when(since)]
        for start in range(0, len(keys), 500):
            chunk = list(keys[start : start + 500])
            statement = (
                f"SELECT key, item_id FROM dedup_keys WHERE key IN ({self.markers(len(chunk))})"
                f" AND item_id != {self.markers(1)}{window}"
            )  # sent as is: SQLAlchemy's expanding IN cost more than the lookup
            # The item's own rows are left in the database: its keys are stored before the
            # lookup, and reading them back was half or more of the rows a lookup returned.
            rows = self.conn.exec_driver_sql(statement, (*chunk, exclude_item, *bound)).all()
            for key, item_id in rows:
                holders.setdefault(int(key), []).append(int(item_id))
        return holders

    def item_keys(self, item_id: int) -> list[int]:
        """The dedup keys stored for an item (none once the window has passed it)."""
        query = select(dedup_keys.c.key).where(dedup_keys.c.item_id == item_id)
        return [int(key) for key in self.conn.execute(query).scalars()]

    def on_site(self, site_host: str, ids: Iterable[int]) -> set[int]:
        """Which of these items belong to the site ``site_host`` (read from the index of items
        by site alone, not from their rows)."""
        wanted = list(set(ids))
        found: set[int] = set()
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            statement = (
                f"SELECT id FROM items WHERE site_host = {self.markers(1)}"
                f" AND id IN ({self.markers(len(chunk))})"
            )
            found.update(
                int(i) for (i,) in self.conn.exec_driver_sql(statement, (site_host, *chunk))
            )
        return found

    def identity_candidates(
        self, values: Mapping[str, Sequence[str]], exclude_item: int
    ) -> list[tuple[str, ItemRecord]]:
        """Items whose column equals one of the given values: [(column, item), ...].

        ``values`` maps a column (url_norm, canonical_norm, guid, body_hash) to the values to
        look for; one plain query answers all of them (most new items match nothing, and for
        them this is the whole cost), then the matches' records are read.
        """
        clauses: list[str] = []
        parameters: list[Any] = []
        for column in _IDENTITY_COLUMNS:
            wanted = list(values.get(column, ()))
            if wanted:
                clauses.append(f"{column} IN ({self.markers(len(wanted))})")
                parameters.extend(wanted)
        if not clauses:
            return []
        statement = (
            f"SELECT id, {', '.join(_IDENTITY_COLUMNS)} FROM items"
            f" WHERE ({' OR '.join(clauses)}) AND id != {self.markers(1)} ORDER BY id LIMIT 200"
        )
        hits = list(self.conn.exec_driver_sql(statement, (*parameters, exclude_item)))
        if not hits:
            return []
        records = {record.id: record for record in self.items(int(hit[0]) for hit in hits)}
        found = []
        for item_id, *stored in hits:
            for column, value in zip(_IDENTITY_COLUMNS, stored, strict=True):
                if value is not None and value in values.get(column, ()) and item_id in records:
                    found.append((column, records[item_id]))
        return found

    def minhashes(self, ids: Iterable[int]) -> dict[int, bytes]:
        """Stored MinHash values (uint32 bytes) of the given items."""
        wanted = list(set(ids))
        query = select(items.c.id, items.c.minhash).where(items.c.id.in_(wanted))
        return {int(row.id): bytes(row.minhash) for row in self.conn.execute(query)}

    def site_neighbours(self, site_host: str, exclude: Sequence[int], limit: int = 8) -> list[int]:
        """The most recent items of one site, other than ``exclude`` and other than its
        compilations (a live page quotes the site's stories): to learn its template."""
        query = (
            select(items.c.id)
            .where(items.c.site_host == site_host)
            .where(items.c.id.not_in(list(exclude)))
            .where(items.c.compilation.is_(False))
            .order_by(items.c.id.desc())
            .limit(limit)
        )
        return [int(value) for value in self.conn.execute(query).scalars()]

    def shingles(self, ids: Iterable[int]) -> dict[int, ItemShingles]:
        """The stored shingle hashes of the given items (a verification reads ~100 of them)."""
        wanted = [int(value) for value in set(ids)]
        if not wanted:
            return {}
        statement = (
            f"SELECT id, shingles, narrative FROM items WHERE id IN ({self.markers(len(wanted))})"
        )
        return {
            int(item_id): ItemShingles(int(item_id), bytes(shingles), bytes(narrative))
            for item_id, shingles, narrative in self.conn.exec_driver_sql(statement, tuple(wanted))
        }
