"""Starting the process pool's forkserver early, when a pass will surely need it.

The pool's forkserver imports the worker modules (trafilatura, lxml, numpy: 0.2-0.6 s of one
core) before its first worker can run. Started at the pool's first job, that is time the first
feeds wait; started while the main process is still importing its own modules (another
0.4-1.0 s), it costs no wall time. But a pass with nothing new (every feed answers 304) never
needs the pool, and there it would only be CPU spent for nothing.

So ``ingest --once`` starts the forkserver first thing only when
:func:`ingestd.store.peek.first_polls_pending` says the pass will parse feeds for sure; the
daemon, which always needs it, starts it at once.
Standard library (and ``ingestd.config``) only: this runs before the heavy imports it is
meant to overlap.
"""

from __future__ import annotations

import multiprocessing
from multiprocessing import forkserver

__all__ = ["WORKER_MODULES", "forkserver_context", "start_forkserver"]

# What the forkserver imports once, so that every worker starts with it loaded.
WORKER_MODULES = [
    "ingestd.pipeline.work",
    "ingestd.dedup.signature",
    "ingestd.extract.article",
    "ingestd.parse.feed",
    "ingestd.pipeline.workers.workerinit",
    # last: imported in the forkserver only, see its docstring
    "ingestd.pipeline.workers.forkserver_ready",
]


def forkserver_context() -> multiprocessing.context.ForkServerContext:
    """The multiprocessing context of the pool, its forkserver set to preload the worker
    modules."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(WORKER_MODULES)
    return context


def start_forkserver() -> None:
    """Start the forkserver now (it imports the worker modules in the background; this
    returns at once). The pool made later by :func:`ingestd.pipeline.runner.make_pool` uses it."""
    forkserver_context()
    forkserver.ensure_running()
