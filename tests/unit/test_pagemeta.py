"""``extract_article``'s lean metadata pass gives what trafilatura's whole pass gives.

The reference is trafilatura's ``bare_extraction(..., with_metadata=True)``, read the way
``extract_article`` read it before it took only four fields: every field of the :class:`Article`
must match, on a built page that exercises each rule and on real pages from
``../shared/corpus/pages`` (a sample; skipped, saying why, when the corpus is absent).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
import trafilatura
from trafilatura.metadata import extract_metadata
from trafilatura.utils import load_html

from ingestd.extract.article import MIN_TEXT_CHARS, _absolute, _date, _tidy, extract_article
from ingestd.extract.pagemeta import page_metadata
from ingestd.model import Article, ExtractFailed

CORPUS = Path(
    os.environ.get(
        "INGESTD_CORPUS", Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
    )
)
PAGES = CORPUS / "pages"
DATE_PARAMS = {"extensive_search": False, "original_date": True}
SAMPLE_EVERY = 9  # one corpus page in nine (~50 pages, a few seconds); all 437 matched when run

PARAGRAPH = (
    "The council voted on Tuesday to extend the northern tram line by four stops, a plan that "
    "has been argued over for the better part of a decade and will now cost the city more than "
    "twice what was first proposed. "
)


def _page(site_meta: str, extra_head: str = "") -> str:
    return f"""<!DOCTYPE html>
<html lang="en"><head>
<title>Tram line extended | The Northern Gazette</title>
<meta name="author" content="Jane Reporter">
<meta name="keywords" content="trams, council">
<meta property="article:tag" content="transport">
{site_meta}
{extra_head}
</head><body>
<header><nav><a href="/">Home</a> <a href="/news">News</a></nav></header>
<article>
<h1>Tram line extended by four stops</h1>
<p class="byline">By <a rel="author" href="/staff/jane">Jane Reporter</a></p>
<time datetime="2026-03-14T09:30:00Z">14 March 2026</time>
{"".join(f"<p>{PARAGRAPH}Paragraph {n} adds its own detail.</p>" for n in range(6))}
<p class="tags">Tags: <a href="/tag/trams" rel="tag">trams</a></p>
</article>
<footer><a rel="license" href="https://creativecommons.org/licenses/by/4.0/">CC BY</a></footer>
</body></html>"""


BUILT_PAGES = {
    "og tags": _page(
        '<meta property="og:site_name" content="The Northern Gazette">'
        '<meta property="og:url" content="https://gazette.example/news/trams">'
        '<meta property="article:published_time" content="2026-03-14T09:30:00Z">'
    ),
    "twitter handle, lower-case": _page('<meta name="twitter:site" content="@gazette">'),
    "canonical link only": _page(
        '<link rel="canonical" href="https://gazette.example/news/trams-canonical">'
    ),
    "json-ld overrides": _page(
        '<meta property="og:title" content="A title from og">',
        '<script type="application/ld+json">{"@context": "https://schema.org", '
        '"@type": "NewsArticle", "headline": "Tram line extended (JSON-LD)", '
        '"datePublished": "2026-03-13", "publisher": {"@type": "Organization", '
        '"name": "Gazette Media"}, "url": "https://gazette.example/ld"}</script>',
    ),
    "nothing but a body": _page(""),
}


def _reference(html: bytes | str, url: str) -> Article | ExtractFailed:
    """``extract_article`` as it was: trafilatura's whole metadata pass, its fields read off."""
    doc = trafilatura.bare_extraction(
        html,
        url=url,
        with_metadata=True,
        include_comments=False,
        date_extraction_params=DATE_PARAMS,
    )
    if doc is None:
        return ExtractFailed("no article text found in the page")
    assert not isinstance(doc, dict)  # a Document unless as_dict is asked for
    text = _tidy(str(doc.text or ""))
    if len(text) < MIN_TEXT_CHARS:
        return ExtractFailed(f"extracted text too short ({len(text)} characters)")
    return Article(
        text=text,
        title=str(doc.title or "").strip(),
        canonical_url=_absolute(doc.url, url),
        published=_date(doc.date),
        site_name=str(doc.sitename or "").strip() or None,
    )


@pytest.mark.parametrize("name", sorted(BUILT_PAGES))
def test_page_metadata_matches_trafilaturas_whole_pass(name: str) -> None:
    html = BUILT_PAGES[name]
    url = "https://gazette.example/news/trams?utm=feed"
    whole = extract_metadata(load_html(html), url, dict(DATE_PARAMS))
    lean = page_metadata(load_html(html), url, DATE_PARAMS)
    assert (lean.title, lean.url, lean.date, lean.sitename) == (
        whole.title or None,
        whole.url or None,
        whole.date or None,
        whole.sitename or None,
    )
    assert whole.author, "the built page has an author, which the lean pass does not look for"


@pytest.mark.parametrize("name", sorted(BUILT_PAGES))
def test_extract_article_matches_the_whole_pass_on_built_pages(name: str) -> None:
    html = BUILT_PAGES[name]
    url = "https://gazette.example/news/trams"
    article = extract_article(html, url)
    assert isinstance(article, Article)
    assert article == _reference(html, url)


def test_the_built_pages_cover_each_rule() -> None:
    """The built pages exercise the rules they are named for (else the tests above prove little)."""
    url = "https://gazette.example/news/trams"
    found = {name: extract_article(html, url) for name, html in BUILT_PAGES.items()}
    assert all(isinstance(article, Article) for article in found.values())
    og, handle, canonical, ld, bare = (
        found[name]
        for name in (
            "og tags",
            "twitter handle, lower-case",
            "canonical link only",
            "json-ld overrides",
            "nothing but a body",
        )
    )
    assert isinstance(og, Article) and og.site_name == "The Northern Gazette"
    assert og.canonical_url == "https://gazette.example/news/trams"
    assert isinstance(handle, Article) and handle.site_name == "Gazette"
    assert isinstance(canonical, Article)
    assert canonical.canonical_url == "https://gazette.example/news/trams-canonical"
    assert isinstance(ld, Article) and ld.site_name == "Gazette Media"
    assert ld.published == datetime(2026, 3, 13, tzinfo=UTC)
    assert isinstance(bare, Article) and bare.published is not None


@pytest.mark.corpus
def test_extract_article_matches_the_whole_pass_on_real_pages() -> None:
    if not PAGES.is_dir():
        pytest.skip(f"corpus pages not found at {PAGES} (set INGESTD_CORPUS to its folder)")
    paths = sorted(PAGES.glob("*.html"))[::SAMPLE_EVERY]
    assert len(paths) >= 40, f"only {len(paths)} pages sampled from {PAGES}"
    differing = []
    for path in paths:
        html = path.read_bytes()
        url = f"https://corpus.example/{path.stem}"
        if extract_article(html, url) != _reference(html, url):
            differing.append(path.name)
    assert not differing, f"lean metadata differs from trafilatura's on {differing}"
