"""OPML reading (nested folders, broken entries with their lines), OPML 2.0 writing, and feed
discovery in HTML pages: the pure parts of feed management."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

import pytest

from ingestd.parse.discover import decode_html, feed_links
from ingestd.parse.opml import OpmlError, Outline, read_opml, url_problem, write_opml

READER_EXPORT = b"""<?xml version="1.0" encoding="UTF-8"?>
<opml version="1.0">
  <head>
    <title>Subscriptions in Some Reader</title>
  </head>
  <body>
    <outline text="News" title="News">
      <outline type="rss" text="Harbour" title="The Harbour Gazette"
               xmlUrl="https://harbour.example/feed.xml" htmlUrl="https://harbour.example/"/>
      <outline text="Regional">
        <outline type="rss" text="Valley Ledger" XMLURL="https://valley.example/rss"/>
        <outline type="rss" text="Files" xmlUrl="ftp://files.example/feed"/>
      </outline>
    </outline>
    <outline type="rss" text="No address"/>
    <outline type="rss" text="Half an address" xmlUrl="http://"/>
    <outline type="rss" text="Bad port" xmlUrl="http://bad.example:99999/feed"/>
    <outline type="rss" text="  " xmlUrl="  https://untitled.example/atom.xml  "/>
    <outline text="Empty folder"></outline>
  </body>
</opml>
"""


def test_nested_outlines_give_feeds_with_their_folders_names_and_lines() -> None:
    document = read_opml(READER_EXPORT)

    assert document.title == "Subscriptions in Some Reader"
    assert [(f.url, f.name, f.line, f.folders) for f in document.feeds] == [
        ("https://harbour.example/feed.xml", "The Harbour Gazette", 8, ("News",)),
        ("https://valley.example/rss", "Valley Ledger", 11, ("News", "Regional")),
        ("https://untitled.example/atom.xml", None, 18, ()),
    ]


def test_unusable_entries_are_reported_with_their_line_and_reading_goes_on() -> None:
    problems = [(p.line, p.message) for p in read_opml(READER_EXPORT).problems]

    assert problems == [
        (12, "outline \"Files\": xmlUrl 'ftp://files.example/feed' is not an http(s) URL"),
        (15, 'outline "No address" has no xmlUrl'),
        (16, "outline \"Half an address\": xmlUrl 'http://' has no host"),
        (
            17,
            "outline \"Bad port\": malformed xmlUrl 'http://bad.example:99999/feed': "
            "Port out of range 0-65535",
        ),
        (19, 'outline "Empty folder" has no xmlUrl'),
    ]


@pytest.mark.parametrize(
    ("data", "line", "words"),
    [
        (b"", 1, "malformed XML"),
        (b"[[feeds]]\nurl = 'x'\n", 1, "malformed XML"),
        (b"<opml>\n<body>\n<outline text='a'>\n</body></opml>", 4, "malformed XML"),
        (b'<?xml version="1.0"?>\n<rss version="2.0"><channel/></rss>', 2, "root element is <rss>"),
        (
            b'<?xml version="1.0"?>\n<!DOCTYPE opml [\n<!ENTITY a "aaaa">\n]>\n<opml/>',
            3,
            "declares XML entities",
        ),
    ],
    ids=["empty", "toml", "unclosed", "rss", "entities"],
)
def test_a_document_that_is_not_opml_is_an_error_with_its_line(
    data: bytes, line: int, words: str
) -> None:
    with pytest.raises(OpmlError) as raised:
        read_opml(data)

    assert raised.value.line == line
    assert raised.value.message.startswith("not an OPML file")
    assert words in raised.value.message


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://a.example/feed", None),
        ("http://a.example:8080/feed?x=1", None),
        ("feed://a.example/", "is not an http(s) URL"),
        ("/relative/feed.xml", "is not an http(s) URL"),
        ("https:///feed", "has no host"),
        ("https://a.example/a feed", "contains spaces"),
        ("http://[::1/feed", "malformed"),
        ("", "empty xmlUrl"),
    ],
)
def test_feed_urls_must_be_absolute_http(url: str, problem: str | None) -> None:
    found = url_problem(url)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_written_opml_is_version_2_with_one_rss_outline_per_feed_and_reads_back() -> None:
    created = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
    outlines = [
        Outline(
            "https://harbour.example/feed.xml", "Harbour & Co <News>", "https://harbour.example/"
        ),
        Outline("https://valley.example/rss", "Valley\x07 Ledger"),  # a control character
    ]

    data = write_opml("ingestd subscriptions", outlines, created)

    root = ET.fromstring(data)
    assert data.startswith(b"<?xml version='1.0' encoding='utf-8'?>")
    assert root.tag == "opml" and root.get("version") == "2.0"
    assert root.findtext("head/title") == "ingestd subscriptions"
    assert root.findtext("head/dateCreated") == "Mon, 02 Nov 2026 09:30:00 +0000"
    first, second = root.findall("body/outline")
    assert first.attrib == {
        "type": "rss",
        "text": "Harbour & Co <News>",
        "title": "Harbour & Co <News>",
        "xmlUrl": "https://harbour.example/feed.xml",
        "htmlUrl": "https://harbour.example/",
    }
    assert second.get("text") == "Valley Ledger" and "htmlUrl" not in second.attrib
    again = read_opml(data)
    assert [(f.url, f.name) for f in again.feeds] == [
        ("https://harbour.example/feed.xml", "Harbour & Co <News>"),
        ("https://valley.example/rss", "Valley Ledger"),
    ]
    assert again.problems == ()


# --- discovery ---------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html><head>
<link rel="stylesheet" href="/style.css">
<link rel="alternate" type="application/feed+json" href="/feed.json" title="JSON">
<link rel="alternate" hreflang="fr" type="text/html" href="/fr/">
<link rel="Alternate" type="application/atom+xml" href="atom.xml" title="Atom">
<link rel="alternate" type="application/rss+xml; charset=utf-8" href="https://cdn.example/rss">
<link rel="alternate" type="application/rss+xml" href="atom.xml">
<link rel="alternate" type="application/rss+xml" href="javascript:alert(1)">
</head><body><a href="/other-feed.xml" rel="alternate" type="application/rss+xml">x</a></body>
</html>"""


def test_a_page_announces_its_feeds_rss_and_atom_first_resolved_and_without_repeats() -> None:
    found = feed_links(PAGE, "https://blog.example/posts/")

    assert found == [
        "https://blog.example/posts/atom.xml",
        "https://cdn.example/rss",
        "https://blog.example/feed.json",
    ]


def test_relative_feed_links_follow_the_base_element() -> None:
    page = '<head><base href="https://static.example/site/"><link rel="alternate" '
    page += 'type="application/rss+xml" href="feed.xml"></head>'

    assert feed_links(page, "https://blog.example/") == ["https://static.example/site/feed.xml"]


def test_a_page_without_feed_links_gives_none() -> None:
    assert feed_links("<html><head><title>x</title></head></html>", "https://a.example/") == []


def test_pages_are_decoded_with_their_declared_charset() -> None:
    body = "<p>Caf\u00e9</p>".encode("latin-1")

    assert "Caf\u00e9" in decode_html(body, "text/html; charset=ISO-8859-1")
    assert "Caf\u00e9" in decode_html(b'<meta charset="latin-1">' + body, None)
    assert "Caf" in decode_html(body, "text/html; charset=no-such-codec")
