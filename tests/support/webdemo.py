"""A demo store for the web pages: two stories with copies, linked by the real dedup, and
hostile text everywhere a stranger can write it.

Story 1: an original on ``a-times.example``; a copy on ``b-post.example`` that credits it in
an attribution line and adds a paragraph; a copy on ``c-wire.example`` that drops the last
paragraphs (an excerpt); and a copy whose title, site name, URLs and text carry markup,
``javascript:`` links and control characters. Story 2: an original and one copy. Plus a lone
item. Texts are invented (``tests.conftest._paragraphs``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingestd.config import DedupSettings, FeedConfig
from ingestd.dedup.link import link_new_item
from ingestd.dedup.signature import SignatureParams
from ingestd.pipeline.entries import text_item
from ingestd.store import NewItem, Store, Transaction
from tests.conftest import _paragraphs

NOW = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
# What a hostile page tries: each payload, if it ever ran, sets window.__pwned.
SCRIPT = "<script>window.__pwned='script'</script>"
IMG = '"><img src=x onerror="window.__pwned=\'img\'">'
JS_URL = "javascript:window.__pwned='href'"
CONTROL = "\x1b[31mred\x1b[0m\u202eevil\x07"
HOSTILE_TITLE = f"Harbour {SCRIPT} strike {IMG} ends {CONTROL}"
ADDED = (
    "Our own reporter adds this paragraph about the local ferry timetable, which the wire "
    "version never mentioned at all, with comments from three commuters at the quay."
)
ATTRIBUTION = "This article was originally published at a-times.example."


@dataclass(frozen=True)
class Demo:
    """Ids of what the demo store holds."""

    story: int  # cluster of story 1
    other_story: int  # cluster of story 2
    original: int
    credited: int  # the copy with an attribution line and an added paragraph
    excerpt: int
    hostile: int
    lone: int


def _feeds(tx: Transaction) -> dict[str, int]:
    names = ("a-times", "b-post", "c-wire", "d-evil")
    tx.sync_feeds([FeedConfig(f"https://{n}.example/feed.xml", name=n) for n in names], NOW)
    return {feed.url.split("//")[1].split(".")[0]: feed.id for feed in tx.feeds()}


def _item(feed: int, host: str, key: str, title: str, text: str, hours: int) -> NewItem:
    when = NOW + timedelta(hours=hours)
    item, _ = text_item(
        feed, key, f"https://{host}/{key}", title, text, when, when, SignatureParams()
    )
    return item


def _link(tx: Transaction, item: NewItem) -> int:
    from ingestd.dedup.signature import make_signature

    signature = make_signature(item.text, item.title, SignatureParams())
    item_id = tx.insert_item(item)
    link_new_item(tx, item_id, item, signature, DedupSettings(), NOW)
    return item_id


def build(store: Store) -> Demo:
    """Fill an empty, migrated store with the demo; return what it holds."""
    body = _paragraphs(281, 6)
    other = _paragraphs(282, 5)
    hostile_body = [body[0], f"{SCRIPT} {IMG} {CONTROL} see {JS_URL}", *body[1:4]]
    with store.transaction() as tx:
        feed = _feeds(tx)
        original = _link(
            tx,
            _item(
                feed["a-times"],
                "a-times.example",
                "harbour",
                "Harbour strike ends",
                "\n".join(body),
                0,
            ),
        )
        credited = _link(
            tx,
            _item(
                feed["b-post"],
                "b-post.example",
                "strike",
                "Harbour strike is over",
                "\n".join([*body[:5], ADDED, ATTRIBUTION]),
                2,
            ),
        )
        excerpt = _link(
            tx,
            _item(
                feed["c-wire"],
                "c-wire.example",
                "wire-1",
                "Strike ends at harbour",
                "\n".join(body[:4]),
                3,
            ),
        )
        evil = _item(
            feed["d-evil"], "d-evil.example", "x", HOSTILE_TITLE, "\n".join(hostile_body), 4
        )
        evil = dataclasses.replace(
            evil,
            url=JS_URL,
            canonical_url=f"https://d-evil.example/{IMG}",
            site_name=f"D {SCRIPT} Evil",
            guid=IMG,
        )
        hostile = _link(tx, evil)
        budget = _link(
            tx,
            _item(
                feed["a-times"], "a-times.example", "budget", "Budget passes", "\n".join(other), 5
            ),
        )
        _link(
            tx,
            _item(
                feed["b-post"],
                "b-post.example",
                "budget-copy",
                "Budget is passed",
                "\n".join(other[:4]),
                6,
            ),
        )
        lone = _link(
            tx,
            _item(
                feed["c-wire"],
                "c-wire.example",
                "alone",
                "A lone report",
                "\n".join(_paragraphs(283, 5)),
                7,
            ),
        )
        records = {r.id: r for r in tx.items([original, credited, excerpt, hostile, lone])}
        budget_cluster = tx.items([budget])[0].cluster_id
    story = records[original].cluster_id
    assert story is not None and budget_cluster is not None, "the demo stories did not form"
    return Demo(story, budget_cluster, original, credited, excerpt, hostile, lone)
