"""A large generated news world for crash tests and the soak benchmark.

``feeds`` outlets each publish a numbered sequence of stories (story ``j`` of feed ``i`` is the
same text every time it is rendered: invented prose seeded by ``(seed, i, j)``). Every
``COPY_EVERY``-th story of a feed is also carried by the next feed, as a full copy with an
attribution line, so dedup has clusters to build. A feed document lists a window of its
stories (newest first); pages are article HTML with a per-outlet template around them.

* :func:`write_files` writes a static world as ``file:`` feeds and pages (crash test);
* :class:`LiveWorld` renders documents on demand from the clock, so feeds keep changing
  (soak benchmark; served by ``bench/soak.py``).

Every name and text here is made up.
"""

from __future__ import annotations

import email.utils
import html
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path

from tests.support.sites import Prose

COPY_EVERY = 4  # story j with j % COPY_EVERY == 0 is carried by the next feed too
BASE_TIME = datetime(2026, 1, 5, 6, 0, tzinfo=UTC)


@dataclass(frozen=True)
class Entry:
    """One entry of a feed document: its own story, or a copy of the previous feed's."""

    feed: int
    story: int  # the story's number in its origin feed
    origin: int  # the feed that published the story first
    published: datetime

    @property
    def guid(self) -> str:
        return f"outlet-{self.feed}-story-{self.origin}-{self.story}"

    @property
    def path(self) -> str:
        return f"/outlet-{self.feed}/{self.origin}-{self.story}.html"


def entries(feeds: int, feed: int, newest: int, window: int) -> list[Entry]:
    """The entries feed ``feed`` lists when its newest own story is ``newest`` (newest first):
    its own stories ``newest - window + 1 .. newest`` plus the copies of the previous feed's."""
    found: list[Entry] = []
    previous = (feed - 1) % feeds
    for story in range(max(0, newest - window + 1), newest + 1):
        when = BASE_TIME + timedelta(minutes=10 * story + feed)
        found.append(Entry(feed, story, feed, when))
        if feeds > 1 and story % COPY_EVERY == 0:
            found.append(Entry(feed, story, previous, when + timedelta(minutes=3)))
    return sorted(found, key=lambda e: e.published, reverse=True)


@lru_cache(maxsize=512)
def story_text(seed: int, origin: int, story: int) -> tuple[str, tuple[str, ...]]:
    """The title and paragraphs of a story (the same for every carrier)."""
    prose = Prose(f"{seed}-{origin}-{story}")
    size = 4 + random.Random(f"{seed}:{origin}:{story}").randint(0, 4)
    return prose.headline(), prose.story(size, words=55)


def render_page(seed: int, entry: Entry, base: str) -> bytes:
    title, paragraphs = story_text(seed, entry.origin, entry.story)
    if entry.origin != entry.feed:
        credit = f"outlet-{entry.origin}.example"
        paragraphs = (*paragraphs, f"This article was originally published at www.{credit}")
    furniture = Prose(f"template-{entry.feed}")
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)} | Outlet {entry.feed}</title>
<meta property="og:site_name" content="Outlet {entry.feed}">
<meta property="article:published_time" content="{entry.published.isoformat()}">
<link rel="canonical" href="{html.escape(base + entry.path)}">
</head><body>
<header><a href="/">Outlet {entry.feed}</a>
<nav><a href="/news/">News</a> <a href="/sport/">Sport</a></nav></header>
<main><article><h1>{html.escape(title)}</h1>
<p class="byline">By the news desk, {entry.published:%d %B %Y}</p>
{body}
</article>
<aside><h2>Newsletter</h2><p>{html.escape(furniture.paragraph(40))}</p></aside></main>
<footer><p>{html.escape(furniture.paragraph(30))}</p><p>&copy; 2026 Outlet {entry.feed}</p></footer>
</body></html>
""".encode()


def render_feed(feed: int, items: list[Entry], base: str, seed: int) -> bytes:
    rows = []
    for entry in items:
        title, paragraphs = story_text(seed, entry.origin, entry.story)
        summary = html.escape(f"<p>{html.escape(paragraphs[0][:200])}</p>")
        rows.append(
            f"<item><title>{html.escape(title)}</title>"
            f"<link>{html.escape(base + entry.path)}</link>"
            f'<guid isPermaLink="false">{entry.guid}</guid>'
            f"<pubDate>{email.utils.format_datetime(entry.published, usegmt=True)}</pubDate>"
            f"<description>{summary}</description></item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        f"<title>Outlet {feed}</title><link>{html.escape(base)}/</link>"
        f"<description>News from outlet {feed}</description>{''.join(rows)}</channel></rss>\n"
    ).encode()


def write_files(folder: Path, feeds: int, stories: tuple[int, ...], seed: int = 1) -> list[str]:
    """A static world under ``folder``: feed ``i`` lists its ``stories[i]`` stories (and the
    copies); returns the feed URLs (``file:``). Every listed entry must end up stored once."""
    urls = []
    for feed in range(feeds):
        base = (folder / f"site-{feed}").as_uri()
        listed = entries(feeds, feed, stories[feed] - 1, stories[feed])
        for entry in listed:
            page = folder / f"site-{feed}" / entry.path.lstrip("/")
            page.parent.mkdir(parents=True, exist_ok=True)
            page.write_bytes(render_page(seed, entry, base))
        feed_file = folder / f"site-{feed}" / "feed.xml"
        feed_file.write_bytes(render_feed(feed, listed, base, seed))
        urls.append(feed_file.as_uri())
    return urls


class LiveWorld:
    """Feeds that gain a story every ``period_s`` seconds (each feed offset a little) and list
    the newest ``window`` of them; documents are rendered on request."""

    def __init__(
        self, feeds: int, bases: list[str], period_s: float, window: int = 20, seed: int = 1
    ) -> None:
        self.feeds = feeds
        self.bases = bases  # per feed: scheme://host:port
        self.period_s = period_s
        self.window = window
        self.seed = seed
        self.started = datetime.now(UTC)

    def newest(self, feed: int, now: datetime | None = None) -> int:
        elapsed = ((now or datetime.now(UTC)) - self.started).total_seconds()
        offset = self.period_s * feed / max(self.feeds, 1)
        return self.window - 1 + max(0, int((elapsed + offset) // self.period_s))

    def feed_document(self, feed: int) -> tuple[bytes, str]:
        """The feed's current document and its ETag."""
        newest = self.newest(feed)
        body = render_feed(
            feed, entries(self.feeds, feed, newest, self.window), self.bases[feed], self.seed
        )
        return body, f'"{feed}-{newest}"'

    def page(self, feed: int, origin: int, story: int) -> bytes | None:
        if story > self.newest(origin) + 1 or story < 0:
            return None
        when = BASE_TIME + timedelta(minutes=10 * story + feed)
        if origin != feed:
            when += timedelta(minutes=3)
        return render_page(self.seed, Entry(feed, story, origin, when), self.bases[feed])
