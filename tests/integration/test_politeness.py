"""Polite polling against real HTTP servers on 127.0.0.1: validators, backoff per failure
class, Retry-After, redirects, per-host gaps, entry caps, hostile answers.

Each test runs real passes (``runner.run_once``) over a real SQLite file; feeds are made due
again by moving their ``next_poll_at`` into the past, as time passing would.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from ingestd.config import Settings, load_settings
from ingestd.pipeline.runner import run_once
from ingestd.store import FeedRecord, Store
from tests.support.httpserver import LoopbackServer, Reply, Request

RSS = "application/rss+xml"


def rss(count: int, prefix: str = "item", base: str = "http://127.0.0.1/") -> bytes:
    """An RSS 2.0 feed of ``count`` entries with their own text (no pages needed)."""
    items = "".join(
        f"<item><title>{prefix} {n}</title><link>{base}{prefix}/{n}</link>"
        f"<guid>{prefix}-{n}</guid><description>Entry {prefix} number {n} says something "
        f"of its own about topic {n * 7919 % 1000}.</description></item>"
        for n in range(count)
    )
    head = '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
    return f"{head}{items}</channel></rss>".encode()


@pytest.fixture
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer() as srv:
        yield srv


def settings_for(tmp_path: Path, urls: list[str], extra: str = "") -> Settings:
    feeds = "".join(f'\n[[feeds]]\nurl = "{url}"\n' for url in urls)
    text = (
        "[http]\nallow_private_networks = true\ntimeout_s = 2\ntotal_timeout_s = 4\n"
        "min_host_gap_s = 0\n\n[extract]\nfetch_pages = false\nworkers = 1\n"
        f'{extra}\n[database]\nurl = "sqlite:///{tmp_path}/t.sqlite3"\n{feeds}'
    )
    path = tmp_path / "ingestd.toml"
    path.write_text(text, encoding="utf-8")
    return load_settings(path)


def feeds(settings: Settings) -> dict[str, FeedRecord]:
    store = Store.open(settings.database_url)
    try:
        with store.transaction(write=False) as tx:
            return {feed.url: feed for feed in tx.feeds()}
    finally:
        store.close()


def make_due(settings: Settings, **values: object) -> None:
    """Every feed due now (and any other column values given)."""
    store = Store.open(settings.database_url)
    try:
        with store.transaction() as tx:
            for feed in tx.feeds():
                tx.update_feed(
                    feed.id, next_poll_at=datetime.now(UTC) - timedelta(seconds=1), **values
                )
    finally:
        store.close()


def test_validators_are_sent_back_and_304_is_not_parsed(
    server: LoopbackServer, tmp_path: Path
) -> None:
    """The second poll is conditional; a 304 stores nothing and leaves the feed not_modified."""

    def answer(request: Request) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(304)
        return Reply(
            200,
            {"Content-Type": RSS, "ETag": '"v1"', "Last-Modified": "Mon, 02 Nov 2026 10:00:00 GMT"},
            rss(3),
        )

    server.route("/feed", answer)
    settings = settings_for(tmp_path, [server.url("/feed")])
    assert run_once(settings).new_items == 3
    make_due(settings)
    second = run_once(settings)
    assert second.new_items == 0 and second.outcomes[0].outcome == "not_modified"
    assert server.requests[1].headers["if-none-match"] == '"v1"'
    assert server.requests[1].headers["if-modified-since"] == "Mon, 02 Nov 2026 10:00:00 GMT"
    assert feeds(settings)[server.url("/feed")].status == "not_modified"


def test_an_unchanged_body_is_not_parsed_again(server: LoopbackServer, tmp_path: Path) -> None:
    """A server that ignores validators and sends the same bytes: outcome unchanged."""
    server.route("/feed", Reply(200, {"Content-Type": RSS}, rss(2)))
    settings = settings_for(tmp_path, [server.url("/feed")])
    run_once(settings)
    make_due(settings)
    assert run_once(settings).outcomes[0].outcome == "unchanged"


def test_validators_are_dropped_once_a_day_to_catch_lying_servers(
    server: LoopbackServer, tmp_path: Path
) -> None:
    """After a day without a full answer the poll is unconditional."""
    server.route("/feed", Reply(200, {"Content-Type": RSS, "ETag": '"same"'}, rss(1)))
    settings = settings_for(tmp_path, [server.url("/feed")])
    run_once(settings)
    make_due(settings, body_fetched_at=datetime.now(UTC) - timedelta(days=2))
    run_once(settings)
    assert "if-none-match" not in server.requests[-1].headers


def test_429_with_retry_after_is_honoured_and_classified(
    server: LoopbackServer, tmp_path: Path
) -> None:
    """Rate-limited: status rate_limited, next poll no sooner than Retry-After, not polled early."""
    server.route("/feed", Reply(429, {"Retry-After": "3600"}))
    settings = settings_for(tmp_path, [server.url("/feed")])
    before = datetime.now(UTC)
    summary = run_once(settings)
    assert summary.failures == 1
    feed = feeds(settings)[server.url("/feed")]
    assert feed.status == "rate_limited" and feed.failure_kind == "rate_limited"
    assert feed.next_poll_at is not None and feed.next_poll_at >= before + timedelta(seconds=3600)
    assert run_once(settings).feeds_polled == 0  # not due: nothing asked again
    assert len(server.requests) == 1


def test_retry_after_as_http_date(server: LoopbackServer, tmp_path: Path) -> None:
    when = datetime.now(UTC) + timedelta(hours=2)
    server.route("/feed", Reply(503, {"Retry-After": format_datetime(when, usegmt=True)}))
    settings = settings_for(tmp_path, [server.url("/feed")])
    run_once(settings)
    feed = feeds(settings)[server.url("/feed")]
    assert feed.status == "rate_limited"
    assert feed.next_poll_at is not None and feed.next_poll_at >= when - timedelta(seconds=2)


def test_several_rate_limited_feeds_hold_back_their_whole_host(
    server: LoopbackServer, tmp_path: Path
) -> None:
    """Two feeds of one host answer 429: a third feed of that host waits as well."""
    server.route("/a", Reply(429, {"Retry-After": "7200"}))
    server.route("/b", Reply(429, {"Retry-After": "7200"}))
    server.route("/c", Reply(200, {"Content-Type": RSS}, rss(1)))
    settings = settings_for(tmp_path, [server.url(p) for p in ("/a", "/b", "/c")])
    run_once(settings)
    third = feeds(settings)[server.url("/c")]
    assert third.not_before_at is not None
    assert third.next_poll_at is not None and third.next_poll_at > datetime.now(UTC) + timedelta(
        hours=1
    )


def test_failures_back_off_by_class(server: LoopbackServer, tmp_path: Path) -> None:
    """5xx is transient (next poll ~1 interval); 404 permanent (~4 intervals); 410 gone (a week)."""
    server.route("/t", Reply(500))
    server.route("/p", Reply(404))
    server.route("/g", Reply(410))
    settings = settings_for(
        tmp_path,
        [server.url(p) for p in ("/t", "/p", "/g")],
        '[schedule]\ndefault_interval = "10m"\n',
    )
    start = datetime.now(UTC)
    run_once(settings)
    found = feeds(settings)
    delay = {
        p: (found[server.url(p)].next_poll_at - start).total_seconds() for p in ("/t", "/p", "/g")
    }  # type: ignore[operator]
    assert 500 <= delay["/t"] <= 700
    assert 2100 <= delay["/p"] <= 2700
    assert delay["/g"] >= 6 * 86400
    assert found[server.url("/g")].status == "gone"
    assert found[server.url("/t")].failure_kind == "transient"
    assert found[server.url("/p")].failure_kind == "permanent"
    make_due(settings)
    run_once(settings)
    again = feeds(settings)[server.url("/t")]
    assert again.consecutive_failures == 2
    assert (again.next_poll_at - datetime.now(UTC)).total_seconds() >= 1000  # type: ignore[operator]


def test_a_301_becomes_the_feed_url_after_three_polls_and_302_never(
    server: LoopbackServer, tmp_path: Path
) -> None:
    server.route("/old", Reply(301, {"Location": "/new"}))
    server.route("/new", Reply(200, {"Content-Type": RSS}, rss(1, "moved")))
    server.route("/temp", Reply(302, {"Location": "/elsewhere"}))
    server.route("/elsewhere", Reply(200, {"Content-Type": RSS}, rss(1, "temp")))
    settings = settings_for(tmp_path, [server.url("/old"), server.url("/temp")])
    for poll in range(3):
        if poll:
            make_due(settings)
        run_once(settings)
        if poll < 2:
            assert server.url("/old") in feeds(settings)
    found = feeds(settings)
    assert server.url("/new") in found and server.url("/old") not in found
    assert found[server.url("/new")].aliases == (server.url("/old"),)
    assert server.url("/temp") in found and found[server.url("/temp")].status == "redirected"


def test_requests_to_one_host_keep_the_minimum_gap(server: LoopbackServer, tmp_path: Path) -> None:
    """Feeds and pages of one host start at least min_host_gap_s apart."""
    starts: list[float] = []

    def timed(reply: Reply):  # type: ignore[no-untyped-def]
        def answer(_request: Request) -> Reply:
            starts.append(time.monotonic())
            return reply

        return answer

    page = (
        b"<html><body><article><p>"
        + b"Words of a page that is long enough. " * 20
        + b"</p></article></body></html>"
    )
    for n in range(3):
        server.route(f"/item/{n}", timed(Reply(200, {"Content-Type": "text/html"}, page)))
    server.route("/feed", timed(Reply(200, {"Content-Type": RSS}, rss(3, "item", server.url("/")))))
    path = tmp_path / "ingestd.toml"
    settings_for(tmp_path, [server.url("/feed")])
    path.write_text(
        path.read_text()
        .replace("min_host_gap_s = 0", "min_host_gap_s = 0.4")
        .replace("fetch_pages = false", "fetch_pages = true")
    )
    run_once(load_settings(path))
    assert len(starts) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(starts)]
    assert min(gaps) >= 0.3, gaps  # 0.4 s turns; a loaded machine may send one a little late


def test_entries_per_poll_are_capped(server: LoopbackServer, tmp_path: Path) -> None:
    """A feed of 5,000 entries stores only the first max_entries."""
    server.route("/huge", Reply(200, {"Content-Type": RSS}, rss(5000)))
    settings = settings_for(tmp_path, [server.url("/huge")], "max_entries = 50\n")
    assert run_once(settings).new_items == 50


def test_hostile_answers_fail_the_feed_not_the_run(server: LoopbackServer, tmp_path: Path) -> None:
    """Malformed XML, HTML as a feed, a stalled body, a reset: each recorded, the run goes on."""
    server.route("/broken", Reply(200, {"Content-Type": RSS}, b"<rss><channel><item><title>x</ti"))
    server.route(
        "/html",
        Reply(200, {"Content-Type": "text/html"}, b"<html><body><p>Hello</p></body></html>"),
    )
    server.route("/stall", Reply(200, {"Content-Type": RSS}, rss(1), delay_s=6))
    server.route("/reset", Reply(close=True))
    server.route("/good", Reply(200, {"Content-Type": RSS}, rss(2, "good")))
    urls = [server.url(p) for p in ("/broken", "/html", "/stall", "/reset", "/good")]
    settings = settings_for(tmp_path, urls)
    summary = run_once(settings)
    assert summary.feeds_polled == 5 and summary.new_items >= 2
    found = feeds(settings)
    assert found[server.url("/good")].status == "ok"
    for path in ("/html", "/stall", "/reset"):
        assert found[server.url(path)].status == "failing", path
        assert found[server.url(path)].last_error


def test_feeds_poll_polls_one_feed_now_but_not_before_retry_after(
    server: LoopbackServer, tmp_path: Path
) -> None:
    """`ingest feeds poll URL` ignores the schedule, not a Retry-After; it lists the item count."""
    from click.testing import CliRunner

    from ingestd.cli.main import main

    server.route("/feed", Reply(200, {"Content-Type": RSS}, rss(2)))
    server.route("/limited", Reply(429, {"Retry-After": "3600"}))
    settings = settings_for(tmp_path, [server.url("/feed"), server.url("/limited")])
    run_once(settings)  # both polled; the next polls are far away
    config = str(tmp_path / "ingestd.toml")
    runner = CliRunner()
    result = runner.invoke(main, ["--config", config, "feeds", "poll", server.url("/feed")])
    assert result.exit_code == 0, result.output
    assert "unchanged" in result.output and len(server.requests) == 3
    result = runner.invoke(main, ["--config", config, "feeds", "poll", server.url("/limited")])
    assert result.exit_code == 0 and "no request before" in result.output
    assert len(server.requests) == 3  # the rate-limited feed was not asked again
    missing = runner.invoke(main, ["--config", config, "feeds", "poll", "http://nowhere.example/f"])
    assert missing.exit_code == 2
    listing = runner.invoke(main, ["--config", config, "feeds", "list", "--json"])
    rows = {row["url"]: row for row in map(json.loads, listing.stdout.splitlines())}
    assert rows[server.url("/feed")]["items"] == 2
    assert rows[server.url("/limited")]["status"] == "rate_limited"


def test_publisher_hints_lengthen_the_interval(server: LoopbackServer, tmp_path: Path) -> None:
    """<ttl> (minutes) and Cache-Control max-age make the next poll later, never sooner."""
    with_ttl = rss(1).replace(b"<title>t</title>", b"<title>t</title><ttl>180</ttl>")
    server.route("/ttl", Reply(200, {"Content-Type": RSS}, with_ttl))
    server.route(
        "/cached", Reply(200, {"Content-Type": RSS, "Cache-Control": "max-age=7200"}, rss(1, "c"))
    )
    server.route("/plain", Reply(200, {"Content-Type": RSS}, rss(1, "p")))
    settings = settings_for(tmp_path, [server.url(p) for p in ("/ttl", "/cached", "/plain")])
    start = datetime.now(UTC)
    run_once(settings)
    found = feeds(settings)
    delay = {
        p: (found[server.url(p)].next_poll_at - start).total_seconds()
        for p in ("/ttl", "/cached", "/plain")
    }  # type: ignore[operator]
    assert 0.85 * 10800 <= delay["/ttl"] <= 1.15 * 10800
    assert 0.85 * 7200 <= delay["/cached"] <= 1.15 * 7200
    assert 0.85 * 1800 <= delay["/plain"] <= 1.15 * 1800  # the default 30 min, with jitter


def test_file_links_in_a_remote_feed_are_never_read(server: LoopbackServer, tmp_path: Path) -> None:
    """A remote feed pointing at file:///etc/passwd gets no page fetched from disk."""
    secret = tmp_path / "secret.html"
    secret.write_text(
        "<html><body><article><p>"
        + "Private words on this disk. " * 30
        + "</p></article></body></html>"
    )
    feed = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title>'
        f"<link>{secret.as_uri()}</link><guid>g1</guid><description>From the feed itself, "
        "a summary long enough to be kept as the item text.</description></item></channel></rss>"
    ).encode()
    server.route("/feed", Reply(200, {"Content-Type": RSS}, feed))
    path = tmp_path / "ingestd.toml"
    settings_for(tmp_path, [server.url("/feed")])
    path.write_text(path.read_text().replace("fetch_pages = false", "fetch_pages = true"))
    settings = load_settings(path)
    run_once(settings)
    store = Store.open(settings.database_url)
    try:
        with store.transaction(write=False) as tx:
            [item] = tx.list_items()
            text = tx.item_text(item.id)
    finally:
        store.close()
    assert "Private words" not in text and item.text_source == "feed"


def test_user_agent_names_version_and_contact(server: LoopbackServer, tmp_path: Path) -> None:
    server.route("/feed", Reply(200, {"Content-Type": RSS}, rss(1)))
    settings_for(tmp_path, [server.url("/feed")])
    path = tmp_path / "ingestd.toml"
    path.write_text(
        path.read_text().replace("[http]\n", '[http]\ncontact_url = "https://ops.example/bot"\n')
    )
    run_once(load_settings(path))
    from ingestd import __version__

    agent = server.requests[0].headers["user-agent"]
    assert agent == f"ingestd/{__version__} (+https://ops.example/bot)", agent


def test_quiet_304s_slow_the_feed_down_from_the_row_alone(
    server: LoopbackServer, tmp_path: Path
) -> None:
    """The schedule's memory rides on the feed row: once three quiet 304s are behind it the interval
    doubles, with no poll history to read (the history is emptied to prove it); a feed not
    polled since the upgrade (no memory on its row) reads its history once."""
    server.route(
        "/feed",
        lambda request: (
            Reply(304)
            if request.headers.get("if-none-match") == '"v1"'
            else Reply(200, {"Content-Type": RSS, "ETag": '"v1"'}, rss(2))
        ),
    )
    settings = settings_for(tmp_path, [server.url("/feed")])
    run_once(settings)
    assert feeds(settings)[server.url("/feed")].recent_polls == "2:0"
    for _ in range(4):
        make_due(settings)
        store = Store.open(settings.database_url)
        with store.transaction() as tx:
            tx.conn.exec_driver_sql("DELETE FROM polls")
        store.close()
        start = datetime.now(UTC)
        run_once(settings)
    feed = feeds(settings)[server.url("/feed")]
    assert feed.recent_polls == "0:0,0:0,0:0,0:0,2:0"
    assert feed.next_poll_at is not None
    assert 0.85 * 3600 <= (feed.next_poll_at - start).total_seconds() <= 1.15 * 3600

    make_due(settings, recent_polls=None)  # as a store upgraded to migration 13 has it
    start = datetime.now(UTC)
    run_once(settings)
    feed = feeds(settings)[server.url("/feed")]
    assert feed.recent_polls == "0:0,0:0"  # the one 304 left in the history, and this one
    assert feed.next_poll_at is not None
    assert 0.85 * 1800 <= (feed.next_poll_at - start).total_seconds() <= 1.15 * 1800


def test_a_hosts_feeds_share_one_kept_alive_connection(
    server: LoopbackServer, tmp_path: Path
) -> None:
    """Feeds of one host polled in a pass, their politeness gap apart, go over one connection
    (no new connection, and no new lookup, per poll)."""
    for n in range(4):
        server.route(f"/f{n}", Reply(200, {"Content-Type": RSS}, rss(1, f"f{n}")))
    settings_for(tmp_path, [server.url(f"/f{n}") for n in range(4)])
    path = tmp_path / "ingestd.toml"
    gapped = path.read_text().replace("min_host_gap_s = 0", "min_host_gap_s = 0.2")
    path.write_text(gapped.replace("[http]\n", "[http]\nper_host_concurrency = 1\n"))
    run_once(load_settings(path))
    assert len(server.requests) == 4
    assert len(server.connections) == 1


def test_the_open_files_limit_is_raised_to_the_hard_limit() -> None:
    """Kept-alive connections to thousands of hosts need more than a soft limit of 1,024."""
    import resource
    import subprocess
    import sys

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    lowered = min(256, hard)
    code = (
        "import resource\n"
        f"resource.setrlimit(resource.RLIMIT_NOFILE, ({lowered}, {hard}))\n"
        "from ingestd.fetch.transport import raise_open_files_limit\n"
        "print(raise_open_files_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    expected = hard if hard != resource.RLIM_INFINITY else max(lowered, 1_048_576)
    assert done.stdout.split() == [str(expected), str(expected)]
