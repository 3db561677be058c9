"""CPU-bound stage work, run in worker processes: parse a feed, extract a page, sign a text.

Each function takes and returns picklable values only, so the event loop can hand them to a
process pool and never wait on CPU work itself. The main process imports this module only to
name the functions; the parsers, trafilatura and the signature code (numpy) are imported where
they run (the pool's forkserver preloads them, see :func:`ingestd.runner.make_pool`), so a pass
starts polling without paying for them.
"""

from __future__ import annotations

from ingestd.dedup.params import SignatureParams
from ingestd.model import Article, ExtractFailed, ParsedFeed, ParseFailed, Signature

Prepared = tuple[Article, Signature] | ExtractFailed


def parse_job(body: bytes, url: str, content_type: str | None) -> ParsedFeed | ParseFailed:
    """Parse a fetched feed document."""
    from ingestd.parse import parse_feed

    return parse_feed(body, url, content_type)


def page_job(html: bytes, url: str, favor: str, fast: bool, params: SignatureParams) -> Prepared:
    """Extract the article of a fetched page (trafilatura's ``favor`` mode, ``fast`` or not)
    and compute its signature."""
    from ingestd.dedup.signature import make_signature
    from ingestd.extract import extract_article

    article = extract_article(html, url, favor, fast)
    if isinstance(article, ExtractFailed):
        return article
    return article, make_signature(article.text, article.title, params)


def feed_content_job(content_html: str, title: str, note: str, params: SignatureParams) -> Prepared:
    """Use a feed entry's own content as the article (the page was unusable: ``note`` says why)."""
    from ingestd.dedup.signature import make_signature
    from ingestd.extract import article_from_feed

    article = article_from_feed(content_html, title, note)
    if isinstance(article, ExtractFailed):
        return article
    return article, make_signature(article.text, article.title, params)


def warm_up() -> None:
    """Import the heavy modules in a fresh worker before the first real job arrives."""
    import trafilatura  # noqa: F401
