"""Verified links between items."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import (
    delete,
    insert,
    or_,
    select,
)

from ingestd.store.base import TransactionBase
from ingestd.store.records import (
    LinkRecord,
)
from ingestd.store.schema import (
    dedup_links,
)
from ingestd.store.statements import (
    OPERATOR,
)


class LinkQueries(TransactionBase):
    """Verified links between items."""

    # --- links ---------------------------------------------------------------------------

    def insert_links(self, links: Iterable[LinkRecord]) -> None:
        """Store verified links (a pair already linked keeps its row)."""
        rows = [link.__dict__ for link in links]
        if rows:
            self.conn.execute(self._insert_new(dedup_links).on_conflict_do_nothing(), rows)

    def delete_links(self, item_id: int) -> list[int]:
        """Forget every link of an item; returns the items it was linked to."""
        linked = [
            link.item_b if link.item_a == item_id else link.item_a
            for link in self.links_of([item_id])
        ]
        self.conn.execute(
            delete(dedup_links).where(
                or_(dedup_links.c.item_a == item_id, dedup_links.c.item_b == item_id),
                dedup_links.c.reason != OPERATOR,  # an operator's merge outlives re-linking
            )
        )
        return linked

    def set_operator_link(self, item_a: int, item_b: int) -> None:
        """Record an operator's word that two items are one article: a strong link (reason
        ``operator``) in place of whatever link the pair had; re-linking never removes it."""
        low, high = sorted((item_a, item_b))
        pair = (dedup_links.c.item_a == low) & (dedup_links.c.item_b == high)
        self.conn.execute(delete(dedup_links).where(pair))
        link = LinkRecord(low, high, True, None, OPERATOR, OPERATOR, 1.0)
        self.conn.execute(insert(dedup_links), [link.__dict__])

    def delete_operator_links(self, item_id: int) -> list[int]:
        """Forget the operator's merges of an item (it was split out); returns the other
        items."""
        ends = or_(dedup_links.c.item_a == item_id, dedup_links.c.item_b == item_id)
        mine = ends & (dedup_links.c.reason == OPERATOR)
        rows = self.conn.execute(select(dedup_links.c.item_a, dedup_links.c.item_b).where(mine))
        others = [int(b if a == item_id else a) for a, b in rows]
        self.conn.execute(delete(dedup_links).where(mine))
        return others

    def links_of(self, ids: Iterable[int]) -> list[LinkRecord]:
        """Every link that has one of these items at either end.

        Sent to the driver as is: re-deciding a story reads every link around it (thousands
        for a story of hundreds of copies), and SQLAlchemy's rows cost more than the query."""
        wanted = list(set(ids))
        found: dict[tuple[int, int], LinkRecord] = {}
        for start in range(0, len(wanted), 400):
            chunk = wanted[start : start + 400]
            listed = self.markers(len(chunk))
            columns = "item_a, item_b, strong, child, reason, measure, score"
            statement = (
                f"SELECT {columns} FROM dedup_links WHERE item_a IN ({listed})"
                f" UNION SELECT {columns} FROM dedup_links WHERE item_b IN ({listed})"
            )
            rows = self.conn.exec_driver_sql(statement, (*chunk, *chunk)).fetchall()
            for a, b, strong, child, reason, measure, score in rows:
                found[(int(a), int(b))] = LinkRecord(
                    int(a),
                    int(b),
                    bool(strong),
                    None if child is None else int(child),
                    str(reason),
                    str(measure),
                    float(score),
                )
        return list(found.values())
