"""The parse stage: feed bytes and their URL in, a :class:`ParsedFeed` out (feedparser only).

RSS 0.9x/1.0/2.0 and Atom are read by feedparser, JSON Feed 1.0/1.1 by
:mod:`ingestd.parse.jsonfeed`. feedparser's HTML sanitiser is switched off: feed HTML is
never rendered here, only turned into text, and the sanitiser is most of feedparser's cost.
"""

from __future__ import annotations

import calendar
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urljoin

import feedparser

from ingestd.model import FeedEntry, ParsedFeed, ParseFailed
from ingestd.parse.jsonfeed import looks_like_json, parse_json_feed


def parse_feed(body: bytes, url: str, content_type: str | None = None) -> ParsedFeed | ParseFailed:
    """Parse a feed document fetched from ``url``; relative links are resolved against it.

    Returns :class:`ParseFailed` when the body is not a feed (an HTML page, garbage, or XML
    with no channel and no entries).
    """
    if looks_like_json(body, content_type):
        return parse_json_feed(body, url)
    # feedparser mangles file:///a/b relative resolution ("file://a/..."); we join those ourselves.
    headers = {} if url.startswith("file:") else {"content-location": url}
    if content_type:
        headers["content-type"] = content_type
    doc = feedparser.parse(
        body, response_headers=headers, sanitize_html=False, resolve_relative_uris=False
    )
    channel = doc.get("feed", {})
    if not doc.get("version") and not doc.entries:
        problem = doc.get("bozo_exception")
        detail = f": {str(problem).splitlines()[0]}" if problem else ""
        return ParseFailed(f"not an RSS, Atom or JSON feed{detail}")
    entries = tuple(_entry(raw, url) for raw in doc.entries)
    site = channel.get("link")
    return ParsedFeed(
        title=str(channel.get("title", "") or "").strip(),
        site_url=urljoin(url, _unmangled(str(site))) if site else None,
        entries=entries,
        ttl_s=_ttl_s(channel.get("ttl")),
        update_period_s=_update_period_s(
            channel.get("sy_updateperiod"), channel.get("sy_updatefrequency")
        ),
    )


def _entry(raw: Any, base_url: str) -> FeedEntry:
    link = raw.get("link") or _alternate_link(raw)
    guid = raw.get("id") or None
    return FeedEntry(
        guid=str(guid).strip() if guid else None,
        url=urljoin(base_url, _unmangled(str(link).strip())) if link else None,
        title=str(raw.get("title", "") or "").strip(),
        published=_when(raw.get("published_parsed") or raw.get("updated_parsed")),
        content_html=_content(raw),
    )


def _unmangled(link: str) -> str:
    """``link`` as the feed wrote it, where feedparser changed it: feedparser drops every
    slash after ``scheme://`` (its ``_urifixer``), which turns ``file:///tmp/a.html`` into
    ``file://tmp/a.html``, a file on a host named "tmp". A ``file://`` URL never names a
    remote host that ingestd could read, so the path is given its leading slash back."""
    if link[:7].lower() == "file://" and not link[7:].startswith(("/", "localhost/")):
        return "file:///" + link[7:]
    return link


def _alternate_link(raw: Any) -> str | None:
    for link in raw.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return str(link["href"])
    return None


def _content(raw: Any) -> str:
    contents = raw.get("content") or []
    values = [str(part.get("value", "")) for part in contents if part.get("value")]
    if values:
        return max(values, key=len)
    return str(raw.get("summary", "") or "")


def _when(parsed: time.struct_time | None) -> datetime | None:
    """feedparser gives UTC struct_time; turn it into an aware datetime."""
    if parsed is None:
        return None
    try:
        return datetime.fromtimestamp(calendar.timegm(parsed), tz=UTC)
    except (OverflowError, ValueError, OSError):
        return None


_PERIOD_S = {
    "hourly": 3600,
    "daily": 86400,
    "weekly": 604800,
    "monthly": 2592000,
    "yearly": 31536000,
}


def _update_period_s(period: Any, frequency: Any) -> float | None:
    """Syndication module: updatePeriod (default daily) divided by updateFrequency (default 1)."""
    if period is None and frequency is None:
        return None
    seconds = _PERIOD_S.get(str(period or "daily").strip().lower())
    try:
        times = max(int(str(frequency or 1).strip()), 1)
    except ValueError:
        times = 1
    return seconds / times if seconds else None


def _ttl_s(value: Any) -> int | None:
    """RSS ``<ttl>`` is in minutes; returned in seconds."""
    try:
        minutes = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return minutes * 60 if minutes > 0 else None
