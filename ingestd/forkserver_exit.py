"""Imported only by the process pool's forkserver, as the last of its preloads: when the
forkserver leaves (its owner has exited), it skips the interpreter's final garbage collections.

With trafilatura, lxml and numpy loaded, tearing those objects down took the forkserver
0.13-0.15 s of CPU after its owner had gone (0.05 s with this), and until it is gone, whatever
waits for the process tree (a systemd unit, a pipe reading ``ingest --once``'s output) waits too.
The main process does the same at its own exit (``ingestd.cli``). Workers forked from the
forkserver inherit the hook but never run it: they leave with ``os._exit``.
"""

from __future__ import annotations

import atexit
import gc

atexit.register(gc.freeze)
