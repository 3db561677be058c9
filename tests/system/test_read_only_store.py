"""The read-only commands work on a SQLite file the user cannot write (the service's database,
read by an operator's own account): it is opened read-only and never changed.

The commands run as ``nobody`` (``setpriv``); without root or setpriv the tests skip and say
why."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.sites import REPO
from tests.system.test_daemon import _demo_config

NOBODY = 65534
READERS = [
    ["items", "list"],
    ["items", "list", "--json"],
    ["clusters", "list"],
    ["clusters", "show", "1"],
    ["clusters", "explain", "1", "2"],
    ["stats"],
    ["export"],
    ["export", "--format", "jsonfeed"],
]


@pytest.fixture
def service_database() -> Iterator[tuple[Path, Path]]:
    """A demo database owned by root in a folder others may read but not write (as the
    service's state directory is), and a configuration naming it; removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("running a command as another user needs root")
    if shutil.which("setpriv") is None:
        pytest.skip("setpriv (util-linux) is not installed")
    top = Path(tempfile.mkdtemp(prefix="ingestd-ro-", dir="/tmp"))
    try:
        top.chmod(0o755)
        state = top / "state"
        state.mkdir(mode=0o755)
        config = _demo_config(top)
        text = config.read_text(encoding="utf-8")
        database = f'[database]\nurl = "sqlite:///{state}/ingestd.sqlite3"\n'
        config.write_text(text.replace("[database]\n", database, 1), encoding="utf-8")
        config.chmod(0o644)
        once = _ingest(config, ["--once"], as_nobody=False)
        assert once.returncode == 0, once.stderr
        (state / "ingestd.sqlite3").chmod(0o644)
        yield config, state
    finally:
        shutil.rmtree(top, ignore_errors=True)


def _ingest(
    config: Path, args: list[str], as_nobody: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INGESTD_", "XDG_"))}
    env.update(PYTHONPATH=str(REPO), HOME=str(config.parent))
    prefix = []
    if as_nobody:
        prefix = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]
    return subprocess.run(
        [*prefix, sys.executable, "-m", "ingestd", "--config", str(config), *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
        check=False,
    )


def _fingerprint(state: Path) -> tuple[list[str], str]:
    names = sorted(p.name for p in state.iterdir())
    return names, hashlib.sha256((state / "ingestd.sqlite3").read_bytes()).hexdigest()


def test_read_only_commands_read_a_database_they_cannot_write(
    service_database: tuple[Path, Path],
) -> None:
    config, state = service_database
    before = _fingerprint(state)
    for command in READERS:
        done = _ingest(config, command)
        assert done.returncode == 0, (command, done.stderr)
        assert done.stdout and "Traceback" not in done.stderr, command
    assert _fingerprint(state) == before  # not a byte written, no -wal or -shm created


def test_while_a_writer_has_it_open_the_reader_sees_its_commits(
    service_database: tuple[Path, Path],
) -> None:
    """With the daemon running, the WAL's -shm file exists (readable): the reader uses it and
    sees what was committed, even what is still in the WAL."""
    config, state = service_database
    with contextlib.closing(sqlite3.connect(state / "ingestd.sqlite3")) as writer:
        writer.execute("PRAGMA wal_autocheckpoint=0")  # leave the commit in the WAL
        writer.execute("UPDATE items SET title = 'Renamed while read' WHERE id = 1")
        writer.commit()
        for name in ("ingestd.sqlite3-wal", "ingestd.sqlite3-shm"):
            (state / name).chmod(0o644)
        done = _ingest(config, ["items", "list", "--json"])
    assert done.returncode == 0, done.stderr
    assert '"title": "Renamed while read"' in done.stdout


def test_writing_commands_say_the_store_is_read_only(service_database: tuple[Path, Path]) -> None:
    config, _state = service_database
    done = _ingest(config, ["clusters", "pin", "1"])
    assert done.returncode == 1
    assert done.stderr.strip().splitlines()[-1].startswith("ingest: store: ")
    assert "Traceback" not in done.stderr
