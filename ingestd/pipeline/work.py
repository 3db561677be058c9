"""CPU-bound stage work, run in worker processes: parse a feed, extract a page, sign a text.

Each function takes and returns picklable values only, so the event loop can hand them to a
process pool and never wait on CPU work itself. The main process imports this module only to
name the functions; the parsers, trafilatura and the signature code (numpy) are imported where they
run (the pool's forkserver preloads them, see :func:`ingestd.pipeline.runner.make_pool`), so a pass
starts polling without paying for them.
"""

from __future__ import annotations

from ingestd.dedup.params import SignatureParams
from ingestd.model import Article, ExtractFailed, ParsedFeed, ParseFailed, Signature

Prepared = tuple[Article, Signature] | ExtractFailed


def parse_job(body: bytes, url: str, content_type: str | None) -> ParsedFeed | ParseFailed:
    """Parse a fetched feed document."""
    from ingestd.parse.feed import parse_feed

    return parse_feed(body, url, content_type)


def page_job(html: bytes, url: str, favor: str, fast: bool, params: SignatureParams) -> Prepared:
    """Extract the article of a fetched page (trafilatura's ``favor`` mode, ``fast`` or not)
    and compute its signature."""
    from ingestd.dedup.signature import make_signature
    from ingestd.extract.article import extract_article

    article = extract_article(html, url, favor, fast)
    if isinstance(article, ExtractFailed):
        return article
    return article, make_signature(article.text, article.title, params)


def feed_content_job(content_html: str, title: str, note: str, params: SignatureParams) -> Prepared:
    """Use a feed entry's own content as the article (the page was unusable: ``note`` says why)."""
    from ingestd.dedup.signature import make_signature
    from ingestd.extract.article import article_from_feed

    article = article_from_feed(content_html, title, note)
    if isinstance(article, ExtractFailed):
        return article
    return article, make_signature(article.text, article.title, params)


# Invented samples for :func:`warm_up` (no publisher's text): a full page, a page too short for
# trafilatura's main extractor (it then tries its jusText fallback), and a one-item feed.
_SAMPLE_PARAGRAPHS = (
    "HARBOURTON — The town council voted on Tuesday to rebuild the old stone bridge over the"
    " river, ending a debate that had run for three years.",
    "“We owe it to the people who cross it every morning,” said the mayor, who chaired the"
    " meeting. Work is due to start in the spring and to last eighteen months.",
    "The bridge, built in 1887, was closed to lorries last winter after engineers found cracks"
    " in two of its arches. Cars and bicycles may still use it.",
    "Opponents had argued for a new crossing further downstream, which they said would cost"
    " less to maintain. The council rejected that plan by seven votes to four.",
)
_SAMPLE_PAGE = (
    "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
    "<title>Council votes to rebuild the old bridge</title>"
    "<meta property='og:site_name' content='Harbourton Courier'>"
    "<link rel='canonical' href='https://courier.example/news/bridge'>"
    "<meta property='article:published_time' content='2026-01-06T09:00:00Z'></head><body>"
    "<nav><ul><li><a href='/'>Home</a></li><li><a href='/news'>News</a></li></ul></nav>"
    "<article><h1>Council votes to rebuild the old bridge</h1><p>By A. Reporter</p>"
    + "".join(f"<p>{paragraph}</p>" for paragraph in _SAMPLE_PARAGRAPHS)
    + "</article><footer><p>Copyright 2026 Harbourton Courier.</p></footer></body></html>"
).encode()
_SAMPLE_SHORT_PAGE = (
    "<html><head><title>Bridge</title></head><body><div><p>"
    + _SAMPLE_PARAGRAPHS[0]
    + "</p></div><div><a href='/'>Home</a></div></body></html>"
).encode()
_SAMPLE_FEED = (
    "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel><title>Courier</title>"
    "<link>https://courier.example/</link><item><title>Bridge</title>"
    "<link>https://courier.example/news/bridge</link><guid>bridge</guid>"
    "<pubDate>Tue, 06 Jan 2026 09:00:00 GMT</pubDate><description>&lt;p&gt;"
    + _SAMPLE_PARAGRAPHS[0]
    + "&lt;/p&gt;</description></item></channel></rss>"
).encode()


def warm_up() -> bool:
    """Run each kind of job once on invented samples; True when each gave a result.

    What the libraries build on first use (trafilatura's jusText stop lists, ~0.08 s; compiled
    patterns; numpy's lazily imported parts: 0.1-0.2 s of CPU in all) is then built once, in
    the forkserver, and inherited by every worker instead of being built in each of them.
    """
    params = SignatureParams()
    feed = parse_job(_SAMPLE_FEED, "https://courier.example/feed.xml", "application/rss+xml")
    page = page_job(_SAMPLE_PAGE, "https://courier.example/news/bridge", "balanced", False, params)
    short = page_job(_SAMPLE_SHORT_PAGE, "https://courier.example/b", "balanced", False, params)
    return not isinstance(feed, ParseFailed) and all(
        not isinstance(result, ExtractFailed) for result in (page, short)
    )
