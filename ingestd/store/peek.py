"""A look at a SQLite store without SQLAlchemy: what a process needs to know before its heavy
imports (the standard library's ``sqlite3``, read-only)."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable

from ingestd.config import sqlite_file


def first_polls_pending(database_url: str, feed_urls: Iterable[str]) -> bool:
    """Whether a pass on this SQLite database will poll a feed for the first time: the
    database has no feeds table yet (a new file), or an active feed has never been polled, or
    a configured URL is not among its feeds (nor their aliases). Its first answer is a full
    feed to parse, so the pool will be needed.

    Reads with the standard library's ``sqlite3``, read-only. False for other databases and
    whenever the database cannot be read: the pool then starts at its first job, as usual."""
    path = sqlite_file(database_url)
    if path is None:
        return False
    if not path.exists():
        return True
    known: set[str] = set()
    try:
        with contextlib.closing(sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)) as db:
            if not db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feeds'"
            ).fetchone():
                return True
            rows = db.execute("SELECT url, aliases, active AND last_polled_at IS NULL FROM feeds")
            for url, aliases, never_polled in rows:
                if never_polled:
                    return True
                known.add(url)
                known.update(alias for alias in (aliases or "").split("\n") if alias)
    except sqlite3.Error:
        return False
    return any(url not in known for url in feed_urls)
