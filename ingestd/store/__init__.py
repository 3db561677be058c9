"""The store: every SQL statement ingestd runs (SQLAlchemy Core; SQLite and PostgreSQL)."""

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
