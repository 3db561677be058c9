"""Feed formats people use: JSON Feed 1.0/1.1 (parsed, polled with conditional requests and the
same size limit as XML feeds, over a real loopback server), RSS 0.9x, RSS 1.0 (RDF) and Atom."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner, Result

from ingestd.cli.main import main
from ingestd.config import HttpSettings
from ingestd.model import ParsedFeed, ParseFailed
from ingestd.parse.feed import parse_feed
from tests.support.httpserver import LoopbackServer, Reply, Request

pytestmark = pytest.mark.usefixtures("isolated_env")
NO_GAP = (
    "min_host_gap_s = 0\n" if "min_host_gap_s" in {f.name for f in fields(HttpSettings)} else ""
)

JSON_11 = {
    "version": "https://jsonfeed.org/version/1.1",
    "title": "Harbour Notes",
    "home_page_url": "https://notes.example/",
    "items": [
        {
            "id": "note-2",
            "url": "/notes/2",
            "title": "Second note",
            "content_text": "The ferry runs again.\n\nIt leaves at nine.",
            "date_published": "2026-03-02T08:00:00Z",
        },
        {
            "id": "note-1",
            "external_url": "https://elsewhere.example/story",
            "title": "First note",
            "content_html": "<p>Read <b>this</b>.</p>",
            "date_modified": "2026-03-01T08:00:00+01:00",
        },
    ],
}
JSON_10 = {
    "version": "https://jsonfeed.org/version/1",
    "title": "Old Notes",
    "items": [{"id": 17, "url": "https://notes.example/17", "summary": "A <summary>"}],
}
RSS_091 = b"""<?xml version="1.0"?><rss version="0.91"><channel><title>Old RSS</title>
<link>https://old.example/</link><item><title>One</title><link>https://old.example/1</link>
<description>First.</description></item></channel></rss>"""
RDF = b"""<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://rdf.example/"><title>RDF news</title><link>https://rdf.example/</link>
</channel><item rdf:about="https://rdf.example/a"><title>A</title>
<link>https://rdf.example/a</link><description>Alpha.</description></item></rdf:RDF>"""


@pytest.fixture(autouse=True)
def _forget_logging_setup() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def test_json_feed_1_1_is_read_with_links_times_and_text() -> None:
    parsed = parse_feed(json.dumps(JSON_11).encode(), "https://notes.example/feed.json")

    assert isinstance(parsed, ParsedFeed)
    assert parsed.title == "Harbour Notes"
    assert parsed.site_url == "https://notes.example/"
    second, first = parsed.entries
    assert second.url == "https://notes.example/notes/2"  # relative to the feed's URL
    assert second.guid == "note-2"
    assert second.content_html == "<p>The ferry runs again.</p><p>It leaves at nine.</p>"
    assert second.published is not None and second.published.isoformat() == (
        "2026-03-02T08:00:00+00:00"
    )
    assert first.url == "https://elsewhere.example/story"  # external_url without url
    assert first.content_html == "<p>Read <b>this</b>.</p>"
    assert first.published is not None and first.published.hour == 7  # +01:00 in UTC


def test_json_feed_1_0_with_a_numeric_id_and_a_summary_is_read() -> None:
    parsed = parse_feed(json.dumps(JSON_10).encode(), "https://notes.example/feed.json")

    assert isinstance(parsed, ParsedFeed)
    (entry,) = parsed.entries
    assert entry.guid == "17"
    assert entry.content_html == "A &lt;summary&gt;"


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b'{"version": "https://jsonfeed.org/version/1.1"}', "no items array"),
        (b'{"title": "x", "items": []}', "no https://jsonfeed.org/version/"),
        (b"[1, 2]", "not a JSON object"),
        (b'{"version": ', "malformed JSON"),
        (b"{" + b'"a":[' * 100_000, "malformed JSON"),  # nesting too deep for the parser
    ],
)
def test_json_that_is_not_a_json_feed_is_a_parse_failure_with_the_reason(
    body: bytes, reason: str
) -> None:
    parsed = parse_feed(body, "https://notes.example/feed.json", "application/json")

    assert isinstance(parsed, ParseFailed)
    assert reason in parsed.reason


@pytest.mark.parametrize(("body", "title"), [(RSS_091, "Old RSS"), (RDF, "RDF news")])
def test_rss_0_91_and_rss_1_0_are_read_as_before(body: bytes, title: str) -> None:
    parsed = parse_feed(body, "https://x.example/feed")

    assert isinstance(parsed, ParsedFeed)
    assert parsed.title == title
    assert len(parsed.entries) == 1 and parsed.entries[0].url


# --- polled over HTTP ---------------------------------------------------------------------------


def _config(tmp_path: Path, url: str, max_bytes: int = 5_000_000) -> Path:
    path = tmp_path / "ingestd.toml"
    path.write_text(
        f"[http]\nallow_private_networks = true\ntimeout_s = 5\nmax_bytes = {max_bytes}\n"
        f'{NO_GAP}\n[schedule]\nmin_interval = "1s"\ndefault_interval = "1s"\n\n'
        f'[extract]\nfetch_pages = false\nworkers = 1\n\n[[feeds]]\nurl = "{url}"\n',
        encoding="utf-8",
    )
    return path


def _ingest(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def _feed_row(tmp_path: Path) -> sqlite3.Row:
    database = next(tmp_path.rglob("ingestd.sqlite3"))
    with sqlite3.connect(database) as conn:
        conn.row_factory = sqlite3.Row
        return conn.execute("SELECT * FROM feeds").fetchone()


def test_a_json_feed_is_polled_and_then_asked_conditionally(tmp_path: Path) -> None:
    body = json.dumps(JSON_11).encode()

    def answer(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304, {"ETag": '"v1"'})
        return Reply(200, {"Content-Type": "application/feed+json", "ETag": '"v1"'}, body)

    with LoopbackServer() as server:
        server.route("/feed.json", answer)
        config = _config(tmp_path, server.url("/feed.json"))

        first = _ingest(config, "--once")
        assert first.exit_code == 0, first.stderr
        assert first.stdout.startswith("polled 1 feed: 2 new items")
        items = _ingest(config, "items", "list", "--json")
        titles = {json.loads(line)["title"] for line in items.stdout.splitlines()}
        assert titles == {"First note", "Second note"}

        time.sleep(1.1)  # the feed is due again after its 1 s interval
        second = _ingest(config, "--once")
        assert second.exit_code == 0, second.stderr
        sent = [r for r in server.requests if r.target == "/feed.json"]
        assert len(sent) == 2
        assert "application/feed+json" in sent[0].headers["accept"]
        assert sent[1].headers.get("if-none-match") == '"v1"'
        assert _feed_row(tmp_path)["status"] == "not_modified"


def test_a_json_feed_over_max_bytes_is_cut_off_like_an_xml_feed(tmp_path: Path) -> None:
    big = dict(JSON_11, items=[dict(JSON_11["items"][0], id=str(n)) for n in range(400)])  # type: ignore[call-overload]
    with LoopbackServer() as server:
        server.route(
            "/feed.json",
            Reply(200, {"Content-Type": "application/feed+json"}, json.dumps(big).encode()),
        )
        config = _config(tmp_path, server.url("/feed.json"), max_bytes=10_000)

        result = _ingest(config, "--once")

    assert result.exit_code == 3, result.stdout  # its only due feed failed
    row = _feed_row(tmp_path)
    assert row["status"] == "failing"
    assert "10000" in row["last_error"]
