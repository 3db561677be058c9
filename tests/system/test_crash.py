"""Crash safety: ``kill -9`` at random moments of a large ingest never leaves the database
inconsistent, and the next run completes the work (every entry stored exactly once).

The world: 20 generated outlets with 5-25 stories each, plus every fourth story carried by the
next outlet (~450 ``file:`` pages). A real ``ingest --once`` process (two feeds polled at a
time, so polls are written all along the run) is killed with SIGKILL, either at a random moment
of its first two seconds (start, migrations, first fetches) or right after a random number of
polls were written (in the middle of the next writes); then the invariants of
:func:`ingestd.store.upkeep.problems` are checked on the database, and the next run goes on
from there. When a run finishes before its kill, the database is thrown away and the ingest
starts over. ``INGESTD_CRASH_SEED`` picks other moments.
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from ingestd.store import Store
from ingestd.store.upkeep import problems
from tests.support.bigworld import entries, write_files
from tests.support.sites import REPO

FEEDS = 20
KILLS = 20
BUDGET_S = 40.0  # stop killing after this long (a loaded machine does fewer kills)
MIN_KILLS = 5  # on a loaded 2-core machine a run takes up to 8 s
MIN_MID_INGEST = 3  # kills that must land after some polls were stored and before the last


def _world(tmp_path: Path, rng: random.Random) -> tuple[Path, set[tuple[str, str]]]:
    sizes = tuple(rng.randint(5, 25) for _ in range(FEEDS))
    urls = write_files(tmp_path / "world", FEEDS, sizes)
    expected = {
        (urls[feed], entry.guid)
        for feed in range(FEEDS)
        for entry in entries(FEEDS, feed, sizes[feed] - 1, sizes[feed])
    }
    lines = ["[extract]\nworkers = 2\n", "[http]\nmax_concurrency = 2\n"]
    lines += [f'[[feeds]]\nurl = "{url}"\n' for url in urls]
    config = tmp_path / "crash.toml"
    config.write_text("\n".join(lines), encoding="utf-8")
    return config, expected


def _start(config: Path, state: Path, log: Path) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    env.update(INGESTD_STATE_DIR=str(state), PYTHONPATH=str(REPO))
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "ingestd", "--config", str(config), "--once"],
            cwd=REPO,
            env=env,
            stdout=sink,
            stderr=sink,
            start_new_session=True,  # its own group: the pool's orphans are cleaned up after
        )


def group_members(pgid: int) -> list[int]:
    """Processes still alive in process group ``pgid`` (zombies excluded)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(stat[2]) == pgid and stat[0] != "Z":
            found.append(int(entry.name))
    return found


def wait_group_gone(pgid: int, timeout_s: float = 10.0) -> list[int]:
    """Wait for every process of the group to exit; returns the survivors."""
    deadline = time.monotonic() + timeout_s
    while (left := group_members(pgid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _check(state: Path) -> tuple[int, set[tuple[str, str]]]:
    """Invariants hold; returns the number of polls recorded and the stored entries."""
    database = state / "ingestd.sqlite3"
    if not database.exists():
        return 0, set()
    store = Store.open(f"sqlite:///{database}", migrate=False)
    try:
        if store.schema_version() == 0:
            return 0, set()  # killed before the first migration committed: nothing to check
        with store.transaction(write=False) as tx:
            found = problems(tx)
            assert not found, "\n".join(found)
            stored = {
                (row.feed_url, row.entry_key)
                for row in tx.conn.exec_driver_sql(
                    "SELECT feeds.url AS feed_url, items.entry_key FROM items"
                    " JOIN feeds ON feeds.id = items.feed_id"
                )
            }
            polls = int(tx.conn.exec_driver_sql("SELECT count(*) FROM polls").scalar() or 0)
        return polls, stored
    finally:
        store.close()


def _wait_for_polls(process: subprocess.Popen[bytes], log: Path, polls: int) -> int | None:
    """Wait until the run has logged ``polls`` polls (each logged after its commit) or exited;
    returns its exit code if it exited."""
    while process.poll() is None:
        text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
        if text.count('"event": "poll"') >= polls:
            return None
        time.sleep(0.02)
    return process.returncode


def test_kill_9_at_random_moments_leaves_a_consistent_database(tmp_path: Path) -> None:
    """SIGKILL at random moments: after each, no half-written poll, no item without its
    cluster, no duplicate, no key without its item; then a last run completes the ingest.

    A fifth of the kills come at a random time in the first two seconds (start, migrations,
    fetching); the others after a random number of polls were written, plus up to 0.2 s (in
    the middle of the next writes)."""
    seed = int(os.environ.get("INGESTD_CRASH_SEED", "20261128"))
    rng = random.Random(seed)
    config, expected = _world(tmp_path, rng)
    state = tmp_path / "state"
    kills = mid_ingest = runs = 0
    started = time.monotonic()
    while kills < KILLS and time.monotonic() - started < BUDGET_S:
        runs += 1
        log = tmp_path / f"run-{runs}.log"
        process = _start(config, state, log)
        if rng.random() < 0.2:
            code = _wait_for_exit(process, rng.uniform(0.1, 2.0))
        else:
            code = _wait_for_polls(process, log, rng.randint(1, 6))
            time.sleep(rng.uniform(0, 0.2))
            code = process.poll()
        if code is None:
            process.send_signal(signal.SIGKILL)
            process.wait()
            orphans = wait_group_gone(process.pid)  # its pool's workers leave by themselves
            _kill_group(process)
            assert not orphans, f"processes left behind by the killed ingest: {orphans}"
            kills += 1
            polls, stored = _check(state)
            assert stored <= expected, f"seed {seed}: unexpected entries stored"
            mid_ingest += polls > 0 and len(stored) < len(expected)
            continue
        _kill_group(process)
        assert code == 0, f"seed {seed}: a run after a kill failed:\n{log.read_text()[-3000:]}"
        assert _check(state)[1] == expected, f"seed {seed}: a whole run missed entries"
        for leftover in state.glob("ingestd.sqlite3*"):
            leftover.unlink()  # start over, so later kills land in an ingest again
    print(
        f"kills {kills}, mid-ingest {mid_ingest}, runs {runs}, {time.monotonic() - started:.1f} s"
    )
    log = tmp_path / "final.log"
    process = _start(config, state, log)
    assert process.wait(timeout=120) == 0, log.read_text()[-3000:]
    _kill_group(process)
    _polls, stored = _check(state)
    assert stored == expected, f"seed {seed}: {len(expected - stored)} entries missing"
    assert kills >= MIN_KILLS, f"only {kills} kills in {BUDGET_S} s"
    assert mid_ingest >= MIN_MID_INGEST, f"seed {seed}: {mid_ingest} kills landed mid-ingest"


def _wait_for_exit(process: subprocess.Popen[bytes], timeout_s: float) -> int | None:
    try:
        return process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        return None
