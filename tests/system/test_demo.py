"""The offline demo (``config/demo.toml``) end to end: the real CLI, a fresh SQLite file.

``demo/expected.json`` is the specification: each expected cluster is exactly one cluster with
the expected canonical page, every other member a republication; each singleton is alone.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.support.sites import REPO, json_lines, run_ingest

DEMO = REPO / "demo"
CONFIG = REPO / "config" / "demo.toml"
EXPECTED = json.loads((DEMO / "expected.json").read_text(encoding="utf-8"))
REASONS = {"url", "guid", "body_hash", "canonical_link", "attribution", "minhash"}
DOCK_STRIKE = "pages/harbourgazette/dock-strike.html"
ATTRIBUTED_COPY = "pages/valleyledger/port-calloway-walkout.html"


def page_url(relative: str) -> str:
    """The item URL of a demo page: its ``file:`` URL (feeds link pages relatively)."""
    return (DEMO / relative).resolve().as_uri()


def cluster_urls(cluster: dict[str, Any]) -> set[str]:
    return {cluster["canonical"]["url"]} | {r["url"] for r in cluster["republications"]}


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Two ``--once`` passes over the demo into a fresh state directory, and what was stored."""
    state = tmp_path_factory.mktemp("demo-state")
    first = run_ingest(["--once"], state, config=CONFIG)
    items = json_lines(run_ingest(["items", "list", "--json"], state, config=CONFIG))
    clusters = json_lines(run_ingest(["clusters", "list", "--json"], state, config=CONFIG))
    again = run_ingest(["--once"], state, config=CONFIG)
    after = json_lines(run_ingest(["items", "list", "--json"], state, config=CONFIG))
    return {
        "state": state,
        "first": first,
        "items": items,
        "clusters": clusters,
        "again": again,
        "items_after": after,
    }


def test_first_pass_summary_counts_every_demo_item(demo: dict[str, Any]) -> None:
    first = demo["first"]
    assert first.returncode == 0, first.stderr
    total = sum(len(c["members"]) for c in EXPECTED["clusters"]) + len(EXPECTED["singletons"])
    linked = sum(len(c["members"]) - 1 for c in EXPECTED["clusters"])
    assert first.stdout.splitlines() == [
        f"polled 4 feeds: {total} new items, {linked} republications linked, 0 failures"
    ]
    assert total == 14


def test_items_and_clusters_match_expected_json(demo: dict[str, Any]) -> None:
    by_url = {item["url"]: item for item in demo["items"]}
    expected_urls = {page_url(p) for c in EXPECTED["clusters"] for p in c["members"]}
    expected_urls |= {page_url(p) for p in EXPECTED["singletons"]}
    assert set(by_url) == expected_urls
    assert len(demo["clusters"]) == len(EXPECTED["clusters"])
    for expected in EXPECTED["clusters"]:
        members = {page_url(p) for p in expected["members"]}
        found = [c for c in demo["clusters"] if members & cluster_urls(c)]
        assert len(found) == 1, f"{expected['canonical']} is spread over {len(found)} clusters"
        [cluster] = found
        assert cluster["canonical"]["url"] == page_url(expected["canonical"])
        assert cluster_urls(cluster) == members
        assert cluster["size"] == len(members)
        for url in members:
            item = by_url[url]
            assert item["cluster_id"] == cluster["id"]
            role = "canonical" if url == page_url(expected["canonical"]) else "republication"
            assert item["role"] == role, url
    for relative in EXPECTED["singletons"]:
        item = by_url[page_url(relative)]
        assert (item["role"], item["cluster_id"]) == ("single", None), relative


def test_dock_strike_cluster_shows_evidence_for_every_copy(demo: dict[str, Any]) -> None:
    [cluster] = [c for c in demo["clusters"] if c["canonical"]["url"] == page_url(DOCK_STRIKE)]
    shown = json_lines(
        run_ingest(["clusters", "show", str(cluster["id"]), "--json"], demo["state"], config=CONFIG)
    )
    assert len(shown) == 1
    [detail] = shown
    assert detail["id"] == cluster["id"]
    assert detail["canonical"]["url"] == page_url(DOCK_STRIKE)
    assert len(detail["republications"]) == 2
    for copy in detail["republications"]:
        assert isinstance(copy["similarity"], float) and 0 < copy["similarity"] <= 1, copy
        assert copy["reason"] in REASONS, copy
    [attributed] = [r for r in detail["republications"] if r["url"] == page_url(ATTRIBUTED_COPY)]
    assert attributed["reason"] == "attribution"


def test_second_pass_stores_nothing_new(demo: dict[str, Any]) -> None:
    """Feeds are not due yet (or unchanged): nothing is added and nothing moves."""
    again = demo["again"]
    assert again.returncode == 0, again.stderr
    [line] = again.stdout.splitlines()
    assert re.fullmatch(r"polled \d+ feeds: 0 new items, 0 republications linked, 0 failures", line)
    assert [(i["id"], i["cluster_id"], i["role"]) for i in demo["items_after"]] == [
        (i["id"], i["cluster_id"], i["role"]) for i in demo["items"]
    ]
