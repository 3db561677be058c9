"""JSON Feed 1.0 and 1.1 (https://jsonfeed.org/version/1.1): bytes and their URL in, a
:class:`~ingestd.model.ParsedFeed` out. Pure; the standard library only.

An item's link is ``url`` (else ``external_url``), its GUID ``id`` (a string in 1.1, a
number tolerated as in 1.0 feeds), its content ``content_html`` else ``content_text`` (escaped
into HTML) else ``summary``, its time ``date_published`` else ``date_modified`` (RFC 3339).
Anything that is not a JSON object with a JSON Feed ``version`` and an ``items`` array is a
:class:`~ingestd.model.ParseFailed` with the reason.
"""

from __future__ import annotations

import html
import json
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

from ingestd.model import FeedEntry, ParsedFeed, ParseFailed

VERSION_PREFIX = "https://jsonfeed.org/version/"


def looks_like_json(body: bytes, content_type: str | None) -> bool:
    """Whether the body is JSON rather than XML: a JSON content type, or a first character
    (after a byte order mark and white space) of ``{``."""
    kind = (content_type or "").split(";")[0].strip().lower()
    if kind in ("application/feed+json", "application/json") or kind.endswith("+json"):
        return True
    return body.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{")


def parse_json_feed(body: bytes, url: str) -> ParsedFeed | ParseFailed:
    """Read a JSON Feed; relative links are resolved against ``url``."""
    try:
        document = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        return ParseFailed(f"not a JSON Feed: malformed JSON: {str(exc).splitlines()[0]}")
    if not isinstance(document, dict):
        return ParseFailed("not a JSON Feed: the document is not a JSON object")
    version = document.get("version")
    if not isinstance(version, str) or not version.startswith(VERSION_PREFIX):
        return ParseFailed("not a JSON Feed: no https://jsonfeed.org/version/ in its version")
    raw_items = document.get("items")
    if not isinstance(raw_items, list):
        return ParseFailed("not a JSON Feed: no items array")
    home = _text(document.get("home_page_url"))
    return ParsedFeed(
        title=_text(document.get("title")) or "",
        site_url=urljoin(url, home) if home else None,
        entries=tuple(_entry(raw, url) for raw in raw_items if isinstance(raw, dict)),
    )


def _entry(raw: dict[str, Any], base_url: str) -> FeedEntry:
    link = _text(raw.get("url")) or _text(raw.get("external_url"))
    guid = raw.get("id")
    if isinstance(guid, int | float) and not isinstance(guid, bool):
        guid = str(guid)
    return FeedEntry(
        guid=guid.strip() or None if isinstance(guid, str) else None,
        url=urljoin(base_url, link) if link else None,
        title=_text(raw.get("title")) or "",
        published=_when(raw.get("date_published")) or _when(raw.get("date_modified")),
        content_html=_content(raw),
    )


def _content(raw: dict[str, Any]) -> str:
    if content := _text(raw.get("content_html")):
        return content
    if content := _text(raw.get("content_text")):
        paragraphs = [p.strip() for p in content.split("\n\n") if p.strip()]
        return "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return html.escape(_text(raw.get("summary")) or "")


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _when(value: object) -> datetime | None:
    """An RFC 3339 time as an aware UTC datetime (a time without a zone is taken as UTC)."""
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
