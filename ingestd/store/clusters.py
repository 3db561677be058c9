"""Clusters: their rows and members."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    delete,
    select,
    update,
)

from ingestd.store.base import TransactionBase
from ingestd.store.records import (
    ClusterRecord,
    ItemRecord,
)
from ingestd.store.schema import (
    clusters,
    items,
)
from ingestd.store.statements import (
    _CLUSTER_BY_ID,
    _CLUSTER_MEMBERS,
    _INSERT_CLUSTER,
    _UPDATE_CLUSTER,
    _cluster,
    _item,
)


class ClusterQueries(TransactionBase):
    """Clusters: their rows and members."""

    # --- clusters -------------------------------------------------------------------------

    def create_cluster(self, now: datetime) -> int:
        values = {"canonical_reason": "earliest", "evidence": "", "size": 0}
        result = self.conn.execute(_INSERT_CLUSTER, dict(values, created_at=now, updated_at=now))
        return int(result.inserted_primary_key[0])  # type: ignore[index]

    def update_cluster(self, cluster_id: int, **values: Any) -> None:
        self.conn.execute(_UPDATE_CLUSTER, {"_id": cluster_id, **values})

    def delete_cluster(self, cluster_id: int) -> None:
        self.conn.execute(
            update(items).where(items.c.cluster_id == cluster_id).values(cluster_id=None)
        )
        self.conn.execute(delete(clusters).where(clusters.c.id == cluster_id))

    def cluster(self, cluster_id: int) -> ClusterRecord | None:
        row = self.conn.execute(_CLUSTER_BY_ID, {"cluster": cluster_id}).first()
        return _cluster(row) if row else None

    def cluster_members(self, cluster_id: int) -> list[ItemRecord]:
        return [_item(row) for row in self.conn.execute(_CLUSTER_MEMBERS, {"cluster": cluster_id})]

    def list_clusters(self, limit: int | None = None, min_size: int = 2) -> list[ClusterRecord]:
        """Clusters of at least ``min_size`` items, most recently changed first."""
        query = (
            select(clusters)
            .where(clusters.c.size >= min_size)
            .order_by(clusters.c.updated_at.desc(), clusters.c.id.desc())
        )
        if limit is not None:
            query = query.limit(limit)
        return [_cluster(row) for row in self.conn.execute(query)]
