"""Starting the process pool's forkserver early, when a pass will surely need it.

The pool's forkserver imports the worker modules (trafilatura, lxml, numpy: 0.2-0.6 s of one
core) before its first worker can run. Started at the pool's first job, that is time the first
feeds wait; started while the main process is still importing its own modules (another
0.4-1.0 s), it costs no wall time. But a pass with nothing new (every feed answers 304) never
needs the pool, and there it would only be CPU spent for nothing.

So ``ingest --once`` starts the forkserver first thing only when :func:`first_polls_pending`
says the pass will parse feeds for sure; the daemon, which always needs it, starts it at once.
Standard library (and ``ingestd.config``) only: this runs before the heavy imports it is
meant to overlap.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import sqlite3
from collections.abc import Iterable
from multiprocessing import forkserver

from ingestd.config import sqlite_file

__all__ = ["WORKER_MODULES", "first_polls_pending", "forkserver_context", "start_forkserver"]

# What the forkserver imports once, so that every worker starts with it loaded.
WORKER_MODULES = [
    "ingestd.work",
    "ingestd.dedup.signature",
    "ingestd.extract",
    "ingestd.parse",
    "ingestd.workerinit",
    "ingestd.forkserver_ready",  # last: imported in the forkserver only, see its docstring
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
