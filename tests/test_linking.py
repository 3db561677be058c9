"""Linking through a real store: what a page reveals about pages stored before it, the links a
migrated store keeps, and what ``clusters explain`` says of a containment match.

Texts are invented (the ``prose`` fixture).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import update

from ingestd.config import DedupSettings
from ingestd.dedup.signature import SignatureParams, make_signature
from ingestd.explain import explain
from ingestd.linking import LinkOutcome, link_new_item
from ingestd.store import NewItem, Store, Transaction, migrations, schema
from tests.test_store import NOW, _migrate_to, add_feeds, new_item

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
        assert [m.version for m in migrations.upgrade(store.engine)] == [10]
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
