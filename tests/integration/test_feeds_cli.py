"""``ingest feeds list/add/remove/import/export`` and ``ingest export`` through the CLI: the
database holds one feed list, [[feeds]] of the file are synced into it, command-line feeds stay
until removed; ``feeds add`` finds a page's feed through <link rel="alternate">; mistakes are one
line on stderr and exit 2."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner, Result

from ingestd.cli.main import main
from ingestd.config import HttpSettings
from ingestd.parse.opml import read_opml
from tests.support.httpserver import LoopbackServer, Reply

pytestmark = pytest.mark.usefixtures("isolated_env")
# Requests to one host are spaced by [http] min_host_gap_s where that setting exists.
NO_GAP = (
    "min_host_gap_s = 0\n" if "min_host_gap_s" in {f.name for f in fields(HttpSettings)} else ""
)

RSS = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Harbour Gazette</title>
<link>http://127.0.0.1/</link><item><title>One</title><link>http://127.0.0.1/one</link></item>
</channel></rss>"""
PAGE = b"""<!DOCTYPE html><html><head><title>Harbour Gazette</title>
<link rel="alternate" type="application/rss+xml" title="RSS" href="/news/feed.xml">
</head><body><p>News.</p></body></html>"""
OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head><title>Export from a reader</title></head>
  <body>
    <outline text="News">
      <outline type="rss" text="Gazette" xmlUrl="https://gazette.example/feed.xml"/>
      <outline text="Local">
        <outline type="rss" text="Ledger" xmlUrl="https://ledger.example/rss"/>
        <outline type="rss" text="Gazette again" xmlUrl="https://gazette.example/feed.xml"/>
        <outline type="rss" text="Mailbox" xmlUrl="mailto:news@ledger.example"/>
      </outline>
    </outline>
    <outline type="rss" text="Configured" xmlUrl="https://config.example/feed.xml"/>
    <outline type="rss" text="Lost"/>
  </body>
</opml>
"""


@pytest.fixture(autouse=True)
def _forget_logging_setup() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """A file with one configured feed; loopback addresses allowed (for the test servers)."""
    path = tmp_path / "ingestd.toml"
    path.write_text(
        f"[http]\nallow_private_networks = true\ntimeout_s = 5\n{NO_GAP}\n"
        '[[feeds]]\nurl = "https://config.example/feed.xml"\nname = "Configured"\n',
        encoding="utf-8",
    )
    return path


@pytest.fixture
def opml(tmp_path: Path) -> Path:
    path = tmp_path / "reader.opml"
    path.write_text(OPML, encoding="utf-8")
    return path


def ingest(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def error_line(result: Result) -> str:
    """The one line a refused command printed (exit 2, nothing on stdout, no traceback)."""
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == "" and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def listed(config: Path, *options: str) -> dict[str, dict[str, object]]:
    result = ingest(config, "feeds", "list", "--json", *options)
    assert result.exit_code == 0, result.stderr
    return {obj["url"]: obj for obj in map(json.loads, result.stdout.splitlines())}


# --- import and export -------------------------------------------------------------------------


def test_import_subscribes_nested_feeds_and_reports_the_rest_with_lines(
    config: Path, opml: Path
) -> None:
    result = ingest(config, "feeds", "import", str(opml))

    assert result.exit_code == 0, result.stderr
    assert result.stdout == "imported 2 feeds, skipped 2 duplicates, 2 invalid entries\n"
    assert result.stderr.splitlines() == [
        f"ingest: {opml}:10: outline \"Mailbox\": xmlUrl 'mailto:news@ledger.example' "
        "is not an http(s) URL",
        f'ingest: {opml}:14: outline "Lost" has no xmlUrl',
        f"ingest: configuration file {config} (its [[feeds]] are synced)",
    ]
    feeds = listed(config)
    assert {url: (f["name"], f["source"]) for url, f in feeds.items()} == {
        "https://config.example/feed.xml": ("Configured", "config"),
        "https://gazette.example/feed.xml": ("Gazette", "cli"),
        "https://ledger.example/rss": ("Ledger", "cli"),
    }
    again = ingest(config, "feeds", "import", str(opml))
    assert again.stdout == "imported 0 feeds, skipped 4 duplicates, 2 invalid entries\n"


@pytest.mark.parametrize(
    ("content", "where", "words"),
    [
        ("not xml at all\n", ":1: ", "malformed XML"),
        ("<opml>\n<body>\n<outline>\n</opml>\n", ":4: ", "malformed XML"),
        ('<?xml version="1.0"?>\n<rss version="2.0"/>\n', ":2: ", "root element is <rss>"),
    ],
)
def test_a_file_that_is_not_opml_is_exit_2_naming_file_and_line(
    config: Path, tmp_path: Path, content: str, where: str, words: str
) -> None:
    path = tmp_path / "subscriptions.opml"
    path.write_text(content, encoding="utf-8")

    line = error_line(ingest(config, "feeds", "import", str(path)))

    assert line.startswith(f"ingest: feeds import: {path}{where}not an OPML file")
    assert words in line
    assert set(listed(config)) == {"https://config.example/feed.xml"}  # nothing imported


def test_a_missing_opml_file_is_exit_2(config: Path, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.opml"

    assert error_line(ingest(config, "feeds", "import", str(missing))) == (
        f"ingest: feeds import: {missing}: file not found"
    )


def test_export_prints_opml_2_of_the_active_feeds(config: Path, opml: Path) -> None:
    ingest(config, "feeds", "import", str(opml))
    ingest(config, "feeds", "remove", "https://ledger.example/rss")

    result = ingest(config, "feeds", "export")

    assert result.exit_code == 0, result.stderr
    root = ET.fromstring(result.stdout_bytes)
    assert root.get("version") == "2.0"
    assert root.findtext("head/title") == "ingestd subscriptions"
    assert root.findtext("head/dateCreated")
    assert [o.attrib for o in root.findall(".//outline[@xmlUrl]")] == [
        {
            "type": "rss",
            "text": "Configured",
            "title": "Configured",
            "xmlUrl": "https://config.example/feed.xml",
        },
        {
            "type": "rss",
            "text": "Gazette",
            "title": "Gazette",
            "xmlUrl": "https://gazette.example/feed.xml",
        },
    ]
    assert [(f.url, f.folders) for f in read_opml(result.stdout_bytes).feeds] == [
        ("https://config.example/feed.xml", ()),
        ("https://gazette.example/feed.xml", ("News",)),
    ]


# --- one source of truth -----------------------------------------------------------------------


def test_a_configured_feed_can_only_be_removed_in_the_file(config: Path) -> None:
    line = error_line(ingest(config, "feeds", "remove", "https://config.example/feed.xml"))

    assert line == (
        f"ingest: feeds remove: https://config.example/feed.xml is listed in {config}; "
        "delete its [[feeds]] entry there instead"
    )


def test_removing_an_unknown_feed_is_exit_2(config: Path) -> None:
    line = error_line(ingest(config, "feeds", "remove", "https://nowhere.example/feed"))

    assert line == (
        "ingest: feeds remove: no subscribed feed https://nowhere.example/feed "
        "(see `ingest feeds list`)"
    )


def test_removed_feeds_stay_listed_with_all_and_config_sync_never_drops_cli_feeds(
    config: Path, opml: Path, tmp_path: Path
) -> None:
    ingest(config, "feeds", "import", str(opml))

    removed = ingest(config, "feeds", "remove", "https://ledger.example/rss")
    emptied = tmp_path / "empty.toml"
    emptied.write_text("", encoding="utf-8")
    after = listed(emptied, "--all")  # the configured feed left the file

    assert removed.stdout == "removed https://ledger.example/rss; its items stay\n"
    assert {url: (f["source"], f["active"]) for url, f in after.items()} == {
        "https://config.example/feed.xml": ("config", False),
        "https://gazette.example/feed.xml": ("cli", True),
        "https://ledger.example/rss": ("cli", False),
    }
    assert set(listed(emptied)) == {"https://gazette.example/feed.xml"}


def test_the_feeds_table_names_source_and_status(config: Path) -> None:
    ingest(config, "feeds", "add", "--no-check", "https://mine.example/feed", "--name", "Mine")

    result = ingest(config, "feeds", "list")

    assert result.exit_code == 0, result.stderr
    assert "2 feeds" in result.stdout
    for word in ("https://config.example/feed.xml", "Configured", "config", "Mine", "cli", "due"):
        assert word in result.stdout


# --- add -----------------------------------------------------------------------------------------


def test_add_without_check_stores_the_url_with_name_and_interval(config: Path) -> None:
    result = ingest(
        config, "feeds", "add", "--no-check", "mine.example/feed", "--interval", "2h", "--name", "M"
    )

    assert result.exit_code == 0, result.stderr
    assert result.stdout == 'added https://mine.example/feed "M"\n'
    feed = listed(config)["https://mine.example/feed"]
    assert (feed["name"], feed["interval_s"], feed["source"]) == ("M", 7200.0, "cli")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("https://config.example/feed.xml", "is already subscribed in "),
        ("ftp://files.example/feed", "is not an http(s) URL"),
        ("https://", "has no host"),
    ],
)
def test_add_refuses_duplicates_and_bad_urls(config: Path, url: str, message: str) -> None:
    line = error_line(ingest(config, "feeds", "add", "--no-check", url))

    assert line.startswith("ingest: feeds")
    assert message in line


def test_add_refuses_a_bad_interval(config: Path) -> None:
    line = error_line(ingest(config, "feeds", "add", "--interval", "soon", "https://a.example/"))

    assert line.startswith("ingest: feeds add: --interval: expected a duration")


@pytest.fixture
def site() -> Iterator[LoopbackServer]:
    """A web site with a feed, a page announcing it, and pages that lead nowhere."""
    with LoopbackServer() as server:
        server.route("/news/feed.xml", Reply(200, {"Content-Type": "application/rss+xml"}, RSS))
        server.route("/news/", Reply(200, {"Content-Type": "text/html; charset=utf-8"}, PAGE))
        server.route("/about", Reply(200, {"Content-Type": "text/html"}, b"<p>About us</p>"))
        broken = PAGE.replace(b"/news/feed.xml", b"/about")
        server.route("/broken/", Reply(200, {"Content-Type": "text/html"}, broken))
        yield server


def test_add_a_feed_checks_it_and_keeps_its_title(config: Path, site: LoopbackServer) -> None:
    url = site.url("/news/feed.xml")

    result = ingest(config, "feeds", "add", url)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == f'added {url} "Harbour Gazette"\n'
    assert listed(config)[url]["title"] == "Harbour Gazette"
    assert "application/rss+xml" in site.requests[0].headers["accept"]


def test_add_a_page_subscribes_to_the_feed_it_links_to(config: Path, site: LoopbackServer) -> None:
    page = site.url("/news/")

    result = ingest(config, "feeds", "add", page, "--name", "Gazette")

    feed = site.url("/news/feed.xml")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f'added {feed} "Gazette", found on {page}\n'
    assert page not in listed(config)
    assert listed(config)[feed]["name"] == "Gazette"
    assert site.targets() == ["/news/", "/news/feed.xml"]


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/about", "is not an RSS, Atom or JSON feed and links to none"),
        ("/broken/", "links to no readable feed"),
        ("/gone", "cannot fetch"),
    ],
)
def test_add_refuses_what_is_no_feed(
    config: Path, site: LoopbackServer, path: str, words: str
) -> None:
    line = error_line(ingest(config, "feeds", "add", site.url(path)))

    assert line.startswith("ingest: feeds add: ")
    assert site.url(path) in line
    assert words in line


def test_add_respects_the_private_network_guard(tmp_path: Path, site: LoopbackServer) -> None:
    strict = tmp_path / "strict.toml"
    strict.write_text("", encoding="utf-8")

    line = error_line(ingest(strict, "feeds", "add", site.url("/news/feed.xml")))

    assert "blocked private address" in line
    assert site.requests == []


# --- export ------------------------------------------------------------------------------------


def test_export_of_an_empty_database_is_a_valid_empty_feed(config: Path) -> None:
    atom = ingest(config, "export")
    jsonfeed = ingest(config, "export", "--format", "jsonfeed", "--since", "7d")
    lines = ingest(config, "export", "--format", "jsonl")

    assert atom.exit_code == 0, atom.stderr
    assert ET.fromstring(atom.stdout_bytes).tag == "{http://www.w3.org/2005/Atom}feed"
    assert json.loads(jsonfeed.stdout)["items"] == []
    assert lines.exit_code == 0 and lines.stdout == ""


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--since", "last week"], "ingest: export: --since: expected a date such as"),
        (["--feed", "https://nowhere.example/"], "ingest: export: no feed https://nowhere"),
    ],
)
def test_export_mistakes_are_exit_2(config: Path, args: list[str], expected: str) -> None:
    assert error_line(ingest(config, "export", *args)).startswith(expected)


def test_a_long_feeds_table_shows_its_first_rows_and_says_so(config: Path, tmp_path: Path) -> None:
    """A terminal table stops at TABLE_FEEDS rows and says where the rest are; --json has all."""
    from ingestd.cli.render import TABLE_FEEDS

    outlines = "".join(
        f'<outline type="rss" xmlUrl="https://many{n}.example/feed.xml"/>'
        for n in range(TABLE_FEEDS + 5)
    )
    opml = tmp_path / "many.opml"
    opml.write_text(f'<opml version="2.0"><body>{outlines}</body></opml>', "utf-8")
    assert ingest(config, "feeds", "import", str(opml)).exit_code == 0

    table = ingest(config, "feeds", "list")
    every = ingest(config, "feeds", "list", "--json")

    total = TABLE_FEEDS + 6  # and the configured one
    assert f"{total} feeds (the first {TABLE_FEEDS} shown" in table.stdout
    assert table.stdout.count("https://many") == TABLE_FEEDS - 1
    assert len(every.stdout.splitlines()) == total
