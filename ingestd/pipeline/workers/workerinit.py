"""Set-up of each CPU worker process (the pool's ``initializer``); standard library only, so
workers import nothing more than the jobs need.

* SIGINT is ignored: Ctrl-C reaches the whole process group, and the daemon, not its workers,
  decides how a pass ends.
* A worker leaves when the process that owns the pool dies. After ``kill -9`` (or ``os._exit``)
  of that process nothing shuts the pool down, and a ``ProcessPoolExecutor`` worker would wait
  on its job queue for ever (it holds the queue's write end itself), keeping its forkserver
  alive too: orphans holding ~100 MB each, piling up with every crash and restart.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import threading
import time

POLL_S = 1.0  # how often the owner is checked where pidfd_open is not available


def setup(owner_pid: int) -> None:
    """Initializer of a pool worker owned by process ``owner_pid``."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watcher = threading.Thread(
        target=_exit_with, args=(owner_pid,), name="ingestd-owner-watch", daemon=True
    )
    watcher.start()


def _exit_with(owner_pid: int) -> None:
    """Block until ``owner_pid`` exits, then end this process at once."""
    try:
        descriptor = os.pidfd_open(owner_pid)  # readable once the process has exited
    except (AttributeError, OSError):
        while _alive(owner_pid):
            time.sleep(POLL_S)
    else:
        select.select([descriptor], [], [])
    os._exit(0)


def _alive(pid: int) -> bool:
    with contextlib.suppress(PermissionError):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
    return True
