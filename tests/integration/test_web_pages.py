"""The read-only web pages over HTTP: what each page shows, how they link, that hostile stored
text stays text, the security headers, read-only methods, paging and basic auth.

A real listener on 127.0.0.1 serves a real SQLite demo store (``tests.support.webdemo``) whose items
were linked by the real dedup.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingestd.service.web import listing
from ingestd.service.web.auth import BasicAuth, hash_password
from ingestd.store import Store
from ingestd.store.clusterpages import ClusterFilter, Cursor, recent_clusters
from tests.support import webdemo
from tests.support.webserver import Elements, Served, fetch, serve_demo


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_demo(tmp_path_factory.mktemp("web")) as found:
        yield found


def _safe_dom(markup: str) -> Elements:
    """The parsed page, after checking that nothing stored became markup: the only script is
    the page's own, no image, no event handler, no link but http(s) and local ones."""
    dom = Elements(markup)
    assert [s.get("src") for s in dom.find("script")] == ["/assets/web.js"]
    assert dom.find("img") == [] and dom.find("iframe") == []
    for tag, attrs in dom.tags:
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
    for anchor in dom.find("a"):
        assert re.match(r"^(https?://|/|#)", anchor["href"]), anchor
    return dom


def test_the_list_shows_recent_clusters_with_size_title_site_and_signals(served: Served) -> None:
    status, headers, page = fetch(served.base + "/")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    dom = _safe_dom(page)
    rows = [attrs["data-cluster"] for attrs in dom.find("tr") if "data-cluster" in attrs]
    assert rows == [str(served.demo.other_story), str(served.demo.story)]  # newest change first
    assert f'href="/clusters/{served.demo.story}"' in page
    assert f'href="/items/{served.demo.original}">Harbour strike ends</a>' in page
    assert "a-times.example" in page and 'data-signal="attribution"' in page


def test_filters_by_site_signal_feed_and_time(served: Served) -> None:
    def listed(query: str) -> list[str]:
        status, _, page = fetch(served.base + "/?" + query)
        assert status == 200, page
        return re.findall(r'<tr data-cluster="(\d+)"', page)

    story, other = str(served.demo.story), str(served.demo.other_story)
    assert listed("site=d-evil.example") == [story]
    assert listed("site=B-POST.example") == [other, story]
    assert listed("signal=attribution") == [story]
    assert listed("feed=https://c-wire.example/feed.xml") == [story]
    assert listed("since=2000-01-01") == [other, story]
    assert listed("since=2999-01-01") == []
    assert fetch(served.base + "/?signal=telepathy")[0] == 400
    status, _, page = fetch(served.base + "/?since=last+tuesday")
    assert status == 400 and "since: expected a date" in page and 'value="last tuesday"' in page
    assert fetch(served.base + "/?feed=https://nowhere.example/feed")[0] == 404
    assert fetch(served.base + "/?after=12x")[0] == 400


def test_paging_walks_every_cluster_once_by_cursor(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(listing, "PAGE_SIZE", 1)
    seen, url = [], served.base + "/?site=b-post.example"
    while url:
        page = fetch(url)[2]
        seen += re.findall(r'<tr data-cluster="(\d+)"', page)
        nxt = re.search(r'<a href="(/\?[^"]*after=[^"]*)">Next page', page)
        url = served.base + nxt.group(1).replace("&amp;", "&") if nxt else ""
        assert len(seen) < 5
    assert seen == [str(served.demo.other_story), str(served.demo.story)]


def test_the_cluster_page_shows_every_copy_with_its_evidence(served: Served) -> None:
    demo = served.demo
    status, _, page = fetch(f"{served.base}/clusters/{demo.story}")
    assert status == 200
    dom = _safe_dom(page)
    panels = [a["data-item"] for a in dom.find("article")]
    assert panels[0] == str(demo.original)  # the canonical item first
    assert sorted(panels[1:]) == sorted(map(str, (demo.credited, demo.excerpt, demo.hostile)))
    assert "canonical chosen by</dt><dd>attribution" in page
    assert 'class="evidence"' in page and webdemo.ATTRIBUTION in page  # the line, in place
    credited = page[page.index(f'id="item-{demo.credited}"') :]
    credited = credited[: credited.index("</article>")]
    assert f'<ins class="added">{webdemo.ADDED}</ins>' in credited
    assert credited.count('<mark class="shared">') == 5  # five shared paragraphs
    excerpt = page[page.index(f'id="item-{demo.excerpt}"') :]
    assert '<del class="dropped">' in excerpt[: excerpt.index("</article>")]
    assert f'href="/explain?a={demo.original}&amp;b={demo.credited}"' in page


def test_hostile_text_is_shown_as_text_everywhere(served: Served) -> None:
    demo = served.demo
    for path in (
        "/",
        f"/clusters/{demo.story}",
        f"/items/{demo.hostile}",
        f"/explain?a={demo.original}&b={demo.hostile}",
    ):
        status, _, page = fetch(served.base + path)
        assert status == 200, path
        _safe_dom(page)
        assert "<script>window" not in page and "<img" not in page
        assert "\x1b" not in page and "\u202e" not in page and "\x07" not in page
    page = fetch(f"{served.base}/items/{demo.hostile}")[2]
    assert "&lt;script&gt;window.__pwned=&#x27;script&#x27;&lt;/script&gt;" in page
    assert "\\x1b[31mred" in page and "\\u202eevil" in page  # control characters spelled out
    assert 'title="not an http(s) link">javascript:' in page  # the URL, not a link


def test_the_item_page_shows_text_verdict_and_cluster(served: Served) -> None:
    demo = served.demo
    status, _, page = fetch(f"{served.base}/items/{demo.credited}")
    assert status == 200
    _safe_dom(page)
    assert f'<a href="/clusters/{demo.story}">#{demo.story}</a>' in page
    assert "quality</dt><dd>article" in page and webdemo.ADDED in page
    assert f'href="/items/{demo.original}"' in page  # the other copies
    lone = fetch(f"{served.base}/items/{demo.lone}")[2]
    assert "Other copies" not in lone and "role</dt><dd>single" in lone


def test_the_explain_page_gives_the_verdict(served: Served) -> None:
    demo = served.demo
    status, _, page = fetch(f"{served.base}/explain?a={demo.original}&b={demo.credited}")
    assert status == 200
    _safe_dom(page)
    assert "the same article" in page and "verdict by text</dt><dd>copy" in page
    assert "same cluster</dt><dd>yes" in page
    form = fetch(served.base + "/explain")
    assert form[0] == 200 and 'name="a"' in form[2]
    missing = fetch(served.base + "/explain?a=1&b=999999")
    assert missing[0] == 404 and "no item with id or URL" in missing[2]


def test_unknown_paths_and_ids_answer_404(served: Served) -> None:
    for path in (
        "/clusters/999",
        "/clusters/abc",
        "/clusters/",
        "/items/99999999999999999999",
        "/items/-1",
        "/nothing",
    ):
        assert fetch(served.base + path)[0] == 404, path


def test_every_answer_has_a_strict_policy_and_only_reads(served: Served) -> None:
    for path in ("/", f"/clusters/{served.demo.story}", "/explain", "/clusters/999"):
        status, headers, _ = fetch(served.base + path)
        policy = headers["Content-Security-Policy"]
        assert "default-src 'none'" in policy and "script-src 'self'" in policy
        assert "unsafe-inline" not in policy and "frame-ancestors 'none'" in policy
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        status, headers, _ = fetch(served.base + "/", method)
        assert status == 405 and headers["Allow"] == "GET, HEAD"
    status, _, body = fetch(served.base + "/", "HEAD")
    assert (status, body) == (200, "")
    css = fetch(served.base + "/assets/web.css")
    assert css[0] == 200 and css[1]["Content-Type"].startswith("text/css")


def test_basic_auth_guards_every_page_when_a_hash_is_configured(tmp_path: Path) -> None:
    auth = BasicAuth("editor", hash_password("correct horse"))
    with serve_demo(tmp_path, auth) as guarded:
        for path in ("/", "/assets/web.js", f"/clusters/{guarded.demo.story}"):
            status, headers, _ = fetch(guarded.base + path)
            assert status == 401 and headers["WWW-Authenticate"].startswith('Basic realm="ingestd"')

        def header(user: str, password: str) -> dict[str, str]:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            return {"Authorization": f"Basic {token}"}

        assert fetch(guarded.base + "/", headers=header("editor", "wrong"))[0] == 401
        assert fetch(guarded.base + "/", headers=header("other", "correct horse"))[0] == 401
        assert fetch(guarded.base + "/", headers=header("editor", "correct horse"))[0] == 200
        assert fetch(guarded.base + "/", headers=header("editor", "correct horse"))[0] == 200


def test_the_listing_queries_agree_on_both_dialects(store: Store) -> None:
    """The list's filters and cursor on SQLite and PostgreSQL (the same demo, the same rows)."""
    demo = webdemo.build(store)
    with store.transaction(write=False) as tx:

        def ids(chosen: ClusterFilter, after: Cursor | None = None, limit: int = 10) -> list[int]:
            return [row.cluster.id for row in recent_clusters(tx, chosen, after, limit)]

        assert ids(ClusterFilter()) == [demo.other_story, demo.story]
        assert ids(ClusterFilter(signal="attribution")) == [demo.story]
        assert ids(ClusterFilter(site="c-wire.example")) == [demo.story]
        first = recent_clusters(tx, ClusterFilter(), None, 1)[0]
        assert first.canonical is not None and first.signals == {"minhash": 1}
        after = Cursor(first.cluster.updated_at, first.cluster.id)
        assert ids(ClusterFilter(), after) == [demo.story]
