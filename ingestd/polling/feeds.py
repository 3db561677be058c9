"""Feed management: ``ingest feeds list/add/remove/import/export``.

The database holds the one feed list. ``[[feeds]]`` of the configuration file are synced into it
first (every command here and every start does it): added, renamed, re-timed, and deactivated
once dropped from the file. Only a configuration file read changes them: a command that found
none leaves them alone. Feeds added here are ``source='cli'`` and stay until ``feeds
remove``; a feed listed in the file can only be removed there. Removing deactivates: items stay.

``feeds add`` checks the URL first (``--no-check`` skips it): a feed is added as is; an HTML
page is searched for ``<link rel="alternate">`` feeds and the first one that parses is added.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ingestd.config import HttpSettings, Settings, header_pair, parse_duration_s
from ingestd.errors import NotFoundError, UserError
from ingestd.model import FeedOptions, Fetched, FetchResult, ParsedFeed
from ingestd.parse.opml import OpmlDocument, OpmlError, Outline, read_opml, url_problem
from ingestd.store import FeedRecord, Transaction
from ingestd.store.subscriptions import CONFIG, find_feed, subscribe, unsubscribe

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/rdf+xml, application/feed+json,"
    " application/xml;q=0.9, text/xml;q=0.8, application/json;q=0.8, text/html;q=0.7,"
    " */*;q=0.5"
)
MAX_CANDIDATES = 3  # feeds announced by a page that are tried, in order


@dataclass(frozen=True)
class Checked:
    """A URL confirmed to be a feed: the URL to store, its title, the page it was found on."""

    url: str
    title: str | None = None
    found_on: str | None = None


# --- arguments ---------------------------------------------------------------------------------


def command_line_url(text: str) -> str:
    """A feed URL typed by the operator: http(s) (``https://`` assumed without a scheme) or
    ``file:`` (relative paths are relative to the working directory); UserError otherwise."""
    text = text.strip()
    if text.startswith("file:"):
        if text.startswith("file://"):
            return text
        return Path(text[len("file:") :]).resolve().as_uri()
    if "://" not in text:
        text = "https://" + text
    problem = url_problem(text)
    if problem is not None:
        raise UserError(f"feeds: {problem.replace('xmlUrl', 'URL')}")
    return text


def interval_s(text: str | None) -> float | None:
    """``--interval`` in seconds (``"30m"``, ``"2h"``, ``3600``); UserError when unreadable."""
    if text is None:
        return None
    try:
        return parse_duration_s(int(text) if text.isdigit() else text)
    except ValueError as exc:
        raise UserError(f"feeds add: --interval: {exc}") from None


# --- checking a URL ----------------------------------------------------------------------------


def check_feed(url: str, http: HttpSettings, options: FeedOptions | None = None) -> Checked:
    """Fetch ``url`` (with the feed's own settings) and return the feed to subscribe to (it,
    or a feed its page links to).

    UserError when it cannot be fetched, or is neither a feed nor a page linking to one.
    """
    return asyncio.run(_check(url, http, options or FeedOptions()))


async def _check(url: str, http: HttpSettings, options: FeedOptions) -> Checked:
    from ingestd.fetch import Fetcher  # aiohttp and the parsers: only for a command that checks
    from ingestd.parse.discover import decode_html, feed_links
    from ingestd.parse.feed import parse_feed

    async with Fetcher(http) as fetcher:
        private = options.allow_private_networks
        first = await fetcher.fetch(url, accept=FEED_ACCEPT, allow_private=private, options=options)
        page = _fetched(url, first)
        parsed = parse_feed(page.body, page.url, page.content_type)
        if isinstance(parsed, ParsedFeed):
            return Checked(url, parsed.title or None)
        candidates = feed_links(decode_html(page.body, page.content_type), page.url)
        if not candidates:
            raise UserError(
                f"feeds add: {url} is not an RSS, Atom or JSON feed and links to none "
                '(no <link rel="alternate"> feed); use --no-check to add it anyway'
            )
        reasons = []
        for candidate in candidates[:MAX_CANDIDATES]:
            result = await fetcher.fetch(
                candidate, accept=FEED_ACCEPT, allow_private=private, options=options
            )
            if not isinstance(result, Fetched):
                reasons.append(f"{candidate}: {getattr(result, 'reason', 'not modified')}")
                continue
            found = parse_feed(result.body, result.url, result.content_type)
            if isinstance(found, ParsedFeed):
                return Checked(candidate, found.title or None, found_on=url)
            reasons.append(f"{candidate}: {found.reason}")
    raise UserError(f"feeds add: {url} links to no readable feed ({'; '.join(reasons)})")


def _fetched(url: str, result: FetchResult) -> Fetched:
    if isinstance(result, Fetched):
        return result
    reason = getattr(result, "reason", "HTTP 304 without a request for it")
    raise UserError(f"feeds add: cannot fetch {url}: {reason} (use --no-check to add it anyway)")


# --- changes -----------------------------------------------------------------------------------


def sync_config(tx: Transaction, settings: Settings) -> None:
    """Bring the configured ``[[feeds]]`` into the database (as every start does), when a
    configuration file was read: without one there is no list to sync, and the configured
    feeds stored (a daemon's, from its file) are left as they are."""
    if settings.owns_feeds:
        tx.sync_feeds(settings.feeds, datetime.now(UTC))


def refuse_duplicate(tx: Transaction, settings: Settings, url: str) -> None:
    """UserError when ``url`` is already an active feed (from the file or the command line)."""
    sync_config(tx, settings)
    existing = find_feed(tx, url)
    if existing is None or not existing.active:
        return
    if existing.source == CONFIG:
        raise UserError(f"feeds add: {url} is already subscribed in {_where(settings)}")
    raise UserError(f"feeds add: {url} is already subscribed (ingest feeds list)")


def add(
    tx: Transaction,
    settings: Settings,
    checked: Checked,
    name: str | None = None,
    every_s: float | None = None,
    options: FeedOptions | None = None,
) -> FeedRecord:
    """Subscribe to ``checked.url`` as a command-line feed (re-activating it if it was removed),
    with its own settings."""
    refuse_duplicate(tx, settings, checked.url)
    now = datetime.now(UTC)
    return subscribe(
        tx, checked.url, now, name=name, interval_s=every_s, title=checked.title, options=options
    )


def feed_options(
    user_agent: str | None,
    fetch_pages: bool | None,
    favor: str | None,
    allow_private: bool | None,
    headers: tuple[str, ...],
) -> FeedOptions:
    """``feeds add`` options as a feed's settings; ``headers`` are ``"Name: value"`` strings.
    UserError naming the option (never a header's value) when one is unusable."""
    pairs = []
    for header in headers:
        name, colon, value = header.partition(":")
        try:
            if not colon:
                raise ValueError('expected "Name: value"')
            pairs.append(header_pair(name.strip(), value.strip()))
        except ValueError as exc:
            raise UserError(f"feeds add: --header {name.strip()!r}: {exc}") from None
    if user_agent is not None and any(ord(ch) < 32 or ord(ch) == 127 for ch in user_agent):
        raise UserError("feeds add: --user-agent: control characters are not allowed")
    return FeedOptions(user_agent, fetch_pages, favor, allow_private, tuple(pairs))


def remove(tx: Transaction, settings: Settings, url: str) -> FeedRecord:
    """Stop polling a command-line feed; its items stay. A configured feed is refused."""
    sync_config(tx, settings)
    feed = find_feed(tx, url)
    configured = {f.url for f in settings.feeds}
    if url in configured or (feed is not None and feed.active and feed.source == CONFIG):
        raise UserError(
            f"feeds remove: {url} is listed in {_where(settings)}; "
            "delete its [[feeds]] entry there instead"
        )
    if feed is None or not feed.active:
        raise NotFoundError(f"feeds remove: no subscribed feed {url} (see `ingest feeds list`)")
    unsubscribe(tx, feed.id)
    return feed


def read_opml_file(path: Path) -> OpmlDocument:
    """Read an OPML file; UserError naming the file (and the line) when it cannot be used."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"feeds import: {path}: file not found") from None
    except IsADirectoryError:
        raise UserError(f"feeds import: {path}: is a directory, not an OPML file") from None
    except OSError as exc:
        raise UserError(f"feeds import: {path}: {exc.strerror or exc}") from None
    try:
        return read_opml(data)
    except OpmlError as exc:
        raise UserError(f"feeds import: {path}:{exc.line}: {exc.message}") from None


def _where(settings: Settings) -> str:
    return str(settings.source) if settings.source else "the configuration file"


# --- reads -------------------------------------------------------------------------------------


def list_feeds(
    tx: Transaction,
    settings: Settings,
    everything: bool = False,
    folder: str | None = None,
    limit: int | None = None,
) -> tuple[list[FeedRecord], int]:
    """Active feeds (all feeds with ``everything``), in the order they were added, the first
    ``limit`` of them; with ``folder``, those in that folder or one inside it ("News" also
    lists "News/Local"). Also how many there are in all."""
    sync_config(tx, settings)
    wanted = folder.strip("/") if folder is not None else None
    active_only = not everything
    found = tx.feeds(active_only=active_only, folder=wanted, limit=limit)
    total = len(found) if limit is None else tx.count_feeds(active_only, wanted)
    return found, total


def outlines(feeds: list[FeedRecord]) -> list[Outline]:
    """The OPML outlines of these feeds: labelled by name, else title, else URL, in their
    folders, with the outline text they were imported with."""
    return [
        Outline(f.url, f.name or f.title or f.url, f.site_url, f.folder, f.opml_text) for f in feeds
    ]


def feed_object(feed: FeedRecord, items: int | None = None) -> dict[str, Any]:
    """The JSON object of one feed (``feeds list --json``); ``items`` is its stored item count."""
    return {
        "url": feed.url,
        "name": feed.name,
        "title": feed.title,
        "source": feed.source,
        "active": feed.active,
        "status": feed.status,
        "last_error": feed.last_error,
        "failures": feed.consecutive_failures,
        "interval_s": feed.interval_s,
        "next_poll": feed.next_poll_at.isoformat() if feed.next_poll_at else None,
        "last_polled": feed.last_polled_at.isoformat() if feed.last_polled_at else None,
        "failure_kind": feed.failure_kind,
        "not_before": feed.not_before_at.isoformat() if feed.not_before_at else None,
        "aliases": list(feed.aliases),
        "items": items,
        "folder": feed.folder,
        "settings": feed.options.public(),  # request headers are never shown
    }
