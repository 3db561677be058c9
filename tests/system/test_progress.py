"""``ingest --once`` on a terminal: a progress bar on stderr (feeds done, items, republications),
logs above it instead of across it; no bar and untouched logs when stderr is not a terminal (the
JSON-only stderr of a real pass is checked in ``test_new_user.py``)."""

from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from rich.console import Console

from ingestd.cli.progress import ProgressBar, progress_for_pass
from ingestd.service.logs import configure
from tests.support.httpserver import LoopbackServer, Reply
from tests.support.sites import REPO

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Gazette</title>
<link>http://127.0.0.1/</link>
<item><title>One</title><link>http://127.0.0.1/one</link><guid>one</guid>
<description>First story of the day, told in one sentence only.</description></item>
<item><title>Two</title><link>http://127.0.0.1/two</link><guid>two</guid>
<description>Second story of the day, told in one sentence only.</description></item>
</channel></rss>"""


class FakeTerminal(io.StringIO):
    """A text stream that says it is a terminal."""

    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _forget_logging_setup() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_the_bar_counts_feeds_items_republications_and_names_failures() -> None:
    out = io.StringIO()
    bar = ProgressBar(Console(file=out, force_terminal=True, width=120, color_system=None))

    with bar.progress:
        bar.pass_started(3)
        bar.poll_finished("http://a.example/feed", "new", 4, 1, 0.2)
        bar.poll_finished("http://b.example/feed", "failed", 0, 0, 0.1)
        bar.poll_finished("http://c.example/feed", "not_modified", 0, 0, 0.1)

    text = out.getvalue()
    assert "failed http://b.example/feed (see `ingest feeds list`)" in text
    assert "3/3" in text
    assert "4 new items, 1 republications, 1 failed" in text


def test_no_bar_and_untouched_logs_when_the_stream_is_not_a_terminal() -> None:
    configure(json_output=True)
    before = structlog.get_config()

    with progress_for_pass(stream=io.StringIO()) as events:
        assert events is None
        assert structlog.get_config() == before


def test_info_logs_are_held_back_and_warnings_printed_above_the_bar() -> None:
    configure(json_output=False)
    terminal = FakeTerminal()
    log = structlog.get_logger("test.progress")

    with progress_for_pass(stream=terminal) as events:
        assert events is not None
        events.pass_started(1)
        log.info("poll", feed="http://a.example/feed")
        log.warning("entry without text", entry="http://a.example/one")
        events.poll_finished("http://a.example/feed", "new", 2, 0, 0.1)

    text = terminal.getvalue()
    assert "entry without text" in text
    assert "poll" not in text.replace("polled", "")
    assert "1/1" in text


def test_verbose_keeps_every_log_line_above_the_bar() -> None:
    configure(verbose=True, json_output=False)
    terminal = FakeTerminal()

    with progress_for_pass(verbose=True, stream=terminal):
        structlog.get_logger("test.progress").info("poll", feed="http://a.example/feed")

    assert "poll" in terminal.getvalue()


# --- the real command -----------------------------------------------------------------------


def once_command(tmp_path: Path, server: LoopbackServer) -> tuple[list[str], dict[str, str]]:
    config = tmp_path / "ingestd.toml"
    config.write_text(
        "[http]\nallow_private_networks = true\n\n[extract]\nfetch_pages = false\nworkers = 1\n\n"
        f'[[feeds]]\nurl = "{server.url("/feed.xml")}"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INGESTD_", "XDG_"))}
    env.update(
        PYTHONPATH=str(REPO),
        INGESTD_STATE_DIR=str(tmp_path / "state"),
        TERM="xterm-256color",
        COLUMNS="100",
    )
    return [sys.executable, "-m", "ingestd", "--config", str(config), "--once"], env


@pytest.fixture
def feed_server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as server:
        server.route("/feed.xml", Reply(200, {"Content-Type": "application/rss+xml"}, RSS))
        yield server


def read_all(fd: int, process: subprocess.Popen[bytes], timeout_s: float = 60) -> bytes:
    """Everything written to the pty until the process exits."""
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.1)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:  # the other side closed
                break
            if not data:
                break
            chunks.append(data)
        elif process.poll() is not None:
            break
    return b"".join(chunks)


def test_once_on_a_terminal_draws_the_bar_and_prints_the_summary(
    tmp_path: Path, feed_server: LoopbackServer
) -> None:
    command, env = once_command(tmp_path, feed_server)
    primary, secondary = pty.openpty()
    try:
        process = subprocess.Popen(
            command, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=secondary
        )
        os.close(secondary)
        screen = read_all(primary, process).decode("utf-8", "replace")
        stdout, _ = process.communicate(timeout=60)
    finally:
        os.close(primary)

    assert process.returncode == 0, screen
    assert (
        stdout.decode().strip() == "polled 1 feed: 2 new items, 0 republications linked, 0 failures"
    )
    assert "1/1" in screen
    assert "2 new items, 0 republications, 0 failed" in screen
    assert '"event": "poll"' not in screen  # no JSON log lines on a terminal
