"""The deduplicated feed out: one entry per story, with the copies other outlets published.

A *story* is a cluster's canonical item, or an item nobody copied. Entries are newest first (by
the canonical item's publication time, else its fetch time) and carry an excerpt of the text
(the first ``EXCERPT_WORDS`` words; the link leads to the full article) and every
republication: URL, outlet, site, time, similarity and the reason it was linked.

Formats: Atom 1.0 (:func:`atom_feed`; republications as ``<link rel="related">``, listed in
``<content>``, and as ``<ingestd:republication>`` extension elements), JSON Feed 1.1
(:func:`json_feed`; an ``_ingestd`` extension object per item) and JSON Lines (:func:`json_lines`;
one JSON Feed item per line). These are what ``ingest export`` prints and what an HTTP listener
serves as ``/feed.atom`` and ``/feed.json``.

An entry's id (``urn:ingestd:story:<n>``, ``n`` the story's first stored item) stays the same
when a copy joins the story or when the canonical item changes, so feed readers do not show a
story twice.

Feed text is hostile: only ``http``/``https`` URLs become links (Atom ``link``, JSON Feed
``url``, ``<a href>`` in the HTML content, republication URLs); another URL (``javascript:``,
``data:``, a local ``file:``) is left out. C1 controls, bidi overrides and line separators are
written as character references or ``\\u`` escapes (the same text, never raw bytes a terminal
would obey); XML 1.0's forbidden characters are dropped.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from ingestd.config import parse_duration_s
from ingestd.errors import NotFoundError, UserError
from ingestd.parse.opml import xml_document, xml_safe
from ingestd.safetext import json_line, json_text
from ingestd.store import ItemRecord, Transaction
from ingestd.store import stories as queries
from ingestd.store.subscriptions import find_feed
from ingestd.urls import web_url

EXCERPT_WORDS = 60  # words of the canonical text in an entry
ATOM_NS = "http://www.w3.org/2005/Atom"
INGESTD_NS = "urn:ingestd:feed-extension:1"
JSON_FEED_VERSION = "https://jsonfeed.org/version/1.1"
FORMATS = ("atom", "jsonfeed", "jsonl")
ATOM_MEDIA_TYPE = "application/atom+xml; charset=utf-8"
JSON_FEED_MEDIA_TYPE = "application/feed+json; charset=utf-8"
QUERY_NAMES = ("since", "feed", "limit")  # the query parameters a served feed reads
HTTP_LIMIT = 100  # stories served when the request asks for no number
MAX_HTTP_LIMIT = 1000  # most stories one request may ask for
_DURATION = re.compile(r"^\s*\d+(?:\.\d+)?\s*[smhd]\s*$")


@dataclass(frozen=True)
class Story:
    """A canonical (or lone) item with its republications, oldest first."""

    id: str
    canonical: ItemRecord
    excerpt: str
    updated: datetime
    canonical_reason: str | None
    republications: tuple[ItemRecord, ...]


@dataclass(frozen=True)
class Selection:
    """Which stories to export: published since, carried by a feed, at most ``limit``."""

    since: datetime | None = None
    feed_url: str | None = None
    limit: int | None = None


@dataclass(frozen=True)
class Served:
    """Where a served document lives: its own URL (Atom ``rel="self"``, JSON Feed
    ``feed_url``) and the listener's home page (JSON Feed ``home_page_url``; with a trailing
    slash). Both come from configuration, never from a request's ``Host`` header."""

    self_url: str
    home_url: str


@dataclass(frozen=True)
class Document:
    """An exported document and the newest update among its stories (None when empty)."""

    body: bytes
    updated: datetime | None


# --- arguments and reads -----------------------------------------------------------------------


def parse_since(text: str, now: datetime) -> datetime:
    """``--since``: an ISO 8601 date or time (UTC unless it says otherwise), or a duration back
    from ``now`` such as ``7d``, ``12h``, ``90m``; UserError otherwise, also for a duration of
    zero or one reaching before the year 1."""
    if _DURATION.match(text):
        try:
            return now - timedelta(seconds=parse_duration_s(text))
        except ValueError as exc:  # zero
            raise UserError(f"export: --since: {exc}") from None
        except OverflowError:
            raise UserError(
                f"export: --since: {text.strip()!r} reaches back before the year 1"
            ) from None
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise UserError(
            f"export: --since: expected a date such as 2026-11-01 or a duration such as 7d, "
            f"got {text!r}"
        ) from None
    try:
        return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    except OverflowError:  # 9999-12-31T23:00-01:00 is past the year 9999 in UTC
        raise UserError(f"export: --since: {text.strip()!r} is past the year 9999") from None


def selection_from_query(query: Mapping[str, list[str]], now: datetime) -> Selection:
    """The selection an HTTP request asks for: ``?since=7d&feed=URL&limit=50`` (each optional;
    ``limit`` defaults to ``HTTP_LIMIT``, at most ``MAX_HTTP_LIMIT``). UserError (answer 400)
    when a value is unreadable."""

    def first(name: str) -> str | None:
        values = query.get(name) or [""]
        return values[0].strip() or None

    since, feed_url, limit = first("since"), first("feed"), first("limit")
    if limit is not None and not (limit.isdigit() and 1 <= int(limit) <= MAX_HTTP_LIMIT):
        raise UserError(
            f"export: limit: expected a number from 1 to {MAX_HTTP_LIMIT}, got {limit!r}"
        )
    return Selection(
        since=parse_since(since, now) if since else None,
        feed_url=feed_url,
        limit=int(limit) if limit else HTTP_LIMIT,
    )


def stories(tx: Transaction, selection: Selection) -> list[Story]:
    """The selected stories, newest first; NotFoundError for a feed URL that is not stored."""
    feed_id = None
    if selection.feed_url is not None:
        feed = find_feed(tx, selection.feed_url)
        if feed is None:
            raise NotFoundError(f"export: no feed {selection.feed_url} (see `ingest feeds list`)")
        feed_id = feed.id
    heads = queries.story_heads(tx, selection.since, feed_id, selection.limit)
    cluster_ids = {h.cluster_id for h in heads if h.cluster_id is not None}
    members = queries.members_by_cluster(tx, cluster_ids)
    clusters = queries.clusters_by_id(tx, cluster_ids)
    texts = queries.texts(tx, (h.id for h in heads))
    found = []
    for head in heads:
        group = members.get(head.cluster_id, [head]) if head.cluster_id else [head]
        cluster = clusters.get(head.cluster_id) if head.cluster_id else None
        others = sorted((m for m in group if m.id != head.id), key=lambda m: (m.when, m.id))
        updated = max(head.fetched_at, cluster.updated_at) if cluster else head.fetched_at
        found.append(
            Story(
                id=f"urn:ingestd:story:{min(m.id for m in group)}",
                canonical=head,
                excerpt=excerpt(texts.get(head.id, "")),
                updated=updated,
                canonical_reason=cluster.canonical_reason if cluster else None,
                republications=tuple(others),
            )
        )
    return found


def excerpt(text: str, words: int = EXCERPT_WORDS) -> str:
    """The first ``words`` words of ``text`` (an ellipsis marks a cut)."""
    split = text.split()
    return " ".join(split[:words]) + (" …" if len(split) > words else "")


def feed_title(selection: Selection) -> str:
    """The title of an exported feed."""
    if selection.feed_url:
        return f"ingestd: deduplicated stories carried by {selection.feed_url}"
    return "ingestd: deduplicated stories"


def feed_id(selection: Selection, served: Served | None) -> str:
    """The Atom feed's id: the served feed's home page (else ``urn:ingestd:``) + ``stories``,
    with the feed it is limited to; the same for every request whatever its ``since``/``limit``."""
    base = f"{served.home_url}stories" if served else "urn:ingestd:stories"
    return f"{base}?feed={selection.feed_url}" if selection.feed_url else base


def document(
    tx: Transaction,
    fmt: str,
    selection: Selection,
    served: Served | None = None,
    empty_updated: datetime | None = None,
) -> Document:
    """The selected stories in ``fmt`` (one of :data:`FORMATS`). ``empty_updated`` is an
    empty Atom feed's update time (default: now)."""
    if fmt not in FORMATS:
        raise UserError(f"export: unknown format {fmt!r} (expected one of {', '.join(FORMATS)})")
    found = stories(tx, selection)
    updated = max((s.updated for s in found), default=None)
    if fmt == "atom":
        now = empty_updated or _now()
        body = atom_document(found, feed_title(selection), served, now, feed_id(selection, served))
    elif fmt == "jsonfeed":
        data = json_feed_document(found, feed_title(selection), served)
        body = (json_text(data, indent=2) + "\n").encode("utf-8")
    else:
        body = "".join(json_line(story_object(s)) + "\n" for s in found).encode("utf-8")
    return Document(body, updated)


# --- entry points ------------------------------------------------------------------------------


def atom_feed(
    tx: Transaction,
    since: datetime | None = None,
    feed_url: str | None = None,
    limit: int | None = None,
    served: Served | None = None,
) -> bytes:
    """The selected stories as an Atom 1.0 document (UTF-8 bytes)."""
    return document(tx, "atom", Selection(since, feed_url, limit), served).body


def json_feed(
    tx: Transaction,
    since: datetime | None = None,
    feed_url: str | None = None,
    limit: int | None = None,
    served: Served | None = None,
) -> bytes:
    """The selected stories as a JSON Feed 1.1 document (UTF-8 bytes)."""
    return document(tx, "jsonfeed", Selection(since, feed_url, limit), served).body


def json_lines(
    tx: Transaction,
    since: datetime | None = None,
    feed_url: str | None = None,
    limit: int | None = None,
) -> bytes:
    """The selected stories as JSON Lines: one JSON Feed item object per line."""
    return document(tx, "jsonl", Selection(since, feed_url, limit)).body


def export_bytes(
    tx: Transaction, fmt: str, selection: Selection, served: Served | None = None
) -> bytes:
    """The selected stories in ``fmt`` (one of :data:`FORMATS`); ``served`` names where the
    file will be published (Atom ``rel="self"``, JSON Feed ``feed_url``)."""
    return document(tx, fmt, selection, served).body


def served_at(public_url: str) -> Served:
    """Where an exported file is published: its own URL, and the directory it sits in as the
    home page. UserError unless it is an absolute http(s) URL."""
    if web_url(public_url) is None or "//" not in public_url:
        raise UserError(f"export: --public-url {public_url!r} is not an absolute http(s) URL")
    return Served(public_url, public_url.rsplit("/", 1)[0] + "/")


def _now() -> datetime:
    return datetime.now(UTC)


# --- JSON Feed ---------------------------------------------------------------------------------


def json_feed_document(found: list[Story], title: str, served: Served | None) -> dict[str, Any]:
    """A JSON Feed 1.1 object for these stories."""
    document: dict[str, Any] = {"version": JSON_FEED_VERSION, "title": title}
    if served:
        document["home_page_url"] = served.home_url
        document["feed_url"] = served.self_url
    document["description"] = (
        "One item per story; the copies other outlets published are listed in "
        "each item's _ingestd.republications."
    )
    document["items"] = [story_object(s) for s in found]
    return document


def story_object(story: Story) -> dict[str, Any]:
    """A JSON Feed 1.1 item; keys without a value are left out, as the format asks."""
    head = story.canonical
    item = {
        "id": story.id,
        "url": web_url(head.url),
        "title": head.title or None,
        "summary": story.excerpt or None,
        "content_text": _text_content(story),
        "date_published": _iso(head.published_at) if head.published_at else None,
        "date_modified": _iso(story.updated),
        "authors": [{"name": _outlet(head)}] if _outlet(head) else None,
        "_ingestd": {
            "item_id": head.id,
            "cluster_id": head.cluster_id,
            "feed_url": head.feed_url,
            "site": head.site_host,
            "outlet": head.site_name,
            "canonical_reason": story.canonical_reason,
            "republications": [_republication(r) for r in story.republications],
        },
    }
    return {key: value for key, value in item.items() if value is not None}


def _republication(item: ItemRecord) -> dict[str, Any]:
    return {
        "url": web_url(item.url),
        "site": item.site_host,
        "outlet": item.site_name,
        "feed_url": item.feed_url,
        "published": _iso(item.when),
        "similarity": item.similarity,
        "similarity_measure": item.similarity_measure,
        "reason": item.link_reason or item.match_reason,
    }


def _text_content(story: Story) -> str:
    parts = [story.excerpt or story.canonical.title or web_url(story.canonical.url) or ""]
    if story.republications:
        parts.append("Also published by:")
        parts += [
            f"- {_label(r)}: {web_url(r.url) or '(no link)'} ({_human(r.when)})"
            for r in story.republications
        ]
    return "\n".join(parts)


# --- Atom --------------------------------------------------------------------------------------


def atom_document(
    found: list[Story],
    title: str,
    served: Served | None,
    now: datetime,
    identifier: str = "urn:ingestd:stories",
) -> bytes:
    """An Atom 1.0 document for these stories; ``now`` is its update time when it is empty."""
    feed = ET.Element("feed", {"xmlns": ATOM_NS, "xmlns:ingestd": INGESTD_NS})
    _sub(feed, "id", identifier)
    _sub(feed, "title", title)
    _sub(feed, "updated", _iso(max((s.updated for s in found), default=now)))
    _sub(_sub(feed, "author"), "name", "ingestd")
    _sub(feed, "generator", "ingestd")
    if served:
        ET.SubElement(feed, "link", rel="self", href=xml_safe(served.self_url))
        ET.SubElement(feed, "link", rel="alternate", href=xml_safe(served.home_url))
    for story in found:
        _atom_entry(feed, story)
    return xml_document(feed)


def _atom_entry(feed: ET.Element, story: Story) -> None:
    head = story.canonical
    entry = ET.SubElement(feed, "entry")
    _sub(entry, "id", story.id)
    _sub(entry, "title", head.title or head.url or "(untitled)")
    _sub(entry, "updated", _iso(story.updated))
    if head.published_at:
        _sub(entry, "published", _iso(head.published_at))
    if _outlet(head):
        _sub(_sub(entry, "author"), "name", _outlet(head) or "")
    if link := web_url(head.url):
        ET.SubElement(entry, "link", rel="alternate", type="text/html", href=xml_safe(link))
    for copy in story.republications:
        if link := web_url(copy.url):
            related = ET.SubElement(entry, "link", rel="related", href=xml_safe(link))
            related.set("title", xml_safe(_label(copy)))
            for name, value in _extension_attributes(copy).items():
                if name != "href":  # feedparser keeps every link with all its attributes
                    related.set(f"ingestd:{name}", value)
    if story.excerpt:
        _sub(entry, "summary", story.excerpt).set("type", "text")
    _sub(entry, "content", _html_content(story)).set("type", "html")
    if story.republications:
        wrapper = ET.SubElement(
            entry, "ingestd:republications", count=str(len(story.republications))
        )
        for copy in story.republications:
            ET.SubElement(wrapper, "ingestd:republication", _extension_attributes(copy))


def _extension_attributes(item: ItemRecord) -> dict[str, str]:
    values = _republication(item)
    values["href"] = values.pop("url")
    return {k: xml_safe(str(v)) for k, v in values.items() if v is not None}


def _html_content(story: Story) -> str:
    head = story.canonical
    parts = [f"<p>{html.escape(story.excerpt or head.title or '')}</p>"]
    if story.republications:
        rows = "".join(
            f"<li>{_html_link(r)}, {html.escape(_human(r.when))}</li>" for r in story.republications
        )
        parts.append(f"<p>Also published by:</p><ul>{rows}</ul>")
    return "".join(parts)


def _html_link(item: ItemRecord) -> str:
    """The outlet's label, linked to the copy when its URL is http(s)."""
    label = html.escape(_label(item))
    link = web_url(item.url)
    return f'<a href="{html.escape(link)}">{label}</a>' if link else label


def _sub(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = xml_safe(text)
    return element


# --- shared ------------------------------------------------------------------------------------


def _outlet(item: ItemRecord) -> str | None:
    return item.site_name or item.site_host


def _label(item: ItemRecord) -> str:
    """An outlet as people name it: "Name (host)", or whichever of the two is known."""
    if item.site_name and item.site_host and item.site_name != item.site_host:
        return f"{item.site_name} ({item.site_host})"
    return item.site_name or item.site_host or item.feed_url


def _iso(when: datetime) -> str:
    """RFC 3339 in UTC, to the second."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _human(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
