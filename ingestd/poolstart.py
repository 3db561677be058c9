"""Starting the process pool's forkserver early, when a pass will surely need it.

The pool's forkserver imports the worker modules (trafilatura, lxml, numpy: 0.2-0.6 s of one
core) before its first worker can run. Started at the pool's first job, that is time the first
feeds wait; started while the main process is still importing its own modules (another
0.4-1.0 s), it costs no wall time. But a pass with nothing new (every feed answers 304) never
needs the pool, and there it would only be CPU spent for nothing.

So ``ingest --once`` starts the forkserver first thing only when :func:`first_polls_pending`
says the pass will parse feeds for sure; the daemon, which always needs it, starts it at once.
Standard library only: this runs before the heavy imports it is meant to overlap.
"""

from __future__ import annotations

import multiprocessing
import sqlite3
from collections.abc import Iterable
from multiprocessing import forkserver
from pathlib import Path
from urllib.parse import unquote

__all__ = ["WORKER_MODULES", "first_polls_pending", "forkserver_context", "start_forkserver"]

# What the forkserver imports once, so that every worker starts with it loaded.
WORKER_MODULES = [
    "ingestd.work",
    "ingestd.dedup.signature",
    "ingestd.extract",
    "ingestd.parse",
    "ingestd.workerinit",
    "ingestd.forkserver_exit",  # last: imported in the forkserver only, see its docstring
]


def forkserver_context() -> multiprocessing.context.ForkServerContext:
    """The multiprocessing context of the pool, its forkserver set to preload the worker
    modules."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_MODULES)
    return context


def start_forkserver() -> None:
    """Start the forkserver now (it imports the worker modules in the background; this
    returns at once). The pool made later by :func:`ingestd.runner.make_pool` uses it."""
    forkserver_context()
    forkserver.ensure_running()


def first_polls_pending(database_url: str, feed_urls: Iterable[str]) -> bool:
    """Whether a pass on this SQLite database will poll a feed for the first time: the
    database does not exist yet, or a configured URL is not among its feeds (nor their
    aliases), or an active feed has never been polled. Its first answer is a full feed to
    parse, so the pool will be needed.

    Reads with the standard library's ``sqlite3``, read-only. False for other databases and
    whenever the database cannot be read: the pool then starts at its first job, as usual."""
    prefix = "sqlite:///"
    if not database_url.startswith(prefix):
        return False
    path = Path(unquote(database_url[len(prefix) :].split("?", 1)[0]))
    if not path.exists():
        return True
    try:
        connection = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        never_polled = connection.execute(
            "SELECT 1 FROM feeds WHERE active AND last_polled_at IS NULL LIMIT 1"
        ).fetchone()
        if never_polled:
            return True
        known: set[str] = set()
        for url, aliases in connection.execute("SELECT url, aliases FROM feeds"):
            known.add(url)
            known.update(alias for alias in (aliases or "").split("\n") if alias)
    except sqlite3.Error:  # no schema yet (a new file), or one this version cannot read
        return not _has_feeds_table(connection)
    finally:
        connection.close()
    return any(url not in known for url in feed_urls)


def _has_feeds_table(connection: sqlite3.Connection) -> bool:
    try:
        row = connection.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'feeds'"
        ).fetchone()
    except sqlite3.Error:
        return True  # unreadable: say nothing
    return row is not None
