"""Feed titles, links and errors are written by strangers: every command that shows them, piped
or on a terminal, shows control characters spelled out and rich markup as text, and never fails
on them; only http(s) links are stored for entries or served."""

from __future__ import annotations

import json
import os
import pty
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import feedparser
import pytest
import structlog

from ingestd.config import FeedConfig
from ingestd.feedout import export
from ingestd.safetext import json_line, visible
from ingestd.service.logs import configure
from ingestd.store import NewItem, Store, Transaction
from tests.support.sites import REPO, run_ingest

# ESC sequences (CSI colour, OSC 0 title, OSC 8 link, OSC 52 clipboard), a C1 CSI, BEL, a bidi
# override, rich markup (a bare closing tag, a link, blink) and an emoji code.
HOSTILE = (
    "Hello \x1b[31mRED\x1b[0m \x1b]0;pwned\x07 \x1b]8;;https://evil.example/\x07link\x1b]8;;\x07"
    " \x1b]52;c;ZXZpbA==\x07 \x9b2J \x07bell \u202eevil [/] [link=https://evil.example/]click"
    "[/link] [blink]b[/blink] :warning: Café"
)
RAW = ("\x1b", "\x07", "\x9b", "\u202e")  # never printed as they are
FEED = "https://hostile.example/feed.xml"
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _item(tx: Transaction, feed_id: int, key: str, url: str, title: str) -> int:
    text = " ".join(f"word{n}" for n in range(60))
    return tx.insert_item(
        NewItem(
            feed_id=feed_id,
            entry_key=key,
            guid=key,
            url=url,
            url_norm=url,
            canonical_url=None,
            canonical_norm=None,
            site_host=f"site{HOSTILE}",
            site_name=f"outlet{HOSTILE}",
            title=title,
            published_at=NOW,
            fetched_at=NOW,
            text=text,
            text_source="page",
            extract_note=HOSTILE,
            body_hash=None,
            n_words=60,
            shingles=b"",
            narrative=b"",
            minhash=b"",
            attribution=(),
            compilation=False,
        )
    )


@pytest.fixture
def hostile(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """A configuration and state directory whose database holds a feed and a cluster of two
    items whose every text field is hostile; one item's URL is ``javascript:`` (as a database
    written before links were checked may hold)."""
    state = tmp_path / "state"
    config = tmp_path / "ingestd.toml"
    config.write_text(f'[[feeds]]\nurl = "{FEED}"\n', encoding="utf-8")
    store = Store.open(f"sqlite:///{state}/ingestd.sqlite3")
    with store.transaction() as tx:
        tx.sync_feeds([FeedConfig(FEED)], NOW)
        feed_id = tx.feeds()[0].id
        tx.update_feed(feed_id, title=HOSTILE, last_error=HOSTILE, status="failing")
        first = _item(tx, feed_id, "a", "javascript:alert(document.cookie)", HOSTILE)
        second = _item(tx, feed_id, "b", "https://hostile.example/b", "[/]" + HOSTILE)
        cluster = tx.create_cluster(NOW)
        tx.set_membership(first, cluster_id=cluster, role="canonical", similarity=1.0)
        tx.set_membership(
            second, cluster_id=cluster, role="republication", similarity=0.9, link_reason=HOSTILE
        )
        tx.update_cluster(
            cluster, canonical_item_id=first, canonical_reason=HOSTILE, evidence=HOSTILE, size=2
        )
    store.close()
    yield config, state


COMMANDS = [
    ["items", "list"],
    ["items", "list", "--json"],
    ["feeds", "list", "--all"],
    ["feeds", "list", "--json"],
    ["feeds", "export"],
    ["clusters", "list"],
    ["clusters", "list", "--json"],
    ["clusters", "show", "1"],
    ["clusters", "explain", "1", "2"],
    ["stats"],
    ["export", "--format", "atom"],
    ["export", "--format", "jsonfeed"],
    ["export", "--format", "jsonl"],
]


def _assert_shown_safely(output: str, what: str) -> None:
    assert "Traceback" not in output, f"{what}: {output}"
    for char in RAW:
        assert char not in output, f"{what}: raw {char!r} in the output"


@pytest.mark.parametrize("encoding", [None, "ascii"])
def test_piped_output_never_carries_raw_controls_nor_fails(
    hostile: tuple[Path, Path], encoding: str | None
) -> None:
    config, state = hostile
    env = {"PYTHONIOENCODING": encoding} if encoding else {}
    for command in COMMANDS:
        done = run_ingest(command, state, config=config, env=env)
        what = " ".join(command)
        assert done.returncode == 0, f"{what}: {done.stderr}"
        _assert_shown_safely(done.stdout + done.stderr, what)
        assert "javascript:" not in done.stdout or command[0] in ("items", "clusters"), what
    listed = run_ingest(["items", "list"], state, config=config).stdout
    assert "\\x1b[31mRED" in listed and "\\x07bell" in listed and "\\u202eevil" in listed
    for markup in ("[/]", "[link=", "[blink]", ":warning:"):  # shown as written (cells wrap)
        assert markup in listed, markup


def test_json_lines_keep_the_stored_text_exactly(hostile: tuple[Path, Path]) -> None:
    config, state = hostile
    done = run_ingest(["items", "list", "--json"], state, config=config)
    titles = {json.loads(line)["title"] for line in done.stdout.splitlines()}
    assert titles == {HOSTILE, "[/]" + HOSTILE}


def _on_a_terminal(args: list[str], config: Path, state: Path) -> bytes:
    """What ``ingest --config config ARGS`` writes to a terminal (a pseudo-terminal)."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INGESTD_", "XDG_"))}
    env.update(
        INGESTD_STATE_DIR=str(state), TERM="xterm-256color", COLUMNS="200", PYTHONPATH=str(REPO)
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ingestd", "--config", str(config), *args],
        stdin=slave,
        stdout=slave,
        stderr=slave,
        cwd=REPO,
        env=env,
    )
    os.close(slave)
    chunks = []
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not chunk:
            break
        chunks.append(chunk)
    os.close(master)
    assert process.wait(timeout=60) == 0, b"".join(chunks)
    return b"".join(chunks)


@pytest.mark.parametrize(
    "command",
    [
        ["items", "list"],
        ["feeds", "list"],
        ["clusters", "list"],
        ["clusters", "show", "1"],
        ["clusters", "explain", "1", "2"],
    ],
)
def test_a_terminal_never_receives_the_hostile_sequences(
    hostile: tuple[Path, Path], command: list[str]
) -> None:
    """rich styles its own output with escape sequences; none of the stored ones gets through
    (no title change, no hyperlink, no clipboard write, no blink, no bell), and the stored text
    shows up spelled out."""
    config, state = hostile
    shown = _on_a_terminal(command, config, state)
    for sequence in (b"\x1b]", b"\x07", b"\x1b[5m", b"\x1b[31mRED", b"\xc2\x9b", b"\xe2\x80\xae"):
        assert sequence not in shown, (sequence, shown)
    assert b"\\x1b]0;pwned" in shown
    assert b"Traceback" not in shown


@pytest.mark.parametrize("json_output", [False, True])
def test_log_lines_spell_out_control_characters(
    json_output: bool, capsys: pytest.CaptureFixture[str]
) -> None:
    """A feed's error text (the server's words) goes to the log: spelled out there too, on a
    terminal (where the renderer adds its own colours) and in JSON lines."""
    configure(json_output=json_output)
    try:
        structlog.get_logger("ingestd.poll").warning("poll", feed=FEED, error=HOSTILE)
    finally:
        structlog.reset_defaults()
    line = capsys.readouterr().err
    for sequence in ("\x1b]", "\x07", "\x9b", "\u202e", "\x1b[31mRED"):
        assert sequence not in line, (sequence, line)
    assert ("\\\\x1b[31mRED" if json_output else "\\x1b[31mRED") in line


def test_visible_spells_out_controls_and_keeps_the_rest() -> None:
    assert visible("a\x1bb\x07c\x9bd\u202ee\nf\tg") == "a\\x1bb\\x07c\\x9bd\\u202ee\\x0af\\x09g"
    assert visible("Café — “déjà” 東京 [/]") == "Café — “déjà” 東京 [/]"
    line = json_line({"t": "\x1b\x9b\u2028é"})
    assert line == '{"t": "\\u001b\\u009b\\u2028é"}'
    assert json.loads(line) == {"t": "\x1b\x9b\u2028é"}


# --- links ---------------------------------------------------------------------------------------


def test_only_http_links_are_served(hostile: tuple[Path, Path]) -> None:
    """An item stored with a ``javascript:`` URL (a database from before links were checked):
    no Atom link, no JSON Feed url, no <a href> anywhere."""
    _config, state = hostile
    store = Store.open(f"sqlite:///{state}/ingestd.sqlite3")
    try:
        with store.transaction(write=False) as tx:
            atom = export.atom_feed(tx)
            feed = json.loads(export.json_feed(tx))
            lines = export.json_lines(tx)
    finally:
        store.close()
    for body in (atom, json.dumps(feed).encode(), lines):
        assert b"javascript" not in body
    parsed = feedparser.parse(atom)
    (entry,) = parsed.entries
    assert [link.href for link in entry.links if link.rel == "alternate"] == []
    assert [link.href for link in entry.links if link.rel == "related"] == [
        "https://hostile.example/b"
    ]
    assert '<a href="https://hostile.example/b">' in entry.content[0].value
    (item,) = feed["items"]
    assert "url" not in item
    assert [r["url"] for r in item["_ingestd"]["republications"]] == ["https://hostile.example/b"]
    assert b"&#x9b;" in atom and b"\xc2\x9b" not in atom  # a reference, never the raw byte


RSS = """<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel><title>Links</title><link>javascript:alert(1)</link>
<item><title>Script</title><guid>s</guid><link>javascript:alert(document.cookie)</link>
<description>{text} one</description></item>
<item><title>Data</title><guid>d</guid><link>data:text/html;base64,PHNjcmlwdD4=</link>
<description>{text} two</description></item>
<item><title>Local</title><guid>f</guid><link>{page}</link>
<description>{text} three</description></item>
</channel></rss>
"""


def test_entry_links_other_than_http_are_dropped_with_a_note(tmp_path: Path) -> None:
    """``javascript:`` and ``data:`` entry links are not stored (a note on the item says
    why); an absolute ``file:///`` link in a ``file:`` feed is read, as a relative one is."""
    page = tmp_path / "pages" / "local.html"
    page.parent.mkdir()
    words = " ".join(f"local{n}" for n in range(200))
    page.write_text(f"<html><body><article><p>{words}</p></article></body></html>")
    text = " ".join(f"feed{n}" for n in range(40))
    feed = tmp_path / "feed.xml"
    feed.write_text(RSS.format(text=text, page=page.as_uri()), encoding="utf-8")
    config = tmp_path / "ingestd.toml"
    config.write_text(f'[[feeds]]\nurl = "{feed.as_uri()}"\n', encoding="utf-8")
    state = tmp_path / "state"

    assert run_ingest(["--once"], state, config=config).returncode == 0
    listed = run_ingest(["items", "list", "--json"], state, config=config).stdout
    found = {item["title"]: item for item in map(json.loads, listed.splitlines())}
    for title, scheme in (("Script", "javascript"), ("Data", "data")):
        assert found[title]["url"] is None
        assert found[title]["text_note"] == (
            f"the entry's {scheme}: link was dropped (only http and https links are kept)"
        )
    assert found["Local"]["url"] == page.as_uri()
    assert found["Local"]["text_source"] == "page" and found["Local"]["words"] == 200
    exported = run_ingest(["export", "--format", "jsonfeed"], state, config=config).stdout
    assert "javascript" not in exported and "data:text" not in exported
