"""``ingest feeds import`` as readers write OPML: folders kept and written back, ``htmlUrl``,
``title`` and ``text`` kept, one feed per URL whatever its scheme, ``www.`` or trailing slash
(the first spelling kept), scraped pages reported and skipped; linear and batched, and an
interrupted import leaves whole feeds only."""

from __future__ import annotations

import json
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner, Result
from sqlalchemy import event

from ingestd.cli.main import main
from ingestd.parse.opml import read_opml
from ingestd.polling.feedimport import import_document
from ingestd.store import Store
from ingestd.urls import feed_url_key

pytestmark = pytest.mark.usefixtures("isolated_env")

OPML = """<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0">
  <head><title>FreshRSS export</title></head>
  <body>
    <outline text="News">
      <outline text="Local" title="Local">
        <outline type="rss" text="Gazette (my name)" title="Harbour Gazette"
          xmlUrl="https://gazette.example/feed/" htmlUrl="https://gazette.example/"/>
      </outline>
      <outline type="rss" text="Ledger" xmlUrl="http://www.ledger.example/rss"/>
    </outline>
    <outline text="Tech">
      <outline type="rss" text="Gazette again" xmlUrl="http://www.gazette.example/feed"/>
      <outline type="rss" text="Ledger again" xmlUrl="https://ledger.example/rss/"/>
      <outline type="HTML+XPath" text="Scraped shop" xmlUrl="https://shop.example/news"
        htmlUrl="https://shop.example/news"/>
      <outline type="atom" text="Wire" xmlUrl="https://wire.example/atom.xml"/>
    </outline>
  </body>
</opml>
"""


@pytest.fixture(autouse=True)
def _forget_logging_setup() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "ingestd.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{tmp_path / "db.sqlite3"}"\n', "utf-8")
    return path


def ingest(config: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--config", str(config), *args])


def imported(config: Path, tmp_path: Path) -> Result:
    opml = tmp_path / "reader.opml"
    opml.write_text(OPML, encoding="utf-8")
    return ingest(config, "feeds", "import", str(opml))


def listed(config: Path, *args: str) -> list[dict[str, object]]:
    result = ingest(config, "feeds", "list", "--json", *args)
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("http://example.org/feed", "https://example.org/feed"),
        ("https://www.example.org/feed", "https://example.org/feed"),
        ("https://example.org/feed/", "https://example.org/feed"),
        ("https://EXAMPLE.org:443/feed", "http://example.org/feed"),
    ],
)
def test_urls_that_differ_by_scheme_www_or_slash_have_one_key(a: str, b: str) -> None:
    assert feed_url_key(a) == feed_url_key(b)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("https://example.org/feed?tag=a", "https://example.org/feed?tag=b"),
        ("https://example.org/a/feed", "https://example.org/b/feed"),
        ("https://news.example.org/feed", "https://example.org/feed"),
        ("https://example.org:8443/feed", "https://example.org/feed"),
    ],
)
def test_different_feeds_keep_different_keys(a: str, b: str) -> None:
    assert feed_url_key(a) != feed_url_key(b)


def test_import_keeps_folders_first_spellings_and_skips_scraped_pages(
    config: Path, tmp_path: Path
) -> None:
    result = imported(config, tmp_path)

    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "imported 3 feeds, skipped 2 duplicates, 1 page that is not a feed, 0 invalid entries\n"
    )
    assert 'outline "Scraped shop" is a web page its reader scrapes (type="HTML+XPath")' in (
        result.stderr
    )
    feeds = {f["url"]: f for f in listed(config)}
    assert set(feeds) == {
        "https://gazette.example/feed/",  # the first spelling, not the later http://www. one
        "http://www.ledger.example/rss",
        "https://wire.example/atom.xml",
    }
    assert feeds["https://gazette.example/feed/"]["folder"] == "News/Local"
    assert feeds["https://gazette.example/feed/"]["name"] == "Harbour Gazette"
    assert feeds["https://wire.example/atom.xml"]["folder"] == "Tech"


def test_feeds_list_filters_by_folder_and_its_subfolders(config: Path, tmp_path: Path) -> None:
    imported(config, tmp_path)

    assert {f["url"] for f in listed(config, "--folder", "News")} == {
        "https://gazette.example/feed/",
        "http://www.ledger.example/rss",
    }
    assert [f["url"] for f in listed(config, "--folder", "News/Local")] == [
        "https://gazette.example/feed/"
    ]
    assert listed(config, "--folder", "Nowhere") == []


def test_export_writes_folders_html_url_title_and_text_back(config: Path, tmp_path: Path) -> None:
    imported(config, tmp_path)

    result = ingest(config, "feeds", "export")

    root = ET.fromstring(result.stdout_bytes)
    (gazette,) = root.findall("body/outline[@text='News']/outline[@text='Local']/outline")
    assert gazette.attrib == {
        "type": "rss",
        "text": "Gazette (my name)",
        "title": "Harbour Gazette",
        "xmlUrl": "https://gazette.example/feed/",
        "htmlUrl": "https://gazette.example/",
    }
    again = read_opml(result.stdout_bytes)
    assert [(f.url, f.folder) for f in again.feeds] == [
        ("https://gazette.example/feed/", "News/Local"),
        ("http://www.ledger.example/rss", "News"),
        ("https://wire.example/atom.xml", "Tech"),
    ]


def test_importing_again_skips_every_feed_under_any_spelling(config: Path, tmp_path: Path) -> None:
    imported(config, tmp_path)

    again = imported(config, tmp_path)

    assert again.stdout.startswith("imported 0 feeds, skipped 5 duplicates")


def test_an_added_feed_under_another_spelling_is_refused_as_a_duplicate(
    config: Path, tmp_path: Path
) -> None:
    imported(config, tmp_path)

    result = ingest(config, "feeds", "add", "--no-check", "http://www.wire.example/atom.xml/")

    assert result.exit_code == 2
    assert "already subscribed" in result.stderr


def _document(n: int) -> bytes:
    outlines = "".join(
        f'<outline type="rss" text="F{i}" xmlUrl="https://f{i}.example/feed"/>' for i in range(n)
    )
    return (
        f'<opml version="2.0"><body><outline text="All">{outlines}</outline></body></opml>'.encode()
    )


def test_an_interrupted_import_leaves_whole_feeds_and_resumes(tmp_path: Path) -> None:
    """Stopped after its second batch (as by Ctrl-C), an import has written two whole batches;
    run again, it adds exactly the rest."""
    url = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    document = read_opml(_document(25))
    store = Store.open(url)
    calls: list[tuple[int, int]] = []

    def stop_after_two(done: int, total: int) -> None:
        calls.append((done, total))
        if len(calls) == 2:
            raise KeyboardInterrupt

    try:
        with pytest.raises(KeyboardInterrupt):
            import_document(store, document, lambda tx: None, stop_after_two, batch=10)
        with sqlite3.connect(tmp_path / "db.sqlite3") as conn:
            rows = conn.execute("SELECT url, url_key, folder, active, source FROM feeds").fetchall()
        assert len(rows) == 20
        assert all(
            key and folder == "All" and active and source == "cli"
            for _, key, folder, active, source in rows
        )
        report = import_document(store, document, lambda tx: None, None, batch=10)
    finally:
        store.close()
    assert (report.imported, report.duplicates) == (5, 20)
    assert calls == [(10, 25), (20, 25)]


def _statements_to_import(tmp_path: Path, n: int) -> int:
    store = Store.open(f"sqlite:///{tmp_path / f'count-{n}.sqlite3'}")
    seen: list[str] = []
    event.listen(store.engine, "before_cursor_execute", lambda *args: seen.append(args[2]))
    try:
        report = import_document(store, read_opml(_document(n)), lambda tx: None, None)
    finally:
        store.close()
    assert report.imported == n
    return len(seen)


def test_an_import_runs_as_many_statements_for_3000_feeds_as_for_30(tmp_path: Path) -> None:
    """No query per feed (the old import scanned every feed's aliases for each new URL): the
    statements an import runs do not grow with the feeds it imports, within a batch."""
    assert _statements_to_import(tmp_path, 3000) == _statements_to_import(tmp_path, 30)


def test_feeds_list_table_has_readme_columns_and_folders(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    imported(config, tmp_path)

    result = ingest(config, "feeds", "list", "--folder", "News/Local")

    assert result.exit_code == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].strip() == "1 feed"
    header = next(line for line in lines if "url" in line and "folder" in line)
    for column in ("name", "source", "status", "last poll", "next poll", "failures", "items"):
        assert column in header, column
    row = next(line for line in lines if "gazette.example" in line)
    assert "News/Local" in row and " new " in row
