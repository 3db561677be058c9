"""The extract stage: an article page's HTML and URL in, an :class:`Article` out (trafilatura).

Also turns a feed entry's own HTML content into an :class:`Article`, the fallback used when the
page cannot be fetched or yields no text.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import lxml.html
import trafilatura
from trafilatura.settings import DEFAULT_CONFIG
from trafilatura.utils import load_html

from ingestd.extract.pagemeta import page_metadata
from ingestd.model import Article, ExtractFailed

MIN_TEXT_CHARS = 40  # below this an extraction is treated as empty
_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr")
_SPACES = re.compile(r"[ \t\u00a0]+")
_DATE_PARAMS = {"extensive_search": False, "original_date": True}  # htmldate: the page's own date
_NO_TEXT = "no article text found in the page"
_MAX_PAGE_BYTES = DEFAULT_CONFIG.getint("DEFAULT", "MAX_FILE_SIZE")  # trafilatura's own limit


def extract_article(
    html: bytes | str, url: str, favor: str = "balanced", fast: bool = False
) -> Article | ExtractFailed:
    """Extract the main text and metadata of the page at ``url``.

    ``favor`` is ``"precision"``, ``"recall"`` or ``"balanced"``; ``fast`` skips trafilatura's
    comparison with its fallback extractors (readability, jusText). Paragraphs in ``text`` are
    separated by single newlines. Returns :class:`ExtractFailed` with a reason when there is no
    usable text.

    The page is parsed once. Its title, canonical URL, date and site name come from
    :func:`ingestd.extract.pagemeta.page_metadata` (trafilatura's own rules for those four fields,
    without its author, category, tag and licence searches); the text from trafilatura's
    ``bare_extraction`` on a copy of the parsed tree, as ``with_metadata=True`` would give it.
    """
    if not html or not html.strip():
        return ExtractFailed("empty page")
    try:
        tree = load_html(html, _MAX_PAGE_BYTES)
        if tree is None:
            return ExtractFailed(_NO_TEXT)
        meta = page_metadata(tree, url, _DATE_PARAMS)
        doc = trafilatura.bare_extraction(
            tree,
            url=url,
            include_comments=False,
            favor_precision=favor == "precision",
            favor_recall=favor == "recall",
            fast=fast,
        )
    except Exception as exc:  # trafilatura raises a variety of lxml/parser errors on bad HTML
        return ExtractFailed(f"extraction failed: {type(exc).__name__}: {exc}")
    if doc is None:
        return ExtractFailed(_NO_TEXT)
    text = _tidy(str(getattr(doc, "text", "") or ""))
    if len(text) < MIN_TEXT_CHARS:
        return ExtractFailed(f"extracted text too short ({len(text)} characters)")
    return Article(
        text=text,
        title=(meta.title or "").strip(),
        canonical_url=_absolute(meta.url, url),
        published=_date(meta.date),
        site_name=(meta.sitename or "").strip() or None,
    )


def article_from_feed(content_html: str, title: str, note: str) -> Article | ExtractFailed:
    """An :class:`Article` from a feed entry's own content, recording ``note`` (why)."""
    text = html_to_text(content_html) if content_html else ""
    if len(text) < MIN_TEXT_CHARS and not title:
        return ExtractFailed(f"{note}; the feed entry has no usable content either")
    return Article(
        text=text,
        title=title,
        canonical_url=None,
        published=None,
        site_name=None,
        source="feed",
        note=note,
    )


def html_to_text(fragment: str) -> str:
    """Plain text of an HTML fragment, one line per block element."""
    if "<" not in fragment:
        return _tidy(fragment)
    try:
        root = lxml.html.fragment_fromstring(fragment, create_parent="div")
    except (ValueError, lxml.etree.ParserError):
        return _tidy(fragment)
    for bad in root.xpath("//script|//style"):
        bad.drop_tree()
    for element in root.iter(*_BLOCK_TAGS):
        element.tail = "\n" + (element.tail or "")
    return _tidy(root.text_content())


def _tidy(text: str) -> str:
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return "\n".join(line for line in lines if line)


def _absolute(candidate: object, page_url: str) -> str | None:
    if not candidate or not isinstance(candidate, str):
        return None
    absolute = urljoin(page_url, candidate.strip())
    return absolute if urlsplit(absolute).scheme in ("http", "https") else None


def _date(value: object) -> datetime | None:
    """trafilatura dates are ``YYYY-MM-DD`` (sometimes with a time); read as UTC."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
