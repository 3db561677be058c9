"""Per-feed settings, as ``[[feeds]]`` keys and ``feeds add`` options: the feed's own
User-Agent and request headers reach its server (the headers only its own host, never shown
by ``feeds list`` or the logs), ``fetch_pages = false`` and ``favor`` for one feed."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner, Result

from ingestd.cli.main import main
from ingestd.config import HttpSettings, load_settings
from ingestd.errors import ConfigError
from tests.support.httpserver import LoopbackServer, Reply

pytestmark = pytest.mark.usefixtures("isolated_env")
NO_GAP = (
    "min_host_gap_s = 0\n" if "min_host_gap_s" in {f.name for f in fields(HttpSettings)} else ""
)
SECRET = "session=s3cr3t-value"


def rss(page_url: str) -> bytes:
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Members</title>'
        f"<item><title>Members only</title><link>{page_url}</link><guid>m1</guid>"
        "<description>The members' news in brief.</description></item></channel></rss>"
    ).encode()


@pytest.fixture(autouse=True)
def _forget_logging_setup() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def _ingest(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def _base(tmp_path: Path, feeds: str = "") -> Path:
    path = tmp_path / "ingestd.toml"
    path.write_text(
        f"[http]\nallow_private_networks = true\ntimeout_s = 5\n{NO_GAP}\n"
        "[extract]\nworkers = 1\n\n" + feeds,
        encoding="utf-8",
    )
    return path


def test_a_configured_feed_sends_its_headers_and_user_agent_and_skips_pages(
    tmp_path: Path,
) -> None:
    with LoopbackServer() as server, LoopbackServer() as other:
        page = other.url("/story")  # another host: never sent the cookie, never fetched
        server.route("/feed", Reply(200, {"Content-Type": "application/rss+xml"}, rss(page)))
        config = _base(
            tmp_path,
            f'[[feeds]]\nurl = "{server.url("/feed")}"\nuser_agent = "MembersBot/1"\n'
            f'fetch_pages = false\nfavor = "recall"\nheaders = {{ Cookie = "{SECRET}" }}\n',
        )

        result = _ingest(config, "--once")
        listing = _ingest(config, "feeds", "list", "--json")

    assert result.exit_code == 0, result.stderr
    (sent,) = server.requests
    assert sent.headers["user-agent"] == "MembersBot/1"
    assert sent.headers["cookie"] == SECRET
    assert other.requests == []  # fetch_pages = false for this feed
    (feed,) = [json.loads(line) for line in listing.stdout.splitlines()]
    assert feed["settings"] == {
        "user_agent": "MembersBot/1",
        "fetch_pages": False,
        "favor": "recall",
    }
    for output in (listing.stdout, listing.stderr, result.stdout, result.stderr):
        assert "s3cr3t" not in output


def test_feeds_add_options_are_stored_and_used_and_the_header_never_shown(
    tmp_path: Path,
) -> None:
    with LoopbackServer() as server:
        page = server.url("/story")
        server.route("/feed", Reply(200, {"Content-Type": "application/rss+xml"}, rss(page)))
        server.route("/story", Reply(200, {"Content-Type": "text/html"}, b"<p>Members.</p>"))
        config = _base(tmp_path)
        added = _ingest(
            config,
            "feeds",
            "add",
            server.url("/feed"),
            "--name",
            "Members",
            "--header",
            f"Cookie: {SECRET}",
            "--user-agent",
            "MembersBot/2",
            "--no-fetch-pages",
        )
        assert added.exit_code == 0, added.stderr
        assert added.stdout.startswith(f'added {server.url("/feed")} "Members"')
        polled = _ingest(config, "--once")
        listing = _ingest(config, "feeds", "list")

    assert polled.exit_code == 0, polled.stderr
    feed_requests = [r for r in server.requests if r.target == "/feed"]
    assert len(feed_requests) == 2  # the check by `feeds add`, then the poll
    assert all(r.headers["cookie"] == SECRET for r in feed_requests)
    assert all(r.headers["user-agent"] == "MembersBot/2" for r in feed_requests)
    assert [r.target for r in server.requests].count("/story") == 0
    for output in (added.stdout, added.stderr, polled.stderr, listing.stdout):
        assert "s3cr3t" not in output
    database = next(tmp_path.rglob("*.sqlite3"))
    with sqlite3.connect(database) as conn:
        options, headers = conn.execute("SELECT options, request_headers FROM feeds").fetchone()
    assert "s3cr3t" not in options and "s3cr3t" in headers  # kept apart from the settings


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ('headers = { "Bad Name" = "x" }', "not a valid header name"),
        ('headers = { Host = "x" }', "set by ingestd itself"),
        ('headers = { Cookie = "a\\nb" }', "control characters"),
        ('favor = "fast"', "favor"),
        ("fetch_pages = 1", "fetch_pages"),
    ],
)
def test_a_bad_per_feed_setting_is_a_config_error_naming_the_key(
    tmp_path: Path, entry: str, words: str
) -> None:
    config = _base(tmp_path, f'[[feeds]]\nurl = "https://x.example/feed"\n{entry}\n')

    with pytest.raises(ConfigError) as caught:
        load_settings(config)

    assert words in str(caught.value)
    assert "feeds[0]" in str(caught.value)


def test_a_bad_header_option_is_one_line_and_exit_2(tmp_path: Path) -> None:
    config = _base(tmp_path)

    result = _ingest(
        config, "feeds", "add", "--no-check", "https://x.example/f", "--header", "NoColon"
    )

    assert result.exit_code == 2
    assert result.stderr.startswith("ingest: feeds add: --header 'NoColon': expected")


def test_a_feeds_headers_never_go_to_the_pages_of_another_host(tmp_path: Path) -> None:
    """The cookie is for the feed's server: an entry's page on another host (here another port
    of 127.0.0.1) is fetched without it, with the feed's User-Agent."""
    with LoopbackServer() as server, LoopbackServer() as other:
        page = other.url("/story")
        server.route("/feed", Reply(200, {"Content-Type": "application/rss+xml"}, rss(page)))
        other.route("/story", Reply(200, {"Content-Type": "text/html"}, b"<p>Story.</p>"))
        config = _base(
            tmp_path,
            f'[[feeds]]\nurl = "{server.url("/feed")}"\nuser_agent = "MembersBot/3"\n'
            f'headers = {{ Cookie = "{SECRET}" }}\n',
        )

        result = _ingest(config, "--once")

    assert result.exit_code == 0, result.stderr
    assert server.requests[0].headers["cookie"] == SECRET
    (fetched,) = other.requests
    assert "cookie" not in fetched.headers
    assert fetched.headers["user-agent"] == "MembersBot/3"


def test_a_reload_that_changes_a_feeds_headers_never_logs_their_values() -> None:
    from ingestd.config import FeedConfig, Settings
    from ingestd.service.reload import describe_changes

    old = Settings(
        "sqlite:///x",
        feeds=(FeedConfig("https://a.example/f", headers=(("Cookie", "one-secret"),)),),
    )
    new = Settings(
        "sqlite:///x",
        feeds=(
            FeedConfig("https://a.example/f", headers=(("Cookie", "two-secret"),), favor="recall"),
        ),
    )

    lines = describe_changes(old, new)

    assert lines == ["feed changed: https://a.example/f (favor: None → 'recall', headers: changed)"]
