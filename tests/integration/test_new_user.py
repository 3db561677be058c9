"""As a new user would: import a feed reader's OPML export (nested folders, a few broken
entries), run one pass against the invented news world on 127.0.0.1-4, then subscribe a feed
parser to the deduplicated Atom and JSON Feed exports."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import fields
from pathlib import Path
from typing import Any

import feedparser
import pytest
import structlog
from click.testing import CliRunner, Result

from ingestd.cli.main import main
from ingestd.config import HttpSettings
from ingestd.parse.opml import read_opml
from tests.support.sites import Site, World, WorldServer, build_world

OUTLETS = ("harbourgazette", "valleyledger", "dailyroundup", "northwire")
REASONS = {"url", "guid", "body_hash", "canonical_link", "attribution", "minhash"}
# Requests to one host are spaced by [http] min_host_gap_s where that setting exists.
NO_GAP = (
    "min_host_gap_s = 0\n" if "min_host_gap_s" in {f.name for f in fields(HttpSettings)} else ""
)

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.fixture(autouse=True)
def _forget_logging_setup() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def world() -> Iterator[World]:
    """One server per outlet on 127.0.0.1-4, so every outlet is a different site."""
    site = Site()
    with ExitStack() as stack:
        servers = {}
        for index, key in enumerate(OUTLETS, start=1):
            try:
                servers[key] = stack.enter_context(WorldServer(site, f"127.0.0.{index}"))
            except OSError as exc:  # e.g. macOS, where only 127.0.0.1 is configured
                pytest.skip(f"cannot listen on 127.0.0.{index}: {exc}")
        built = build_world({key: server.base_url for key, server in servers.items()})
        site.resources.update(built.resources)
        yield built


def reader_export(world: World) -> str:
    """An OPML file as feed readers write them: folders in folders, and a few broken entries."""
    (ledger, l_url), (roundup, r_url), (wire, w_url), (gazette, g_url) = world.feeds[:4]
    (sport, s_url), (front, f_url) = world.feeds[4:]
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Feeds from my reader</title></head>
  <body>
    <outline text="News" title="News">
      <outline type="rss" text="{gazette}" title="{gazette}" xmlUrl="{g_url}"/>
      <outline text="Regional">
        <outline type="rss" text="{ledger}" xmlurl="{l_url}"/>
        <outline type="rss" text="{roundup}" xmlUrl="{r_url}"/>
        <outline type="rss" text="Old podcast" xmlUrl="itpc://podcast.example/feed"/>
      </outline>
      <outline type="rss" text="{wire}" xmlUrl="{w_url}"/>
    </outline>
    <outline text="Sport">
      <outline type="rss" text="{sport}" xmlUrl="{s_url}"/>
      <outline type="rss" text="{gazette} (again)" xmlUrl="{g_url}"/>
    </outline>
    <outline type="rss" text="{front}" xmlUrl="{f_url}"/>
    <outline type="rss" text="A link that lost its address"/>
  </body>
</opml>
"""


def ingest(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def by_url(world: World, key: str) -> str:
    return world.stories[key].url


def test_import_a_reader_export_poll_once_and_read_the_deduplicated_feeds(
    tmp_path: Path, world: World
) -> None:
    config = tmp_path / "ingestd.toml"
    config.write_text(
        f"[http]\nallow_private_networks = true\ntimeout_s = 10\n{NO_GAP}\n"
        '[schedule]\nmin_interval = "1s"\n\n[extract]\nworkers = 2\n',
        encoding="utf-8",
    )
    opml = tmp_path / "reader.opml"
    opml.write_text(reader_export(world), encoding="utf-8")

    imported = ingest(config, "feeds", "import", str(opml))
    assert imported.exit_code == 0, imported.stderr
    assert imported.stdout == "imported 6 feeds, skipped 1 duplicate, 2 invalid entries\n"
    assert imported.stderr.splitlines() == [
        f"ingest: {opml}:10: outline \"Old podcast\": xmlUrl 'itpc://podcast.example/feed' "
        "is not an http(s) URL",
        f'ingest: {opml}:19: outline "A link that lost its address" has no xmlUrl',
        f"ingest: configuration file {config} (its [[feeds]] are synced)",
    ]

    polled = ingest(config, "--once")
    assert polled.exit_code == 0, polled.stderr
    assert polled.stdout.strip() == (
        "polled 6 feeds: 13 new items, 3 republications linked, 2 failures"
    )
    # stderr is no terminal: no progress bar, JSON log lines only (in-process, earlier runs may
    # have bound the loggers elsewhere, so their number is not checked here)
    assert "━" not in polled.stderr and "\x1b[" not in polled.stderr
    assert all(json.loads(line) for line in polled.stderr.splitlines())

    check_feeds(config, world)
    check_atom(config, world)
    check_json_feed(config, world)


def check_feeds(config: Path, world: World) -> None:
    listed = ingest(config, "feeds", "list", "--json")
    feeds = {f["url"]: f for f in map(json.loads, listed.stdout.splitlines())}
    assert {f["source"] for f in feeds.values()} == {"cli"}
    broken, not_a_feed = world.feeds[4][1], world.feeds[5][1]
    assert feeds[broken]["status"] == "failing" and "HTTP 500" in feeds[broken]["last_error"]
    assert "not an RSS, Atom or JSON feed" in feeds[not_a_feed]["last_error"]
    exported = ingest(config, "feeds", "export")
    assert len(read_opml(exported.stdout_bytes).feeds) == 6


def check_atom(config: Path, world: World) -> None:
    result = ingest(config, "export", "--format", "atom")
    assert result.exit_code == 0, result.stderr
    parsed = feedparser.parse(result.stdout_bytes)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert len(parsed.entries) == 10  # 13 items, 3 of them republications
    published = [e.published for e in parsed.entries if "published" in e]
    assert published == sorted(published, reverse=True)  # newest first
    crane = next(e for e in parsed.entries if e.link == by_url(world, "quay-crane-dispute"))
    related = {link.href for link in crane.links if link.rel == "related"}
    assert related == {
        by_url(world, "crane-row-reaches-valley"),
        by_url(world, "quay-crane-dispute-excerpt"),
    }
    assert "Also published by:" in crane.content[0].value
    copies = {by_url(world, k) for k in ("crane-row-reaches-valley", "tram-depot-plan")}
    assert not copies & {e.link for e in parsed.entries}  # copies are not entries of their own


def check_json_feed(config: Path, world: World) -> None:
    ledger_feed = world.outlets["valleyledger"].feed_url
    result = ingest(config, "export", "--format", "jsonfeed", "--feed", ledger_feed)
    assert result.exit_code == 0, result.stderr
    document: dict[str, Any] = json.loads(result.stdout)
    assert document["version"] == "https://jsonfeed.org/version/1.1"
    items = {item["url"]: item for item in document["items"]}
    story = items[by_url(world, "quay-crane-dispute")]  # the Ledger carried a copy of it
    assert story["id"].startswith("urn:ingestd:story:")
    assert story["title"] and story["content_text"] and story["date_published"]
    copies = story["_ingestd"]["republications"]
    assert {c["url"] for c in copies} == {
        by_url(world, "crane-row-reaches-valley"),
        by_url(world, "quay-crane-dispute-excerpt"),
    }
    for copy in copies:
        assert copy["site"] and copy["published"].endswith("Z")
        assert 0 < copy["similarity"] <= 1 and copy["reason"] in REASONS
