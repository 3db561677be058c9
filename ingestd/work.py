"""CPU-bound stage work, run in worker processes: parse a feed, extract a page, sign a text.

Each function takes and returns picklable values only, so the event loop can hand them to a
process pool and never wait on CPU work itself.
"""

from __future__ import annotations

from ingestd.dedup.signature import SignatureParams, make_signature
from ingestd.extract import article_from_feed, extract_article
from ingestd.model import Article, ExtractFailed, ParsedFeed, ParseFailed, Signature
from ingestd.parse import parse_feed

Prepared = tuple[Article, Signature] | ExtractFailed


def parse_job(body: bytes, url: str, content_type: str | None) -> ParsedFeed | ParseFailed:
    """Parse a fetched feed document."""
    return parse_feed(body, url, content_type)


def page_job(html: bytes, url: str, favor: str, params: SignatureParams) -> Prepared:
    """Extract the article of a fetched page and compute its signature."""
    article = extract_article(html, url, favor)
    if isinstance(article, ExtractFailed):
        return article
    return article, make_signature(article.text, article.title, params)


def feed_content_job(content_html: str, title: str, note: str, params: SignatureParams) -> Prepared:
    """Use a feed entry's own content as the article (the page was unusable: ``note`` says why)."""
    article = article_from_feed(content_html, title, note)
    if isinstance(article, ExtractFailed):
        return article
    return article, make_signature(article.text, article.title, params)


def warm_up() -> None:
    """Import the heavy modules in a fresh worker before the first real job arrives."""
    import trafilatura  # noqa: F401
