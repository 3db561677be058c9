"""A full disk is the store's failure, not the feed's: on a small tmpfs that fills up, a pass
stops without marking any feed failed or backing it off, the daemon pauses (``/healthz`` 503,
one log line a minute), and both resume when space returns, with nothing lost.

The filesystem is a tmpfs mounted for the test and removed after it; without the right to
mount one (not root, no mount namespace) the tests skip and say why."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestd.service import pause
from tests.support.sites import REPO, log_events, run_ingest

PAGES = 40  # entries of the feed, each with a page of its own words
TMPFS_BYTES = 8 << 20
LEFT_FREE = 256 << 10  # what the filler leaves: far less than a poll of the feed writes


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A fresh tmpfs of ``TMPFS_BYTES`` at tmp_path/disk, unmounted afterwards."""
    mount_point = tmp_path / "disk"
    mount_point.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (this test fills a filesystem)")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={TMPFS_BYTES}", "tmpfs", str(mount_point)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount_point
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def _feed(tmp_path: Path) -> Path:
    """A configuration with one file: feed of ``PAGES`` entries, each page ~1,500 words."""
    pages = tmp_path / "pages"
    pages.mkdir()
    entries = []
    for n in range(PAGES):
        words = " ".join(f"w{n}x{k}" for k in range(1500))
        paragraphs = "".join(f"<p>{words[i : i + 600]}</p>" for i in range(0, len(words), 600))
        page = pages / f"{n}.html"
        page.write_text(f"<html><body><article>{paragraphs}</article></body></html>")
        entries.append(
            f"<item><title>Story {n}</title><guid>s{n}</guid><link>{page.as_uri()}</link></item>"
        )
    feed = tmp_path / "feed.xml"
    feed.write_text(
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>Big</title>{"".join(entries)}'
        "</channel></rss>",
        encoding="utf-8",
    )
    return feed


def _config(tmp_path: Path, disk: Path, extra: str = "") -> Path:
    config = tmp_path / "ingestd.toml"
    config.write_text(
        f'[database]\nurl = "sqlite:///{disk}/ingestd.sqlite3"\n{extra}'
        f'[[feeds]]\nurl = "{_feed(tmp_path).as_uri()}"\n',
        encoding="utf-8",
    )
    return config


def _fill(disk: Path) -> Path:
    """A file taking all but ``LEFT_FREE`` bytes of the disk."""
    filler = disk / "filler"
    stats = os.statvfs(disk)
    with filler.open("wb") as handle:
        handle.write(b"\0" * max(0, stats.f_bavail * stats.f_frsize - LEFT_FREE))
    return filler


def _state(disk: Path) -> dict[str, object]:
    """What the database says about the feed and its items (read-only)."""
    with contextlib.closing(
        sqlite3.connect(f"file:{disk}/ingestd.sqlite3?mode=ro", uri=True)
    ) as conn:
        feed = conn.execute(
            "SELECT status, consecutive_failures, last_error, lease_owner FROM feeds"
        ).fetchone()
        return {
            "feed": feed,
            "failed_polls": conn.execute(
                "SELECT count(*) FROM polls WHERE outcome = 'failed'"
            ).fetchone()[0],
            "items": conn.execute("SELECT count(*) FROM items").fetchone()[0],
            "integrity": conn.execute("PRAGMA integrity_check").fetchone()[0],
        }


def test_once_stops_on_a_full_disk_without_blaming_the_feed_and_resumes(
    tmp_path: Path, small_disk: Path
) -> None:
    config = _config(tmp_path, small_disk)
    state = tmp_path / "state"
    assert run_ingest(["db", "upgrade"], state, config=config).returncode == 0
    filler = _fill(small_disk)

    full = run_ingest(["--once"], state, config=config)

    assert full.returncode == 1, full.stderr
    assert "Traceback" not in full.stderr
    last = full.stderr.strip().splitlines()[-1]
    assert last.startswith("ingest: store: no space left for the database"), last
    assert "no feed was marked failed" in last
    found = _state(small_disk)
    assert found["feed"] == ("new", 0, None, None), found  # not failed, not backed off, not held
    assert found["failed_polls"] == 0 and found["items"] == 0
    assert found["integrity"] == "ok"

    filler.unlink()
    again = run_ingest(["--once"], state, config=config)

    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith(f"polled 1 feed: {PAGES} new items")
    found = _state(small_disk)
    assert found["feed"][:2] == ("ok", 0) and found["items"] == PAGES  # type: ignore[index]
    assert found["failed_polls"] == 0 and found["integrity"] == "ok"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _healthz(port: int) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError as exc:
        return 0, str(exc)


def _wait_for(check: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return True
        time.sleep(0.3)
    return False


def test_the_daemon_pauses_on_a_full_disk_and_resumes_when_space_returns(
    tmp_path: Path, small_disk: Path
) -> None:
    port = _free_port()
    config = _config(tmp_path, small_disk, f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    state = tmp_path / "state"
    assert run_ingest(["db", "upgrade"], state, config=config).returncode == 0
    filler = _fill(small_disk)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    env.update(INGESTD_STATE_DIR=str(state), PYTHONPATH=str(REPO))
    daemon = subprocess.Popen(
        [sys.executable, "-m", "ingestd", "--config", str(config), "run"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_for(lambda: "no space left" in _healthz(port)[1], 30), _healthz(port)
        assert _healthz(port)[0] == 503
        found = _state(small_disk)
        assert found["feed"][:3] == ("new", 0, None) and found["failed_polls"] == 0  # type: ignore[index]

        filler.unlink()
        assert _wait_for(lambda: _healthz(port)[0] == 200, 30), _healthz(port)
        assert _wait_for(lambda: _state(small_disk)["items"] == PAGES, 30)
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=20)
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()
    stderr = daemon.stderr.read() if daemon.stderr else ""
    assert code == 0, stderr
    assert "Traceback" not in stderr
    events = log_events(stderr)
    full_lines = [e for e in events if e["event"].startswith("store full")]
    assert len(full_lines) == 1, full_lines  # one line a minute at most; this took less
    assert any(e["event"] == "store has space again; polling resumes" for e in events)
    assert not any(e["event"] == "pass failed" for e in events)
    found = _state(small_disk)
    assert found["feed"][:2] == ("ok", 0) and found["failed_polls"] == 0  # type: ignore[index]
    assert json.dumps(found["integrity"]) == '"ok"'


def test_the_pause_logs_once_a_minute_and_retries_once_a_minute_or_when_space_is_freed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [1000.0]
    free = [100]
    monkeypatch.setattr(pause.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(pause, "free_bytes", lambda _url: free[0])
    state = pause.StorePause("sqlite:////var/lib/ingestd/ingestd.sqlite3")

    assert state.failed("full") is True and state.problem == "full"
    assert state.retry_due() is False
    clock[0] += 30
    assert state.failed("full") is False  # within the minute: no second line
    free[0] += pause.RESUME_GROWTH_BYTES
    assert state.retry_due() is True  # an operator freed space: at once
    free[0] -= pause.RESUME_GROWTH_BYTES
    assert state.retry_due() is False
    clock[0] += pause.RETRY_EVERY_S
    assert state.retry_due() is True  # a minute after the last failure
    clock[0] += 31
    assert state.failed("full") is True  # a minute after the last line
    state.resumed()
    assert state.problem is None and state.failed("full again") is True
