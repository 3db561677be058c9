"""Feed discovery in an HTML page: ``<link rel="alternate" type="...">`` candidates. Pure.

RSS and Atom candidates come first (in page order), JSON Feed ones after them (ingestd reads
RSS and Atom only, so a JSON Feed is a last resort the caller will reject). Relative ``href``
values are resolved against ``<base href>`` when the page has one, else the page's URL.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from urllib.parse import urljoin

FEED_TYPES = ("application/rss+xml", "application/atom+xml")
JSON_FEED_TYPES = ("application/feed+json", "application/json")
_CHARSET = re.compile(r"charset=[\"']?([\w.:-]+)", re.IGNORECASE)


class _LinkParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.base: str | None = None
        self.links: list[tuple[str, str]] = []  # (type, href)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {name.lower(): (value or "").strip() for name, value in attrs}
        if tag == "base" and self.base is None and values.get("href"):
            self.base = values["href"]
        if tag != "link" or not values.get("href"):
            return
        rels = values.get("rel", "").lower().split()
        kind = values.get("type", "").lower().split(";")[0].strip()
        if "alternate" in rels and kind in FEED_TYPES + JSON_FEED_TYPES:
            self.links.append((kind, values["href"]))


def feed_links(html: str, page_url: str) -> list[str]:
    """Absolute URLs of the feeds a page announces, RSS/Atom first, without repeats."""
    parser = _LinkParser()
    parser.feed(html)
    parser.close()
    base = urljoin(page_url, parser.base) if parser.base else page_url
    ordered = [href for kind, href in parser.links if kind in FEED_TYPES]
    ordered += [href for kind, href in parser.links if kind in JSON_FEED_TYPES]
    found: dict[str, None] = {}
    for href in ordered:
        url = urljoin(base, href)
        if url.split(":", 1)[0].lower() in ("http", "https"):
            found.setdefault(url, None)
    return list(found)


def decode_html(body: bytes, content_type: str | None) -> str:
    """The page as text: the charset of Content-Type, else of a ``<meta>`` tag, else UTF-8."""
    match = _CHARSET.search(content_type or "") or _CHARSET.search(
        body[:2048].decode("ascii", "replace")
    )
    encoding = match.group(1) if match else "utf-8"
    try:
        return body.decode(encoding, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")
