"""An entry whose page is already stored, from another feed, reuses that item's article: the page
is not fetched or extracted again, and the new item joins the stored one's story."""

from __future__ import annotations

from collections.abc import Callable

from ingestd.config import FeedConfig, HttpSettings, Settings
from ingestd.pipeline import Pipeline
from ingestd.pipeline.runner import make_pool
from ingestd.store import Store
from tests.support.httpserver import LoopbackServer, Reply
from tests.support.passes import run_pass

Prose = Callable[..., list[str]]


def _feed(name: str, links: list[str]) -> bytes:
    items = "".join(
        f"<item><title>{name} {n}</title><link>{link}</link><guid>{name}-{n}</guid></item>"
        for n, link in enumerate(links)
    )
    return (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>'
        f"{name}</title><link>http://example.org/</link>{items}</channel></rss>"
    ).encode()


def _page(paragraphs: list[str]) -> bytes:
    body = "".join(f"<p>{p}</p>" for p in paragraphs)
    head = "<head><title>Story</title></head>"
    return f"<html>{head}<body><article>{body}</article></body></html>".encode()


def _poll(store: Store, feeds: tuple[FeedConfig, ...]) -> None:
    settings = Settings(
        database_url="",
        http=HttpSettings(allow_private_networks=True, min_host_gap_s=0.0),
        feeds=feeds,
    )
    run_pass(Pipeline(settings, store, make_pool(1)))


def test_a_page_already_stored_from_another_feed_is_reused_not_fetched(
    store: Store, prose: Prose
) -> None:
    with LoopbackServer() as server:
        shared, own_a, own_b = server.url("/shared"), server.url("/a-only"), server.url("/b-only")
        for path, seed in (("/shared", 1), ("/a-only", 2), ("/b-only", 3)):
            server.route(path, Reply(200, {"Content-Type": "text/html"}, _page(prose(seed, 4))))
        server.route(
            "/a.xml",
            Reply(200, {"Content-Type": "application/rss+xml"}, _feed("a", [shared, own_a])),
        )
        server.route(
            "/b.xml",
            Reply(
                200,
                {"Content-Type": "application/rss+xml"},
                _feed("b", [shared + "?utm_source=rss", own_b]),
            ),
        )
        feed_a = FeedConfig(server.url("/a.xml"), name="a")
        _poll(store, (feed_a,))
        _poll(store, (feed_a, FeedConfig(server.url("/b.xml"), name="b")))
        pages = [t for t in server.targets("GET") if not t.endswith(".xml")]
    assert sorted(pages) == ["/a-only", "/b-only", "/shared"]  # the shared page once
    with store.transaction(write=False) as tx:
        stored = [item for item in tx.list_items() if item.url and "/shared" in item.url]
        texts = {tx.item_text(item.id) for item in stored}
    assert len(stored) == 2 and len(texts) == 1 and texts != {""}
    first, second = sorted(stored, key=lambda item: item.id)
    assert second.cluster_id is not None and second.cluster_id == first.cluster_id
    assert second.role == "republication"
