"""Linking through a real store: what a page reveals about pages stored before it, the links a
migrated store keeps, and what ``clusters explain`` says of a containment match.

Texts are invented (the ``prose`` fixture).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import update

from ingestd.config import DedupSettings
from ingestd.dedup.explain import explain
from ingestd.dedup.link import LinkOutcome, link_new_item
from ingestd.dedup.signature import SignatureParams, make_signature
from ingestd.store import NewItem, Store, Transaction, migrations, schema
from tests.integration.test_store import NOW, _from, _migrate_to, add_feeds, new_item

Prose = Callable[..., list[str]]


def link(tx: Transaction, item: NewItem) -> LinkOutcome:
    signature = make_signature(item.text, item.title, SignatureParams())
    return link_new_item(tx, tx.insert_item(item), item, signature, DedupSettings(), NOW)


def test_a_body_on_a_third_page_under_another_title_makes_all_three_stubs(
    store: Store, prose: Prose
) -> None:
    """Two pages of one site with one body are one article until a third shows it is the
    site's stub: then none of them is linked, whichever came first."""
    a, _b, _c = add_feeds(store)
    body = "\n".join(prose(1, 3))
    titles = ("Floods close the rail line", "Mayor resigns after vote", "School stays shut")
    with store.transaction() as tx:
        first = link(tx, new_item(a, "s1", host="hub.example", text=body, title=titles[0]))
        second = link(tx, new_item(a, "s2", host="hub.example", text=body, title=titles[1]))
        assert second.cluster_id is not None  # two pages: one article under two headlines
        third = link(tx, new_item(a, "s3", host="hub.example", text=body, title=titles[2]))
        stored = tx.items([first.item_id, second.item_id, third.item_id])
    assert {record.quality for record in stored} == {"stub"}
    assert all(record.cluster_id is None for record in stored)


def test_a_paragraph_on_six_pages_of_a_site_becomes_its_template_for_the_first_five(
    store: Store, prose: Prose
) -> None:
    """Pages whose shared text is the site's template are not copies of each other, even when
    the template was learned only after they were stored (pages that are mostly template look
    like copies of each other: six pages make it a template whatever they look like)."""
    a, _b, _c = add_feeds(store)
    template = "\n".join(prose(2, 2))  # ~115 words the site prints under every story
    with store.transaction() as tx:
        outcomes = [
            link(
                tx,
                new_item(
                    a,
                    f"p{n}",
                    host="paper.example",
                    text="\n".join([prose(10 + n, 1, 25, 30)[0], template]),
                    title=f"Story number {n} of the paper",
                ),
            )
            for n in range(6)
        ]
        stored = tx.items(outcome.item_id for outcome in outcomes)
    assert all(record.cluster_id is None for record in stored)
    assert {record.quality for record in stored} == {"short"}
    assert all("template" in (record.quality_note or "") for record in stored)


def test_a_store_migrated_to_links_keeps_its_clusters_and_grows_them(
    database_url: str, prose: Prose
) -> None:
    """Clusters stored before links existed are kept (each member linked to the canonical item)
    and a new copy joins them."""
    story = "\n".join(prose(3, 10))
    store = Store.open(database_url, migrate=False)
    try:
        with store.engine.begin() as conn:
            _migrate_to(conn, 9)
        a, b, c = add_feeds(store)
        with store.transaction() as tx:
            ids = [
                tx.insert_item(new_item(f, f"s{f}", host=f"{f}.example", text=story))
                for f in (a, b)
            ]
            cluster = tx.create_cluster(NOW)
            tx.update_cluster(cluster, canonical_item_id=ids[0], size=2)
            tx.conn.execute(
                update(schema.items)
                .where(schema.items.c.id.in_(ids))
                .values(cluster_id=cluster, role="republication", match_reason="minhash")
            )
        assert [m.version for m in migrations.upgrade(store.engine)] == _from(10)
        with store.transaction() as tx:
            assert len(tx.links_of(ids)) == 1
            joined = link(
                tx,
                new_item(
                    c, "copy", host="c.example", text=story, published=NOW + timedelta(hours=1)
                ),
            )
            members = {m.id for m in tx.cluster_members(cluster)}
    finally:
        store.close()
    assert joined.cluster_id == cluster and members == {*ids, joined.item_id}


def test_explain_says_a_containment_match_joins_one_story_only(store: Store, prose: Prose) -> None:
    """An excerpt contained in two stories that share little joins the better one; explain
    says it was also contained in the other."""
    a, b, c = add_feeds(store)
    opening = prose(4, 4)
    first = "\n".join([*opening, *prose(5, 10)])
    second = "\n".join([*opening[:3], *prose(6, 10)])
    with store.transaction() as tx:
        one = link(
            tx, new_item(a, "one", host="a.example", text=first, title="Floods in the north")
        )
        two = link(tx, new_item(b, "two", host="b.example", text=second, title="Floods rise again"))
        excerpt = link(
            tx, new_item(c, "x", host="c.example", text="\n".join(opening), title="Floods")
        )
        found = explain(tx, str(excerpt.item_id), str(two.item_id), DedupSettings())
    assert one.cluster_id is None and two.cluster_id is None
    assert excerpt.cluster_id is not None
    assert found["link"]["strength"] == "weak" and found["link"]["contained"] == "a"
    assert found["same_cluster"] is False
    assert "also contained in item" in found["summary"]


def _pages(tx: Transaction, feed: int, pages: list[tuple[str, str, str]]) -> dict[str, int]:
    """Link (url, title, text) pages in order; their cluster ids by URL (None: alone)."""
    ids = {}
    for url, title, text in pages:
        host, path = url.split("/", 3)[2:]
        item = new_item(feed, path, host=host, text=text, title=title)
        ids[url] = link(tx, item).item_id
    return {r.url.split("/", 3)[3]: r.cluster_id for r in tx.items(ids.values()) if r.url}


def test_a_roundup_of_two_widely_carried_briefs_joins_neither_whatever_comes_first(
    tmp_path: Path, prose: Prose
) -> None:
    """Fourteen identical copies of one brief must not crowd the link to the other brief out
    of a roundup holding both, or the roundup would join the first when it arrives last."""
    brief_s, brief_r = "\n".join(prose(20, 3)), "\n".join(prose(21, 3))
    copies = [(f"s{i}", "Ferry service suspended on lower river", brief_s) for i in range(14)]
    copies += [(f"r{i}", "Mill quay reopens after pumping", brief_r) for i in range(14)]
    text = "\n".join([brief_s, brief_r, *prose(22, 1)])
    roundup = ("roundup", "Around the valley on Wednesday", text)
    for run, order in enumerate(([roundup, *copies], [*copies, roundup])):
        store = Store.open(f"sqlite:///{tmp_path / f'run{run}.sqlite3'}")
        try:
            feed = add_feeds(store)[0]
            with store.transaction() as tx:
                pages = [(f"https://{name}.example/{name}", t, x) for name, t, x in order]
                clusters = _pages(tx, feed, pages)
        finally:
            store.close()
        assert clusters["roundup"] is None, run


def test_a_sites_live_page_quoting_its_lead_does_not_cut_an_update_from_its_story(
    store: Store, prose: Prose
) -> None:
    """Text a pair of the site's pages shares with one other page of the site (its live page
    quotes the lead) is not the site's template."""
    a, _b, _c = add_feeds(store)
    v1 = prose(30, 8)
    v2 = v1[:5] + prose(31, 4)
    live = [*prose(32, 2), *v1[:2], *prose(33, 3)]
    explainer = [prose(34, 1)[0], v1[2], *prose(35, 3)]
    pages = [
        ("https://courier.example/levee-breach", "Levee breach forces evacuation", "\n".join(v1)),
        ("https://courier.example/levee-holds", "Levee holds overnight", "\n".join(v2)),
        ("https://courier.example/flood-live", "Flood: live updates", "\n".join(live)),
        ("https://courier.example/why-levees", "Why the levees fail", "\n".join(explainer)),
    ]
    with store.transaction() as tx:
        clusters = _pages(tx, a, [pages[2], pages[3], pages[0], pages[1]])
    assert clusters["levee-breach"] is not None
    assert clusters["levee-breach"] == clusters["levee-holds"]


def test_a_template_revealed_by_a_page_that_skips_a_count_still_reaches_the_first_pages(
    tmp_path: Path, prose: Prose
) -> None:
    """Pages A and B share only the site's leaked block; C is an update of A. Whatever the
    order, A and B end apart once the block is known to be the site's."""
    block = "\n".join(prose(40, 2))
    a_text, b_text = "\n".join(prose(41, 2)), "\n".join(prose(42, 2))
    pages = {
        "a": ("Levee breach forces evacuation", f"{a_text}\n{block}"),
        "b": ("Schools stay shut after flood", f"{b_text}\n{block}"),
        "c": ("Evacuated villagers wait for word", f"{a_text}\n{prose(43, 1)[0]}\n{block}"),
        "d": ("Insurers brace for claims", "\n".join([*prose(44, 2), block])),
    }
    for order in ("abcd", "dabc"):
        store = Store.open(f"sqlite:///{tmp_path / f'{order}.sqlite3'}")
        try:
            feed = add_feeds(store)[0]
            with store.transaction() as tx:
                items = [(f"https://riverpost.example/{k}", *pages[k]) for k in order]
                clusters = _pages(tx, feed, items)
        finally:
            store.close()
        assert clusters["a"] is None or clusters["a"] != clusters["b"], order
        assert clusters["a"] is not None and clusters["a"] == clusters["c"], order
