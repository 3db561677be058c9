"""The web pages in a real browser: headless Chromium (Debian's package) over the DevTools
Protocol loads the pages of the demo store (hostile titles, bodies and URLs included) and checks
what a person sees: the copies side by side (stacked on a phone), the highlighted passages, the
evidence in place, the links between pages, keyboard navigation, and that no stored payload ran
(each would set ``window.__pwned``). Screenshots go to the test's temporary folder.

Screenshots: ``clusters-list``, ``cluster-wide``, ``cluster-phone``, ``item-hostile``,
``explain`` (PNG). Skipped, saying why, where no Chromium is installed (``apt-get install
chromium``; ``.ci/run`` installs it).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from tests.support import webdemo
from tests.support.cdp import Page, browser, chromium_path
from tests.support.webserver import Served, serve_demo

CHROMIUM = chromium_path()
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on PATH (apt-get install chromium, or set INGESTD_TEST_CHROMIUM)",
)

NOT_PWNED = "typeof window.__pwned === 'undefined'"
OWN_SCRIPT_RAN = "document.documentElement.dataset.js === 'on'"
STYLED = "getComputedStyle(document.querySelector('mark.shared, nav.top')).display !== ''"
NO_INJECTED = (
    "document.querySelectorAll('img, iframe, object, embed').length === 0 && "
    "[...document.scripts].every(s => s.getAttribute('src') === '/assets/web.js') && "
    "[...document.querySelectorAll('*')].every(e => "
    "  [...e.attributes].every(a => !a.name.startsWith('on'))) && "
    "[...document.links].every(a => ['http:', 'https:'].includes(a.protocol))"
)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_demo(tmp_path_factory.mktemp("web-browser")) as found:
        yield found


@pytest.fixture(scope="module")
def screens(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: pytest's temporary folder (printed with -s; pytest keeps the last
    three runs' folders), or ``$INGESTD_TEST_SCREENSHOTS`` to keep them."""
    chosen = os.environ.get("INGESTD_TEST_SCREENSHOTS")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"screenshots: {folder}")
    return folder


def _in_browser(tmp_path: Path, steps: Callable[[Page], Awaitable[None]]) -> None:
    assert CHROMIUM is not None

    async def main() -> None:
        async with browser(CHROMIUM, tmp_path / "profile") as page:
            await page.resize(1400, 900)
            await steps(page)

    asyncio.run(main())


async def _safe(page: Page) -> None:
    """Nothing stored ran or became markup, and the page's own script and style loaded."""
    assert await page.js(NOT_PWNED), await page.js("String(window.__pwned)")
    assert await page.js(NO_INJECTED)
    assert await page.js(OWN_SCRIPT_RAN)  # CSP lets the page's own script run


def test_the_list_links_to_clusters_and_the_keyboard_moves_through_it(
    served: Served, screens: Path, tmp_path: Path
) -> None:
    demo = served.demo

    async def steps(page: Page) -> None:
        await page.goto(served.base + "/")
        await _safe(page)
        rows = await page.js("[...document.querySelectorAll('tr[data-cluster]')].length")
        assert rows == 2
        await page.press("j")
        focused = await page.js("document.activeElement.getAttribute('href')")
        assert focused == f"/clusters/{demo.other_story}"
        await page.press("j")
        assert await page.js("document.activeElement.getAttribute('href')") == (
            f"/clusters/{demo.story}"
        )
        await page.screenshot(screens / "clusters-list.png")
        target = await page.js("document.activeElement.href")  # follow it, as Enter would
        await page.goto(target)
        assert await page.js("location.pathname") == f"/clusters/{demo.story}"
        await page.goto(served.base + "/?signal=attribution")
        assert await page.js("document.querySelectorAll('tr[data-cluster]').length") == 1

    _in_browser(tmp_path, steps)


def test_the_copies_stand_side_by_side_with_shared_passages_and_evidence(
    served: Served, screens: Path, tmp_path: Path
) -> None:
    demo = served.demo

    async def steps(page: Page) -> None:
        await page.goto(f"{served.base}/clusters/{demo.story}")
        await _safe(page)
        panels = await page.js(
            "[...document.querySelectorAll('article.copy')].map(a => {"
            " const r = a.getBoundingClientRect();"
            " return [a.dataset.item, Math.round(r.left), Math.round(r.top)]; })"
        )
        assert panels[0][0] == str(demo.original)
        assert len(panels) == 4
        assert len({p[1] for p in panels}) == 4 and len({p[2] for p in panels}) == 1  # one row
        credited = f"document.getElementById('item-{demo.credited}')"
        marks = await page.js(f"{credited}.querySelectorAll('mark.shared').length")
        assert marks == 5
        added = await page.js(f"{credited}.querySelector('ins.added').textContent")
        assert added == webdemo.ADDED
        line = await page.js(f"{credited}.querySelector('p.evidence').textContent")
        assert line == webdemo.ATTRIBUTION
        decided = await page.js("document.querySelector('.why').innerText")
        assert "attribution" in decided and "credits" in decided
        dropped = await page.js(
            f"document.getElementById('item-{demo.excerpt}').querySelectorAll('del.dropped').length"
        )
        assert dropped >= 1
        hostile = await page.js(f"document.querySelector('#item-{demo.hostile} h2').textContent")
        assert "<script>" in hostile and "<img" in hostile and "\\x1b" in hostile
        await page.screenshot(screens / "cluster-wide.png")
        await page.resize(390, 844, mobile=True)
        await page.goto(f"{served.base}/clusters/{demo.story}")
        stacked = await page.js(
            "[...document.querySelectorAll('article.copy')].map(a => {"
            " const r = a.getBoundingClientRect(); return [Math.round(r.left),"
            " Math.round(r.top), Math.round(r.right)]; })"
        )
        assert len({p[0] for p in stacked}) == 1  # one column
        assert [p[1] for p in stacked] == sorted(p[1] for p in stacked)
        assert max(p[2] for p in stacked) <= 390  # nothing wider than the phone
        assert await page.js("document.documentElement.scrollWidth") <= 390
        await page.screenshot(screens / "cluster-phone.png")

    _in_browser(tmp_path, steps)


def test_item_and_explain_pages_link_back_and_show_hostile_text_as_text(
    served: Served, screens: Path, tmp_path: Path
) -> None:
    demo = served.demo

    async def steps(page: Page) -> None:
        await page.goto(f"{served.base}/items/{demo.hostile}")
        await _safe(page)
        title = await page.js("document.querySelector('h1').textContent")
        assert title.startswith("Harbour <script>window.__pwned='script'</script> strike")
        page_link = await page.js("document.querySelector('.nolink').textContent")
        assert page_link == webdemo.JS_URL  # shown, never a link
        cluster = await page.js("document.querySelector('dd a[href^=\"/clusters/\"]').href")
        await page.screenshot(screens / "item-hostile.png")
        await page.goto(cluster)
        assert await page.js("location.pathname") == f"/clusters/{demo.story}"
        why = await page.js(
            f"document.querySelector('#item-{demo.credited} a[href^=\"/explain\"]').href"
        )
        await page.goto(why)
        await _safe(page)
        summary = await page.js("document.querySelector('.summary').textContent")
        assert "the same article" in summary
        assert await page.js("document.querySelector('input[name=a]').value") == str(demo.original)
        await page.screenshot(screens / "explain.png")

    _in_browser(tmp_path, steps)
