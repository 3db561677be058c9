"""End to end: the real ``ingest`` command against an invented news world on 127.0.0.1.

The world (``tests/support/sites.py``) has four outlets (RSS 2.0 and Atom), one story copied in full
with an attribution line and excerpted by an aggregator, a wire story carried under a cross-site
``rel=canonical``, unrelated stories on each outlet's template, an entry whose page is gone
(404), a feed that answers 500 and a "feed" that is an HTML page. It is run twice: directly
(one server per outlet on 127.0.0.1-4) and through a plain forward proxy with ``.example``
hosts that do not resolve, which is how the product is checked. Each run is followed by a
second pass that must be answered entirely by 304s.

Also: https pages through proxies that answer CONNECT in the ways ``ingestd/fetch.py`` promises
to handle (refusal, hang-up, broken TLS, 407), and a configuration error (exit 2, one line).
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.support.sites import (
    Logged,
    Site,
    World,
    WorldServer,
    build_world,
    json_lines,
    log_events,
    run_ingest,
)

OUTLETS = ("harbourgazette", "valleyledger", "dailyroundup", "northwire")
REASONS = {"url", "guid", "body_hash", "canonical_link", "attribution", "minhash"}
FIRST_LINE = "polled 6 feeds: 13 new items, 3 republications linked, 2 failures"
SECOND_LINE = "polled 6 feeds: 0 new items, 0 republications linked, 2 failures"
DB_FILE = "ingestd.sqlite3"


def write_config(path: Path, world: World, *, proxy: str | None) -> Path:
    """A configuration for ``world``: every feed due again one second after a poll."""
    http = [f'proxy = "{proxy}"'] if proxy else ["allow_private_networks = true"]
    lines = [
        "[http]",
        "timeout_s = 10",
        *http,
        "",
        "[schedule]",
        'min_interval = "1s"',
        'default_interval = "1s"',
        "",
        "[extract]",
        "workers = 2",
        "",
    ]
    for name, url in world.feeds:
        lines += ["[[feeds]]", f'url = "{url}"', f'name = "{name}"', 'interval = "1s"', ""]
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def rows(state: Path, query: str) -> list[dict[str, Any]]:
    """Rows of a SELECT on the run's SQLite file (stdlib driver; read only)."""
    connection = sqlite3.connect(state / DB_FILE)
    connection.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in connection.execute(query)]
    finally:
        connection.close()


def feed_rows(state: Path) -> dict[str, dict[str, Any]]:
    """The ``feeds`` table, by URL."""
    return {row["url"]: row for row in rows(state, "SELECT * FROM feeds")}


def polls_by_feed(stderr: str) -> dict[str, dict[str, Any]]:
    return {event["feed"]: event for event in log_events(stderr) if event.get("event") == "poll"}


class Scenario:
    """Two ``--once`` passes over a served world, with what each left behind."""

    def __init__(self, tmp_path: Path, world: World, site: Site, proxy: str | None) -> None:
        self.world, self.site = world, site
        self.state = tmp_path / "state"
        self.config = write_config(tmp_path / "ingestd.toml", world, proxy=proxy)
        self.feed_urls = [url for _, url in world.feeds]
        self.good_feeds = {o.feed_url: o for o in world.outlets.values()}

    def ingest(self, *args: str) -> Any:
        return run_ingest(args, self.state, config=self.config)

    def items(self) -> dict[str, dict[str, Any]]:
        found = json_lines(self.ingest("items", "list", "--json"))
        by_url = {item["url"]: item for item in found}
        assert len(by_url) == len(found), "two items with one URL"
        return by_url

    def clusters(self) -> list[dict[str, Any]]:
        return json_lines(self.ingest("clusters", "list", "--json"))

    def first_pass(self) -> tuple[list[Logged], dict[str, dict[str, Any]], list[dict[str, Any]]]:
        result = self.ingest("--once")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == FIRST_LINE, result.stderr
        self.check_poll_log(polls_by_feed(result.stderr), first=True)
        requests = self.site.since(0)
        items, clusters = self.items(), self.clusters()
        self.check_items(items)
        self.check_clusters(clusters, items)
        self.check_first_requests(requests)
        rows = feed_rows(self.state)
        broken, not_xml = self.feed_urls[-2:]
        assert rows[broken]["status"] == "failing"
        assert rows[broken]["consecutive_failures"] == 1
        assert "HTTP 500" in rows[broken]["last_error"]
        assert rows[not_xml]["status"] == "failing"
        assert "not an RSS, Atom or JSON feed" in rows[not_xml]["last_error"]
        assert all(rows[url]["status"] == "ok" for url in self.good_feeds)
        return requests, items, clusters

    def second_pass(self, items_before: dict[str, dict[str, Any]]) -> list[Logged]:
        time.sleep(1.3)  # every feed is due again (interval 1 s, jitter ±10 %)
        mark = len(self.site.since(0))
        result = self.ingest("--once")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == SECOND_LINE, result.stderr
        self.check_poll_log(polls_by_feed(result.stderr), first=False)
        requests = self.site.since(mark)
        assert {r.url for r in requests} == set(self.feed_urls), "only the feeds are fetched"
        for url, outlet in self.good_feeds.items():
            [request] = [r for r in requests if r.url == url]
            resource = self.world.resources[url]
            assert request.status == 304, (url, request.headers)
            if outlet.validators == "last-modified":
                assert "if-none-match" not in request.headers
                assert request.headers["if-modified-since"] == resource.last_modified
            else:
                assert request.headers["if-none-match"] == resource.etag
        after = self.items()
        keep = ("id", "cluster_id", "role", "title")
        assert {u: [i[k] for k in keep] for u, i in after.items()} == {
            u: [i[k] for k in keep] for u, i in items_before.items()
        }
        assert feed_rows(self.state)[self.feed_urls[-2]]["consecutive_failures"] == 2
        return requests

    def check_poll_log(self, polls: dict[str, dict[str, Any]], *, first: bool) -> None:
        broken, not_xml = self.feed_urls[-2:]
        assert set(polls) == set(self.feed_urls)
        assert polls[broken]["outcome"] == "failed"
        assert "HTTP 500" in polls[broken]["error"]
        assert polls[not_xml]["outcome"] == "failed"
        assert "not an RSS, Atom or JSON feed" in polls[not_xml]["error"]
        for url in self.good_feeds:
            assert polls[url]["outcome"] == ("new" if first else "not_modified"), polls[url]

    def check_items(self, items: dict[str, dict[str, Any]]) -> None:
        stories = self.world.stories
        assert set(items) == {story.url for story in stories.values()}
        for key in self.world.singles:
            item = items[stories[key].url]
            assert (item["role"], item["cluster_id"]) == ("single", None), (key, item)
        gone = stories["mill-sluice-repairs"]
        assert items[gone.url]["text_source"] == "feed"  # the page is 404: the entry's content
        assert items[gone.url]["words"] >= 100
        for key, story in stories.items():
            if story.page_status == 200:
                assert items[story.url]["text_source"] == "page", key
            assert items[story.url]["feed_url"] == story.outlet.feed_url

    def check_clusters(
        self, clusters: list[dict[str, Any]], items: dict[str, dict[str, Any]]
    ) -> None:
        stories = self.world.stories
        assert len(clusters) == len(self.world.clusters)
        for canonical_key, member_keys in self.world.clusters:
            canonical_url = stories[canonical_key].url
            [cluster] = [c for c in clusters if c["canonical"]["url"] == canonical_url]
            members = {cluster["canonical"]["url"]} | {r["url"] for r in cluster["republications"]}
            assert members == {stories[key].url for key in member_keys}
            assert cluster["size"] == len(member_keys)
            assert items[canonical_url]["role"] == "canonical"
            for copy in cluster["republications"]:
                assert copy["role"] == "republication"
                assert copy["cluster_id"] == cluster["id"]
                assert 0 < copy["similarity"] <= 1
                assert copy["reason"] in REASONS
                assert items[copy["url"]]["role"] == "republication"
            assert items[canonical_url]["cluster_id"] == cluster["id"]
        wire = self.cluster_of("tramline-depot-order", clusters)
        assert wire["canonical_reason"] == "canonical_link"
        assert self.copy_in(wire, "tram-depot-plan")["reason"] == "canonical_link"
        story = self.cluster_of("quay-crane-dispute", clusters)
        full = self.copy_in(story, "crane-row-reaches-valley")
        # The copy was stored before its (slow) original: the canonical item was re-decided.
        assert full["id"] < story["canonical"]["id"]
        assert (full["similarity_measure"], full["similarity"] >= 0.9) == ("jaccard", True)
        excerpt = self.copy_in(story, "quay-crane-dispute-excerpt")
        assert excerpt["similarity_measure"] == "containment"

    def cluster_of(self, key: str, clusters: list[dict[str, Any]]) -> dict[str, Any]:
        url = self.world.stories[key].url
        return next(c for c in clusters if c["canonical"]["url"] == url)

    def copy_in(self, cluster: dict[str, Any], key: str) -> dict[str, Any]:
        url = self.world.stories[key].url
        return next(r for r in cluster["republications"] if r["url"] == url)

    def check_first_requests(self, requests: list[Logged]) -> None:
        gets = [r for r in requests if r.method == "GET"]
        for url in self.feed_urls:
            [request] = [r for r in gets if r.url == url]
            assert not request.conditional
            assert "application/rss+xml" in request.headers["accept"]
        for story in self.world.stories.values():
            [request] = [r for r in gets if r.url == story.url]
            assert request.status == story.page_status
            assert request.headers["accept"].startswith("text/html")


@pytest.fixture
def direct_world() -> Iterator[tuple[World, Site]]:
    """One server per outlet on 127.0.0.1-4, so every outlet is a different site."""
    site = Site()
    with ExitStack() as stack:
        servers = {}
        for index, key in enumerate(OUTLETS, start=1):
            try:
                servers[key] = stack.enter_context(WorldServer(site, f"127.0.0.{index}"))
            except OSError as exc:  # e.g. macOS, where only 127.0.0.1 is configured
                pytest.skip(f"cannot listen on 127.0.0.{index}: {exc}")
        world = build_world({key: server.base_url for key, server in servers.items()})
        site.resources.update(world.resources)
        yield world, site


@pytest.fixture
def proxied_world() -> Iterator[tuple[World, Site, str]]:
    """One plain forward proxy on 127.0.0.1 serving ``<outlet>.example`` (Northwire on https)."""
    site = Site()
    bases = {key: f"http://{key}.example" for key in OUTLETS}
    bases["northwire"] = "https://northwire.example"
    world = build_world(bases)
    site.resources.update(world.resources)
    with WorldServer(site) as proxy:
        yield world, site, proxy.base_url


def test_direct_world_is_ingested_clustered_and_revalidated(
    tmp_path: Path, direct_world: tuple[World, Site]
) -> None:
    """Direct fetches: the right clusters and canonical items, failures recorded, then 304s."""
    world, site = direct_world
    scenario = Scenario(tmp_path, world, site, proxy=None)
    requests, items, clusters = scenario.first_pass()
    assert all(r.target.startswith("/") for r in requests)  # origin-form: no proxy involved
    story = scenario.cluster_of("quay-crane-dispute", clusters)
    # An attribution line can only name an IP literal here, so the earliest item may decide.
    assert story["canonical_reason"] in ("attribution", "earliest")
    scenario.second_pass(items)


def test_proxied_world_works_as_direct_with_names_resolved_by_the_proxy(
    tmp_path: Path, proxied_world: tuple[World, Site, str]
) -> None:
    """Through a plain forward proxy, with unresolvable ``.example`` names and https pages."""
    world, site, proxy = proxied_world
    scenario = Scenario(tmp_path, world, site, proxy=proxy)
    requests, items, clusters = scenario.first_pass()
    assert all("://" in r.target for r in requests if r.method == "GET")  # absolute-form
    story = scenario.cluster_of("quay-crane-dispute", clusters)
    assert story["canonical_reason"] == "attribution"
    assert scenario.copy_in(story, "crane-row-reaches-valley")["reason"] == "attribution"
    assert scenario.copy_in(story, "quay-crane-dispute-excerpt")["reason"] == "attribution"
    # https pages: the proxy refuses CONNECT, the fetcher resends in absolute form.
    connects = [r for r in requests if r.method == "CONNECT"]
    assert connects and {r.target for r in connects} == {"northwire.example:443"}
    wire_pages = [s for s in world.stories.values() if s.outlet.key == "northwire"]
    assert len(wire_pages) == 3
    for story_page in wire_pages:
        assert story_page.url.startswith("https://northwire.example/")
        [get] = [r for r in requests if r.method == "GET" and r.target == story_page.url]
        assert get.status == 200 and get.headers["host"] == "northwire.example"
        assert items[story_page.url]["text_source"] == "page"
    # Once an absolute-form retry worked, later https requests skip CONNECT: only the requests
    # already in flight then (per_host_concurrency = 2, the default) tried a tunnel.
    assert len(connects) <= 2
    second = scenario.second_pass(items)
    assert all("://" in r.target for r in second)


@pytest.mark.parametrize("how", ["--config", "INGESTD_CONFIG"])
def test_unknown_http_key_exits_2_naming_file_and_key_and_writes_nothing(
    tmp_path: Path, how: str
) -> None:
    """A configuration mistake is one stderr line and exit 2, before any database exists."""
    config = tmp_path / "bad.toml"
    config.write_text(
        '[http]\ntimeout_s = 5\nretries = 3\n\n[[feeds]]\nurl = "http://harbourgazette.example/feed.xml"\n',
        encoding="utf-8",
    )
    state = tmp_path / "state"
    state.mkdir()
    if how == "--config":
        result = run_ingest(["--once"], state, config=config)
    else:
        result = run_ingest(["--once"], state, env={"INGESTD_CONFIG": str(config)})
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert str(config) in lines[0]
    assert "http.retries" in lines[0]
    assert "Traceback" not in result.stderr
    assert list(state.iterdir()) == []  # no database file was created


@pytest.mark.parametrize(
    ("connect", "retried"),
    [("501", True), ("hangup", True), ("plain", True), ("407", False)],
)
def test_https_pages_through_a_proxy_that_does_not_tunnel(
    tmp_path: Path, proxied_world: tuple[World, Site, str], connect: str, retried: bool
) -> None:
    """fetch.py's promise: a refused (4xx but 407, or 501), hung-up or TLS-broken tunnel is
    retried once in absolute form; a 407 is not (the page then falls back to the feed)."""
    world, site, proxy = proxied_world
    site.connect = connect
    wire = world.outlets["northwire"]
    world.feeds = [(wire.name, wire.feed_url)]
    config = write_config(tmp_path / "ingestd.toml", world, proxy=proxy)
    result = run_ingest(["--once"], tmp_path / "state", config=config)
    assert result.returncode == 0, result.stderr
    summary = "polled 1 feed: 3 new items, 0 republications linked, 0 failures"
    assert result.stdout.strip() == summary, result.stderr
    stored = rows(tmp_path / "state", "SELECT url, text_source FROM items")  # no CLI start-up
    pages = {s.url for s in world.stories.values() if s.outlet is wire}
    assert {row["url"] for row in stored} == pages
    assert {row["text_source"] for row in stored} == {"page" if retried else "feed"}
    connects = [r for r in site.log if r.method == "CONNECT"]
    absolute = [r for r in site.log if r.method == "GET" and r.target.startswith("https://")]
    assert connects and all(r.target == "northwire.example:443" for r in connects)
    if retried:
        assert {r.target for r in absolute} == pages
        assert all(r.status == 200 for r in absolute)
        assert len(connects) <= 2  # later requests skip the tunnel once a retry worked
    else:
        assert absolute == []
        assert len(connects) == 3
