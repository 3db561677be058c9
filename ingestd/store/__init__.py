"""The store: every SQL statement ingestd runs (SQLAlchemy Core; SQLite and PostgreSQL).

The names below load on first use (PEP 562), so a module of this package that needs no
SQLAlchemy (:mod:`.peek`) can be imported before the heavy modules are."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingestd.lazy import lazy_names

if TYPE_CHECKING:
    from ingestd.store.records import ClusterRecord, FeedRecord, ItemRecord, NewItem, PollRecord
    from ingestd.store.store import Store, Transaction

__all__ = [
    "ClusterRecord",
    "FeedRecord",
    "ItemRecord",
    "NewItem",
    "PollRecord",
    "Store",
    "Transaction",
]
_HOMES = dict.fromkeys(__all__[:5], "ingestd.store.records") | {
    "Store": "ingestd.store.store",
    "Transaction": "ingestd.store.store",
}

__getattr__ = lazy_names(__name__, _HOMES)
