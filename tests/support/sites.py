"""End-to-end fixtures: an invented news world served over HTTP, and the real ``ingest`` CLI.

* :func:`build_world` writes four fictional outlets (feeds and article pages, one page template
  per outlet, prose generated from a seeded vocabulary) for a given base URL per outlet, plus
  the clusters and singletons the world should produce.
* :class:`WorldServer` serves a world's resources on a loopback address, either directly
  (``GET /path`` with a ``Host`` header) or as a plain forward proxy (``GET http://host/path``;
  ``CONNECT`` is refused with 405 unless :attr:`Site.connect` says otherwise). It answers
  conditional requests with 304 and logs every request with the status it got.
* :func:`run_ingest` runs ``python -m ingestd ...`` in a subprocess from the repository root.

Every name, place, person and text here is made up; proxy-mode hosts are under ``.example``.
"""

from __future__ import annotations

import email.utils
import html
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

REPO = Path(__file__).resolve().parents[2]
_LOCATION_ENV = ("STATE_DIRECTORY", "CONFIGURATION_DIRECTORY", "XDG_DATA_HOME", "XDG_CONFIG_HOME")

# --- running the CLI ----------------------------------------------------------------------


def run_ingest(
    args: Sequence[str],
    state_dir: Path,
    *,
    config: Path | None = None,
    env: dict[str, str] | None = None,
    timeout_s: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the real ``ingest`` command (``--config`` first if given) in the repository root.

    The environment is the test's own without any ``INGESTD_*`` variable or systemd/XDG
    location, plus
    ``INGESTD_STATE_DIR=state_dir`` and whatever ``env`` adds.
    """
    inherited = {k: v for k, v in os.environ.items() if k not in _LOCATION_ENV}
    env = {**{k: v for k, v in inherited.items() if not k.startswith("INGESTD_")}, **(env or {})}
    env["INGESTD_STATE_DIR"] = str(state_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "ingestd"]
    if config is not None:
        command += ["--config", str(config)]
    return subprocess.run(
        [*command, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


def json_lines(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The JSON Lines a ``--json`` command printed (it must have succeeded)."""
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def log_events(stderr: str) -> list[dict[str, Any]]:
    """The JSON log lines on a run's stderr (structlog renders JSON when not on a terminal)."""
    events = []
    for line in stderr.splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


# --- prose ----------------------------------------------------------------------------------


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_NOUNS = _words(
    "quay crane harbour council budget ferry warehouse tunnel orchard granary pasture reservoir "
    "tramline depot foundry bakery terrace workshop lighthouse chapel meadow viaduct kiln "
    "signal barge tender ledger ballot survey pension tariff levy contract inspector engineer "
    "surveyor trustee apprentice shepherd mason weaver cooper miller ropewalk boatyard sluice "
    "embankment culvert towpath cistern beacon marsh quarry spinney copse hamlet parish "
    "district committee tribunal registry archive museum library gallery theatre clinic "
    "hospice pharmacy schoolhouse playground allotment market fishery cannery brewery dairy "
    "creamery tannery sawmill timberyard coalyard gasworks pumphouse signalbox turntable"
)
_ADJS = _words(
    "amber brittle coastal dusty eastern frosty gravel hollow inland jagged knotted lofty "
    "modest narrow northern oaken patient quiet rusted sandy tidal upland vacant weathered "
    "yellow zealous ancient broad crimson damp elder faded granite humble iron juniper "
    "lantern marble nimble olive pewter rugged silver tawny umber velvet western willow"
)
_VERBS = _words(
    "approved delayed inspected rebuilt widened funded measured repainted relocated reopened "
    "drained extended surveyed replaced audited restored licensed leased shortened resurfaced "
    "reinforced dredged catalogued trimmed rewired insulated fenced graded mapped rerouted "
    "postponed doubled halved tendered shelved revived merged divided reclaimed"
)
_LINKS = _words("near beside beyond below above across behind along around within past")
_TIMES = (
    "before the spring tide",
    "after the harvest fair",
    "during the winter closure",
    "by the end of the quarter",
    "within eighteen months",
    "ahead of the regatta",
    "since the autumn floods",
    "until the lease expires",
    "over three weekends",
    "after a second inspection",
    "before the council recess",
    "during the night shifts",
)
_SYLLABLES = _words(
    "bar ton mel ford ash wick lin dale mor ven kel ris cal thorn brid gate holm stan "
    "wy rick ham ley bourne fen tal gar ros mund hilde orm sel"
)


class Prose:
    """Invented sentences and names from a seeded random source (one per story)."""

    def __init__(self, seed: str) -> None:
        self.rng = random.Random(seed)
        self.place = self.name(3)
        self.people = [f"{self.name(2)} {self.name(3)}" for _ in range(3)]

    def name(self, syllables: int) -> str:
        return "".join(self.rng.choice(_SYLLABLES) for _ in range(syllables)).capitalize()

    def _phrase(self) -> str:
        rng = self.rng
        words = [rng.choice(("the", "a", "one", "every")), rng.choice(_ADJS), rng.choice(_NOUNS)]
        if rng.random() < 0.4:
            words += ["of", rng.choice((self.place, rng.choice(_NOUNS)))]
        return " ".join(words)

    def sentence(self) -> str:
        rng = self.rng
        subject = rng.choice((self._phrase(), rng.choice(self.people), self.place + " council"))
        parts = [subject, rng.choice(_VERBS), self._phrase(), rng.choice(_LINKS), self._phrase()]
        if rng.random() < 0.5:
            parts.append(rng.choice(_TIMES))
        text = " ".join(parts)
        return text[0].upper() + text[1:] + "."

    def paragraph(self, words: int) -> str:
        sentences: list[str] = []
        while sum(len(s.split()) for s in sentences) < words:
            sentences.append(self.sentence())
        return " ".join(sentences)

    def quote(self) -> str:
        speaker = self.rng.choice(self.people)
        said = f"said {speaker}, who chairs the {self.place} trust"
        return f"“{self.sentence()} {self.sentence()}” {said}."

    def headline(self) -> str:
        text = f"{self.place} {self.rng.choice(_NOUNS)} {self.rng.choice(_VERBS)} {self._phrase()}"
        return text[0].upper() + text[1:]

    def story(self, paragraphs: int, words: int = 65) -> tuple[str, ...]:
        body = [self.paragraph(words) for _ in range(paragraphs)]
        body.insert(2, self.quote())
        return tuple(body)


# --- the world ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Outlet:
    key: str
    name: str
    base: str  # scheme://host[:port] of its pages, no trailing slash
    feed_format: str  # "rss" or "atom"
    validators: str  # "etag", "last-modified" or "both"

    @property
    def host(self) -> str:
        return urlsplit(self.base).netloc

    @property
    def credit_host(self) -> str:
        """The host as an attribution line names it ("www." for names, not for IP literals)."""
        return self.host if self.host[0].isdigit() else "www." + self.host

    @property
    def feed_url(self) -> str:
        feed_base = self.base.replace("https://", "http://", 1)
        return feed_base + ("/atom.xml" if self.feed_format == "atom" else "/feed.xml")


@dataclass(frozen=True)
class Story:
    key: str
    outlet: Outlet
    path: str
    title: str
    paragraphs: tuple[str, ...]
    published: datetime
    canonical: str | None = None  # the page's rel=canonical when not its own URL
    page_status: int = 200
    feed_content: tuple[str, ...] = ()  # the entry's own content (default: first sentence)

    @property
    def url(self) -> str:
        return self.outlet.base + self.path

    @property
    def guid(self) -> str:
        if self.outlet.feed_format == "atom":
            return f"tag:{self.outlet.key},2026:{self.key}"
        return f"{self.outlet.key}-2026-{self.key}"


@dataclass(frozen=True)
class Resource:
    status: int
    content_type: str
    body: bytes
    etag: str | None = None
    last_modified: str | None = None
    delay_s: float = 0.0  # slept before answering


@dataclass
class World:
    outlets: dict[str, Outlet]
    stories: dict[str, Story]
    feeds: list[tuple[str, str]]  # (name, url) in configuration order
    clusters: list[tuple[str, set[str]]]  # (canonical story key, member story keys)
    singles: set[str]
    resources: dict[str, Resource] = field(default_factory=dict)


BROKEN_FEED = "/sport/feed.xml"  # on the Gazette: HTTP 500
HTML_FEED = "/feeds/"  # on the Roundup: an HTML page, not a feed
BASE_TIME = datetime(2026, 3, 2, 6, 0, tzinfo=UTC)


def build_world(bases: dict[str, str]) -> World:
    """The world for ``bases`` (outlet key → base URL); texts do not depend on the URLs."""
    gazette = Outlet(
        "harbourgazette", "The Harbour Gazette", bases["harbourgazette"], "rss", "etag"
    )
    ledger = Outlet("valleyledger", "The Valley Ledger", bases["valleyledger"], "rss", "both")
    roundup = Outlet("dailyroundup", "Daily Roundup", bases["dailyroundup"], "rss", "etag")
    wire = Outlet("northwire", "Northwire", bases["northwire"], "atom", "last-modified")
    stories: list[Story] = []

    def add(key: str, outlet: Outlet, section: str, when: float, **kw: Any) -> Story:
        prose = Prose(kw.pop("seed", key))
        paragraphs = kw.pop("paragraphs", None) or prose.story(kw.pop("size", 6))
        story = Story(
            key,
            outlet,
            f"/{section}/2026/03/{key}",
            kw.pop("title", prose.headline()),
            paragraphs,
            BASE_TIME + timedelta(hours=when),
            **kw,
        )
        stories.append(story)
        return story

    # Story A: the Gazette's original, a full copy with an attribution line, an excerpt.
    original = add("quay-crane-dispute", gazette, "news", 2.0, size=7)
    add(
        "crane-row-reaches-valley",
        ledger,
        "news",
        6.5,
        title=Prose("a-copy").headline(),
        paragraphs=(
            *original.paragraphs,
            f"This article was originally published at {gazette.credit_host}",
        ),
    )
    add(
        "quay-crane-dispute-excerpt",
        roundup,
        "picks",
        3.5,
        title=original.title,
        paragraphs=(*original.paragraphs[:3], f"Read the full article at {original.url}"),
    )
    # Story B: a wire story and a copy whose rel=canonical points across sites to it.
    wire_story = add("tramline-depot-order", wire, "business", 1.0)
    add(
        "tram-depot-plan",
        gazette,
        "news",
        1.5,
        title=Prose("b-copy").headline(),
        paragraphs=wire_story.paragraphs,
        canonical=wire_story.url,
    )
    # Unrelated stories on every outlet's template, and an entry whose page is gone.
    for index, (outlet, section) in enumerate(
        [
            (gazette, "news"),
            (gazette, "culture"),
            (ledger, "news"),
            (ledger, "farming"),
            (wire, "politics"),
            (wire, "weather"),
            (roundup, "weekend"),
        ]
    ):
        add(f"{outlet.key}-local-{index}", outlet, section, 10.0 + index, size=5 + index % 3)
    gone = Prose("gone-page")
    add(
        "mill-sluice-repairs",
        ledger,
        "news",
        20.0,
        page_status=404,
        feed_content=(gone.paragraph(60), gone.paragraph(60)),
    )

    outlets = {o.key: o for o in (gazette, ledger, roundup, wire)}
    world = World(
        outlets=outlets,
        stories={story.key: story for story in stories},
        # The copies' feeds first: the full copy is stored before its original arrives.
        feeds=[(o.name, o.feed_url) for o in (ledger, roundup, wire, gazette)]
        + [
            ("Gazette sport", gazette.feed_url.replace("/feed.xml", BROKEN_FEED)),
            ("Roundup front page", roundup.feed_url.replace("/feed.xml", HTML_FEED)),
        ],
        clusters=[
            (
                "quay-crane-dispute",
                {"quay-crane-dispute", "crane-row-reaches-valley", "quay-crane-dispute-excerpt"},
            ),
            ("tramline-depot-order", {"tramline-depot-order", "tram-depot-plan"}),
        ],
        singles=set(),
    )
    clustered = set().union(*(members for _, members in world.clusters))
    world.singles = {key for key in world.stories if key not in clustered}
    _publish(world)
    return world


def _publish(world: World) -> None:
    for story in world.stories.values():
        if story.page_status == 200:
            body = render_page(story, world).encode("utf-8")
            world.resources[story.url] = Resource(200, "text/html; charset=utf-8", body)
    # The original arrives last: its copy is stored first, and the canonical choice re-decided.
    late = world.stories[world.clusters[0][0]].url
    world.resources[late] = replace(world.resources[late], delay_s=1.0)
    for outlet in world.outlets.values():
        mine = [s for s in world.stories.values() if s.outlet is outlet]
        newest = max(s.published for s in mine)
        body = (render_atom if outlet.feed_format == "atom" else render_rss)(outlet, mine)
        etag = f'"{outlet.key}-v1"' if outlet.validators in ("etag", "both") else None
        modified = (
            email.utils.format_datetime(newest, usegmt=True)
            if outlet.validators in ("last-modified", "both")
            else None
        )
        kind = "application/atom+xml" if outlet.feed_format == "atom" else "application/rss+xml"
        world.resources[outlet.feed_url] = Resource(200, kind, body.encode("utf-8"), etag, modified)
    broken, not_xml = world.feeds[-2][1], world.feeds[-1][1]
    world.resources[broken] = Resource(500, "text/plain", b"internal server error")
    roundup = world.outlets["dailyroundup"]
    front = next(s for s in world.stories.values() if s.outlet is roundup)
    world.resources[not_xml] = Resource(
        200, "text/html; charset=utf-8", render_page(front, world).encode("utf-8")
    )


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def render_page(story: Story, world: World) -> str:
    """The outlet's template around the story: menu, most-read box, newsletter, cookies, footer."""
    outlet = story.outlet
    furniture = Prose(outlet.key + "-template")
    most_read = [s for s in world.stories.values() if s.outlet is outlet][:4]
    menu = "".join(
        f'<li><a href="/{section}/">{section.title()}</a></li>'
        for section in ("news", "business", "culture", "sport", "weather")
    )
    links = "".join(f'<li><a href="{_e(s.url)}">{_e(s.title)}</a></li>' for s in most_read)
    body = "\n".join(f"<p>{_e(p)}</p>" for p in story.paragraphs)
    canonical = story.canonical or story.url
    byline = f"By {story.key.split('-')[0].title()} Desk, {story.published:%d %B %Y}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>{_e(story.title)} | {_e(outlet.name)}</title>
<meta property="og:title" content="{_e(story.title)}">
<meta property="og:site_name" content="{_e(outlet.name)}">
<meta property="article:published_time" content="{story.published.isoformat()}">
<link rel="canonical" href="{_e(canonical)}">
</head><body>
<header><a class="logo" href="/">{_e(outlet.name)}</a><nav><ul>{menu}</ul></nav></header>
<main>
<article>
<h1>{_e(story.title)}</h1>
<p class="byline">{_e(byline)}</p>
{body}
</article>
<aside class="most-read"><h2>Most read</h2><ol>{links}</ol></aside>
<aside class="newsletter"><h2>The morning letter</h2>
<p>{_e(furniture.paragraph(45))}</p><form><input type="email"><button>Sign up</button></form>
</aside>
</main>
<div class="cookie-notice"><p>We use cookies to remember your settings.</p><button>OK</button></div>
<footer><p>{_e(furniture.paragraph(50))}</p>
<p>&copy; 2026 {_e(outlet.name)}. All rights reserved.</p></footer>
</body></html>
"""


def _entry_content(story: Story) -> str:
    paragraphs = story.feed_content or (story.paragraphs[0].split(". ")[0] + ".",)
    return "".join(f"<p>{_e(p)}</p>" for p in paragraphs)


def render_rss(outlet: Outlet, stories: list[Story]) -> str:
    items = "".join(
        f"""
  <item>
    <title>{_e(s.title)}</title>
    <link>{_e(s.url)}</link>
    <guid isPermaLink="false">{_e(s.guid)}</guid>
    <pubDate>{email.utils.format_datetime(s.published, usegmt=True)}</pubDate>
    <description>{_e(_entry_content(s))}</description>
  </item>"""
        for s in stories
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<rss version="2.0"><channel>
  <title>{_e(outlet.name)}</title>
  <link>{_e(outlet.base)}/</link>
  <description>News from {_e(outlet.name)}</description>{items}
</channel></rss>
"""


def render_atom(outlet: Outlet, stories: list[Story]) -> str:
    newest = max(s.published for s in stories).isoformat()
    entries = "".join(
        f"""
  <entry>
    <title>{_e(s.title)}</title>
    <id>{_e(s.guid)}</id>
    <link rel="alternate" type="text/html" href="{_e(s.url)}"/>
    <published>{s.published.isoformat()}</published>
    <updated>{s.published.isoformat()}</updated>
    <summary type="html">{_e(_entry_content(s))}</summary>
  </entry>"""
        for s in stories
    )
    return f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>{_e(outlet.name)}</title>
  <id>tag:{outlet.key},2026:feed</id>
  <updated>{newest}</updated>
  <link rel="alternate" href="{_e(outlet.base)}/"/>
  <link rel="self" href="{_e(outlet.feed_url)}"/>{entries}
</feed>
"""


# --- serving --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Logged:
    """One request as the server saw it; header names are lower-cased."""

    method: str
    target: str  # as received: a path, an absolute URL (proxy) or host:port (CONNECT)
    url: str  # the absolute URL it asked for
    headers: dict[str, str]
    status: int

    @property
    def conditional(self) -> bool:
        return "if-none-match" in self.headers or "if-modified-since" in self.headers


class Site:
    """What every server of one test serves, and one request log for all of them."""

    def __init__(self) -> None:
        self.resources: dict[str, Resource] = {}
        self.log: list[Logged] = []
        self.lock = threading.Lock()
        # How CONNECT is answered: an HTTP status ("405"), "hangup" (close without a word) or
        # "plain" (200, then plain HTTP inside the "tunnel", so the TLS handshake fails).
        self.connect = "405"

    def answer(
        self, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, Resource | None]:
        """The status for a request (and the resource, if any), logged."""
        resource = None
        if method == "CONNECT":  # a plain forward proxy: no real tunnels
            url = target
            special = {"hangup": 0, "plain": 200}
            status = special[self.connect] if self.connect in special else int(self.connect)
        else:
            url = target if "://" in target else f"http://{headers.get('host', '')}{target}"
            resource = self.resources.get(url)
            status = 404 if resource is None else resource.status
            if resource is not None and status == 200 and _not_modified(resource, headers):
                status = 304
        with self.lock:
            self.log.append(Logged(method, target, url, headers, status))
        return status, resource

    def since(self, mark: int) -> list[Logged]:
        with self.lock:
            return list(self.log[mark:])


def _not_modified(resource: Resource, headers: dict[str, str]) -> bool:
    if "if-none-match" in headers:  # RFC 9110: If-None-Match wins over If-Modified-Since
        tags = [tag.strip() for tag in headers["if-none-match"].split(",")]
        return resource.etag is not None and resource.etag in tags
    since = headers.get("if-modified-since")
    if since is None or resource.last_modified is None:
        return False
    try:
        asked = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    return email.utils.parsedate_to_datetime(resource.last_modified) <= asked


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Each write leaves at once, as from a web server: with Nagle on, a body written after
        # its headers waits for the client's delayed ACK, 40 ms a request on a reused connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        headers = {k.lower(): v for k, v in self.headers.items()}
        status, resource = self.server.site.answer(self.command, self.path, headers)
        if resource is not None and resource.delay_s:
            time.sleep(resource.delay_s)
        if self.command == "CONNECT":
            self._no_tunnel(status)
            return
        body = resource.body if resource is not None and status != 304 else b""
        if resource is None:
            body = b"not found"
        self.send_response(status)
        if resource is not None:
            self.send_header("Content-Type", resource.content_type)
            if resource.etag:
                self.send_header("ETag", resource.etag)
            if resource.last_modified:
                self.send_header("Last-Modified", resource.last_modified)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _no_tunnel(self, status: int) -> None:
        self.close_connection = True
        if status == 0:
            return  # hang up
        if status == 200:  # "tunnel" open: read the ClientHello, answer in plain HTTP
            self.wfile.write(b"HTTP/1.1 200 Connection established\r\n\r\n")
            self.wfile.flush()
            self.connection.recv(65536)
            self.wfile.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
            return
        self.send_response(status)
        if status == 407:
            self.send_header("Proxy-Authenticate", 'Basic realm="world"')
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_CONNECT = _serve  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, site: Site, host: str) -> None:
        super().__init__((host, 0), _Handler)
        self.site = site

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients that hang up early are not the test's concern."""


class WorldServer:
    """A threaded HTTP server for ``site`` on ``host`` (a loopback address), ephemeral port."""

    def __init__(self, site: Site, host: str = "127.0.0.1") -> None:
        self._server = _Server(site, host)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> WorldServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
