"""The deduplicated feed out (``ingestd.feedout.export``) on SQLite and PostgreSQL: one entry per
story, newest first, with its republications; valid Atom 1.0 (read back with feedparser) and JSON
Feed 1.1; ``--since``/``--feed``/``--limit`` selections; stable entry ids."""

from __future__ import annotations

import json
import os
import secrets
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import feedparser
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from ingestd.config import FeedConfig
from ingestd.errors import NotFoundError, UserError
from ingestd.feedout import export
from ingestd.store import NewItem, Store, Transaction

T0 = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
GAZETTE = "http://harbour.example/feed.xml"
LEDGER = "http://valley.example/feed.xml"
ROUNDUP = "http://roundup.example/feed.xml"
WORDS = " ".join(f"word{n}" for n in range(80))


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def put(
    tx: Transaction,
    feed_id: int,
    key: str,
    *,
    site: tuple[str, str],
    published: datetime | None,
    fetched: datetime = T0 + timedelta(hours=11),
    title: str | None = None,
    text: str = WORDS,
) -> int:
    """Store one item of ``site`` (host, outlet name); returns its id."""
    host, outlet = site
    return tx.insert_item(
        NewItem(
            feed_id=feed_id,
            entry_key=key,
            guid=key,
            url=f"http://{host}/news/{key}",
            url_norm=f"http://{host}/news/{key}",
            canonical_url=None,
            canonical_norm=None,
            site_host=host,
            site_name=outlet,
            title=title if title is not None else f"Story {key}",
            published_at=published,
            fetched_at=fetched,
            text=text,
            text_source="page",
            extract_note=None,
            body_hash=None,
            n_words=len(text.split()),
            shingles=b"",
            narrative=b"",
            minhash=b"",
            attribution=(),
            compilation=False,
        )
    )


@dataclass
class World:
    """Ids of the stored items: story A has an original and two copies; B and C are alone."""

    excerpt: int  # A, in the Roundup, published before the original
    copy: int  # A, in the Ledger, with an attribution line
    original: int  # A's canonical item, stored last
    lone_new: int  # B: the newest story
    lone_undated: int  # C: no publication time, fetched at T0 + 5 h
    cluster: int


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def shared_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """One database per dialect for this module's read-only tests (as conftest's
    ``database_url``, but built once)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path_factory.mktemp('export')}/t.sqlite3"
        return
    base = os.environ.get("INGESTD_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("INGESTD_TEST_POSTGRES_URL not set")
    admin = create_engine(make_url(base).set(drivername="postgresql+psycopg"))
    schema = f"t_{secrets.token_hex(8)}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module")
def world(shared_url: str) -> Iterator[tuple[Store, World]]:
    """Stories A (an original, stored last, with two copies), B and C, built once; the tests
    only read them."""
    store = Store.open(shared_url)
    try:
        built = _build_world(store)
        yield store, built
    finally:
        store.close()


def _build_world(store: Store) -> World:
    with store.transaction() as tx:
        tx.sync_feeds([FeedConfig(GAZETTE, "Gazette"), FeedConfig(LEDGER), FeedConfig(ROUNDUP)], T0)
        ids = {feed.url: feed.id for feed in tx.feeds()}
        gazette = ("harbour.example", "The Harbour Gazette")
        ledger = ("valley.example", "The Valley Ledger")
        roundup = ("roundup.example", "Daily Roundup")
        excerpt = put(tx, ids[ROUNDUP], "crane-excerpt", site=roundup, published=hours(1))
        copy = put(tx, ids[LEDGER], "crane-copy", site=ledger, published=hours(6.5))
        original = put(
            tx, ids[GAZETTE], "crane", site=gazette, published=hours(2), title="Crane <dispute>"
        )
        lone_new = put(tx, ids[LEDGER], "budget", site=ledger, published=hours(10))
        lone_undated = put(
            tx, ids[GAZETTE], "ferry", site=gazette, published=None, fetched=hours(5)
        )
        cluster = tx.create_cluster(hours(11))
        tx.set_membership(original, cluster_id=cluster, role="canonical", similarity=1.0)
        for item_id, similarity, measure, reason in (
            (excerpt, 0.8, "containment", "attribution"),
            (copy, 0.97, "jaccard", "minhash"),
        ):
            tx.set_membership(
                item_id,
                cluster_id=cluster,
                role="republication",
                similarity=similarity,
                similarity_measure=measure,
                link_reason=reason,
            )
        tx.update_cluster(
            cluster,
            canonical_item_id=original,
            canonical_reason="attribution",
            size=3,
            updated_at=hours(12),
        )
    return World(excerpt, copy, original, lone_new, lone_undated, cluster)


def select(store: Store, **selection: Any) -> list[export.Story]:
    with store.transaction(write=False) as tx:
        return export.stories(tx, export.Selection(**selection))


def build(store: Store, fn: Any, **kwargs: Any) -> bytes:
    with store.transaction(write=False) as tx:
        return fn(tx, **kwargs)  # type: ignore[no-any-return]


def test_one_story_per_cluster_and_lone_item_newest_first(world: tuple[Store, World]) -> None:
    store, ids = world

    found = select(store)

    assert [s.canonical.id for s in found] == [ids.lone_new, ids.lone_undated, ids.original]
    story = found[-1]
    assert [r.id for r in story.republications] == [ids.excerpt, ids.copy]  # oldest first
    assert story.canonical_reason == "attribution"
    assert story.updated == hours(12)
    assert story.excerpt.startswith("word0 word1") and story.excerpt.endswith("word59 …")
    assert found[0].republications == () and found[0].canonical_reason is None


def test_a_story_keeps_its_entry_id_whichever_item_is_canonical(
    world: tuple[Store, World],
) -> None:
    """The id comes from the story's first stored item, so a late original changes nothing."""
    store, ids = world

    story = select(store)[-1]

    assert story.id == f"urn:ingestd:story:{ids.excerpt}"
    assert ids.excerpt < ids.original


def test_selections_by_time_feed_and_count(world: tuple[Store, World]) -> None:
    store, ids = world

    def heads(**selection: Any) -> list[int]:
        return [s.canonical.id for s in select(store, **selection)]

    assert heads(since=hours(3)) == [ids.lone_new, ids.lone_undated]
    assert heads(feed_url=ROUNDUP) == [ids.original]  # it carried a copy of story A
    assert heads(feed_url=LEDGER) == [ids.lone_new, ids.original]
    assert heads(feed_url=GAZETTE, since=hours(4)) == [ids.lone_undated]
    assert heads(limit=1) == [ids.lone_new]
    with pytest.raises(NotFoundError, match=r"export: no feed http://nowhere.example/"):
        select(store, feed_url="http://nowhere.example/")


def test_atom_is_valid_and_carries_republications(world: tuple[Store, World]) -> None:
    store, ids = world

    served = export.Served("http://127.0.0.1:9464/feed.atom", "http://127.0.0.1:9464/")
    data = build(store, export.atom_feed, served=served)

    parsed = feedparser.parse(data)
    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.version == "atom10"
    assert parsed.feed.title == "ingestd: deduplicated stories"
    assert parsed.feed.id == "http://127.0.0.1:9464/stories"
    assert parsed.feed.updated == "2026-03-02T18:00:00Z"
    assert parsed.feed.links[0] == {
        "rel": "self",
        "href": "http://127.0.0.1:9464/feed.atom",
        "type": "application/atom+xml",
    }
    assert [e.id for e in parsed.entries] == [
        f"urn:ingestd:story:{ids.lone_new}",
        f"urn:ingestd:story:{ids.lone_undated}",
        f"urn:ingestd:story:{ids.excerpt}",
    ]
    entry = parsed.entries[-1]
    assert entry.title == "Crane <dispute>"
    assert entry.link == "http://harbour.example/news/crane"
    assert entry.published == "2026-03-02T08:00:00Z"
    assert entry.updated == "2026-03-02T18:00:00Z"
    assert entry.author == "The Harbour Gazette"
    related = [(link.href, link.title) for link in entry.links if link.rel == "related"]
    assert related == [
        ("http://roundup.example/news/crane-excerpt", "Daily Roundup (roundup.example)"),
        ("http://valley.example/news/crane-copy", "The Valley Ledger (valley.example)"),
    ]
    assert entry.summary.startswith("word0 ")
    content = entry.content[0]
    assert content.type == "text/html"
    assert "Also published by:" in content.value
    assert '<a href="http://valley.example/news/crane-copy">' in content.value
    assert "2026-03-02 12:30 UTC" in content.value
    assert "published" not in parsed.entries[1]  # C has no publication time


def test_atom_extension_elements_name_each_republication(world: tuple[Store, World]) -> None:
    store, _ = world
    atom = "{http://www.w3.org/2005/Atom}"

    root = ET.fromstring(build(store, export.atom_feed))

    entry = root.findall(f"{atom}entry")[-1]
    wrapper = entry.find(f"{{{export.INGESTD_NS}}}republications")
    assert wrapper is not None and wrapper.get("count") == "2"
    found = wrapper.findall(f"{{{export.INGESTD_NS}}}republication")
    assert [dict(e.attrib) for e in found] == [
        {
            "href": "http://roundup.example/news/crane-excerpt",
            "site": "roundup.example",
            "outlet": "Daily Roundup",
            "feed_url": ROUNDUP,
            "published": "2026-03-02T07:00:00Z",
            "similarity": "0.8",
            "similarity_measure": "containment",
            "reason": "attribution",
        },
        {
            "href": "http://valley.example/news/crane-copy",
            "site": "valley.example",
            "outlet": "The Valley Ledger",
            "feed_url": LEDGER,
            "published": "2026-03-02T12:30:00Z",
            "similarity": "0.97",
            "similarity_measure": "jaccard",
            "reason": "minhash",
        },
    ]


def test_feedparser_reads_every_republication_with_its_details(
    world: tuple[Store, World],
) -> None:
    """feedparser keeps one element of a name per entry, but every link: each republication
    is a related link carrying the extension's attributes."""
    store, _ = world

    parsed = feedparser.parse(build(store, export.atom_feed))

    entry = parsed.entries[-1]
    related = [link for link in entry.links if link["rel"] == "related"]
    assert [(link["href"], link["reason"], link["outlet"]) for link in related] == [
        ("http://roundup.example/news/crane-excerpt", "attribution", "Daily Roundup"),
        ("http://valley.example/news/crane-copy", "minhash", "The Valley Ledger"),
    ]
    assert [link["similarity"] for link in related] == ["0.8", "0.97"]


def test_json_feed_1_1_fields_and_republications(world: tuple[Store, World]) -> None:
    store, ids = world

    document = json.loads(build(store, export.json_feed, feed_url=LEDGER))

    assert document["version"] == "https://jsonfeed.org/version/1.1"
    assert document["title"] == f"ingestd: deduplicated stories carried by {LEDGER}"
    assert "feed_url" not in document
    new, story = document["items"]
    assert new["id"] == f"urn:ingestd:story:{ids.lone_new}"
    assert new["_ingestd"]["republications"] == []
    assert set(story) == {
        "id",
        "url",
        "title",
        "summary",
        "content_text",
        "date_published",
        "date_modified",
        "authors",
        "_ingestd",
    }
    assert story["url"] == "http://harbour.example/news/crane"
    assert story["title"] == "Crane <dispute>"
    assert story["date_published"] == "2026-03-02T08:00:00Z"
    assert story["date_modified"] == "2026-03-02T18:00:00Z"
    assert story["authors"] == [{"name": "The Harbour Gazette"}]
    assert "Also published by:\n- Daily Roundup (roundup.example): " in story["content_text"]
    extension = story["_ingestd"]
    assert (extension["item_id"], extension["cluster_id"]) == (ids.original, ids.cluster)
    assert extension["canonical_reason"] == "attribution"
    assert extension["republications"][1] == {
        "url": "http://valley.example/news/crane-copy",
        "site": "valley.example",
        "outlet": "The Valley Ledger",
        "feed_url": LEDGER,
        "published": "2026-03-02T12:30:00Z",
        "similarity": 0.97,
        "similarity_measure": "jaccard",
        "reason": "minhash",
    }


def test_json_lines_print_one_json_feed_item_per_story(world: tuple[Store, World]) -> None:
    store, ids = world

    lines = build(store, export.json_lines, since=hours(4)).decode().splitlines()

    assert [json.loads(line)["_ingestd"]["item_id"] for line in lines] == [
        ids.lone_new,
        ids.lone_undated,
    ]
    assert "date_published" not in json.loads(lines[1])  # no null values in items


def test_an_empty_database_gives_valid_empty_feeds(store: Store) -> None:
    parsed = feedparser.parse(build(store, export.atom_feed))
    document = json.loads(build(store, export.json_feed))

    assert not parsed.bozo and parsed.entries == []
    assert document["items"] == []
    assert build(store, export.json_lines) == b""


def test_characters_xml_cannot_carry_are_dropped(store: Store) -> None:
    with store.transaction() as tx:
        tx.sync_feeds([FeedConfig(GAZETTE)], T0)
        feed_id = tx.feeds()[0].id
        site = ("harbour.example", "Gazette\x0c")
        put(tx, feed_id, "odd", site=site, published=T0, title="Bell\x07 rings", text="a\x01 b")

    parsed = feedparser.parse(build(store, export.atom_feed))

    assert not parsed.bozo, parsed.get("bozo_exception")
    assert parsed.entries[0].title == "Bell rings"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T10:30:00+02:00", datetime(2026, 11, 1, 8, 30, tzinfo=UTC)),
        ("2026-11-01T10:30Z", datetime(2026, 11, 1, 10, 30, tzinfo=UTC)),
        ("7d", T0 - timedelta(days=7)),
        ("12h", T0 - timedelta(hours=12)),
        ("90m", T0 - timedelta(minutes=90)),
    ],
)
def test_since_is_a_date_or_a_duration_back_from_now(text: str, expected: datetime) -> None:
    assert export.parse_since(text, T0) == expected


@pytest.mark.parametrize("text", ["yesterday", "7", "2026-13-01", "-3d", ""])
def test_an_unreadable_since_is_a_user_error_naming_the_option(text: str) -> None:
    with pytest.raises(UserError, match=r"^export: --since: expected a date"):
        export.parse_since(text, T0)


def test_an_http_query_selects_like_the_command_line() -> None:
    selection = export.selection_from_query(
        {"since": ["7d"], "feed": [LEDGER], "limit": ["20"]}, T0
    )

    assert selection == export.Selection(T0 - timedelta(days=7), LEDGER, 20)
    assert export.selection_from_query({}, T0) == export.Selection(limit=export.HTTP_LIMIT)


@pytest.mark.parametrize(
    "query",
    [{"limit": ["0"]}, {"limit": ["many"]}, {"limit": ["100000"]}, {"since": ["soon"]}],
)
def test_an_unreadable_http_query_is_a_user_error(query: dict[str, list[str]]) -> None:
    with pytest.raises(UserError, match=r"^export: "):
        export.selection_from_query(query, T0)
