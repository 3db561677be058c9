"""A loopback replay world: real article pages, synthetic republished copies, one forward proxy.

The world is built at run time from the shared corpus (``$INGESTD_CORPUS``, default
``<repo>/../shared/corpus``); nothing from the corpus is stored in the repository.

* Originals: the saved pages of ``pages/manifest.json`` whose text (trafilatura) has at least
  ``min_words`` words, each served at its real URL (the manifest ``url``, cleaned: see
  :func:`clean_url`). They are grouped into RSS 2.0 feeds by host (one feed per host at
  ``<scheme>://<host>/feed/replay.xml``); when there are too few hosts, they are spread
  round-robin over pseudo-outlet feeds ``http://outlet-K.example/feed.xml``.
* Copies: a seeded ~30% of the originals get one republished copy on a synthetic outlet
  ``http://republisher-N.example/``. Every outlet has its own page template (header, menu,
  sidebar, footer identical on all its pages). The copy's body is the original's extracted text
  (split on newlines) wrapped as ``<article><h1>..</h1><p>..</p>...</article>``, in one of four
  patterns (see :data:`PATTERNS`). Copies are always published after their original.
* Feed order: original feeds shuffled, then each outlet's main feed; 30% of the copies sit
  alone in a tag feed of their outlet listed before their original's feed.
* Real republications inside the corpus (:data:`KNOWN_REPUBLICATIONS`) are labelled as copies.
* ``labels.json``: for every page URL its story id and whether it is the original.
* :class:`ReplayProxy`: a forward HTTP proxy on 127.0.0.1 that serves the world for requests in
  absolute form (``GET http://host/path`` and ``GET https://host/path``), answers ``CONNECT``
  with 405 (ingestd then retries https in absolute form) and logs every request.

CLI::

    python -m bench.replay --pages 100 --seed 1 --out bench/out/world   # build, print summary
    python -m bench.replay --pages 100 --serve                          # build and serve
"""

from __future__ import annotations

import argparse
import contextlib
import email.utils
import hashlib
import html
import json
import os
import random
import re
import socket
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import quote, unquote, urlsplit, urlunsplit

REPO = Path(__file__).resolve().parent.parent
BENCH_OUT = REPO / "bench" / "out"
CORPUS_ENV = "INGESTD_CORPUS"
MIN_WORDS = 150
MIN_DISTINCT_WORDS = 60  # below this the "text" is repeated junk (e.g. PHP warnings only)
COPY_SHARE = 0.30  # copies per original (0.3: 30% of originals get one; 1.5: all one, half two)
BEFORE_SHARE = 0.30  # share of copies whose feed is listed before their original's feed
NO_DATE_SHARE = 0.30  # share of signalled copies (not no_signal) without a pubDate
MIN_FEEDS = 50
N_REPUBLISHERS = 10  # at least this many republisher outlets
COPIES_PER_OUTLET = 6  # more outlets when there are more copies than this per outlet

#: Real republications inside the corpus itself (copy file -> original file), found by reading
#: every pair of pages with shared 5-grams: 129 (djz.de) carries the press release 244
#: (jagdverband.de) in indirect speech, with a press-release sign-off. When both are chosen, 129 is
#: labelled a copy of 244's story and published after it; it never gets a synthetic copy.
KNOWN_REPUBLICATIONS = {"129.html": "244.html"}

#: The republication patterns, in the order they are dealt out.
PATTERNS = (
    "attribution",  # full copy + "This article was originally published at <host>"
    "excerpt",  # title + first 2-4 paragraphs + "Read the full article at <URL>"
    "edited_canonical",  # new headline, one paragraph dropped, byline added, rel=canonical
    "no_signal",  # full copy, no signal at all, published later
)
_WORD = re.compile(r"\w+", re.UNICODE)
_XML_BAD = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


class CorpusMissing(SystemExit):
    """The shared corpus is not where it should be (exit status 2 with a clear message)."""


def corpus_dir() -> Path:
    """``$INGESTD_CORPUS`` or ``<repo>/../shared/corpus``; exits with a message if absent."""
    root = Path(os.environ.get(CORPUS_ENV) or REPO.parent / "shared" / "corpus")
    manifest = root / "pages" / "manifest.json"
    if not manifest.is_file():
        raise CorpusMissing(
            f"replay: corpus not found: {manifest} does not exist.\n"
            f"Set {CORPUS_ENV} to the folder holding pages/manifest.json "
            "(the shared corpus is never copied into this repository)."
        )
    return root


# --------------------------------------------------------------------------- originals


@dataclass(frozen=True)
class Page:
    """One usable original page."""

    file: str  # NNN.html
    raw_url: str  # the manifest's url, as given
    url: str  # the address it is served at (see clean_url)
    url_synthesized: bool  # True when the manifest had no real URL ("hard::...")
    title: str  # from <title> (trafilatura's title if there is none)
    headline: str  # trafilatura's title (og:title, <h1>, ...), else <title>
    text: str  # trafilatura's text, paragraphs separated by newlines
    words: int

    @property
    def story(self) -> str:
        return "s" + self.file.split(".")[0]

    @property
    def paragraphs(self) -> list[str]:
        return [line.strip() for line in self.text.splitlines() if line.strip()]


def clean_url(raw: str) -> tuple[str, bool]:
    """The ASCII URL a manifest entry is served at, and whether it had to be made up.

    Trailing spaces are stripped; ``xhttps://`` becomes ``https://``; an inner space before a
    query (``news-artikel tx_news...``) becomes ``?``; an IDN host is IDNA-encoded and non-ASCII
    path characters percent-encoded. ``hard::host.tld-slug.html`` (no URL in the evaluation set)
    becomes ``https://host.tld/slug``.
    """
    url = raw.strip()
    made_up = False
    if url.startswith("hard::"):
        name = url[len("hard::") :].removesuffix(".html")
        host, _, slug = name.partition("-")
        labels = host.split(".")
        while len(labels) > 2 and not labels[-1].islower():
            slug = labels.pop() + ("-" + slug if slug else "")
        url = f"https://{'.'.join(labels).lower()}/{slug or 'article'}"
        made_up = True
    if url.startswith("xhttps://"):
        url = url[1:]
    if " " in url:
        url = url.replace(" ", "?" if "?" not in url else "%20", 1).replace(" ", "%20")
    parts = urlsplit(url)
    host = (parts.hostname or "").encode("idna").decode("ascii")
    netloc = host + (f":{parts.port}" if parts.port else "")
    path = quote(parts.path, safe="/%:@!$&'()*+,;=-._~")
    query = quote(parts.query, safe="=&%:/?@!$'()*+,;-._~")
    return urlunsplit((parts.scheme.lower(), netloc, path or "/", query, "")), made_up


def route_key(url: str) -> str:
    """How the proxy looks a URL up: host (no default port) + unquoted path and query.

    The scheme is ignored (http and https of one address are the same resource here), dot
    segments are removed and a trailing slash does not count (httpx sends ``/a/b/.`` as
    ``/a/b``).
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    with contextlib.suppress(UnicodeError):
        host = host.encode("idna").decode("ascii")
    port = parts.port if parts.port not in (None, 80, 443) else None
    path = _remove_dot_segments(unquote(parts.path or "/")).rstrip("/")
    key = host + (f":{port}" if port else "") + (path or "/")
    return key + ("?" + unquote(parts.query) if parts.query else "")


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, as HTTP clients apply it: ``/a/b/./`` and ``/a/b/.`` are ``/a/b/``."""
    out: list[str] = []
    segments = path.split("/")
    for index, segment in enumerate(segments):
        last = index == len(segments) - 1
        if segment == ".":
            if last:
                out.append("")
        elif segment == "..":
            if len(out) > 1:
                out.pop()
            if last:
                out.append("")
        else:
            out.append(segment)
    return "/".join(out) or "/"


def _page_title(body: bytes) -> str:
    from trafilatura.utils import decode_file

    text = decode_file(body)
    match = re.search(r"<title[^>]*>(.*?)</title>", text, re.IGNORECASE | re.DOTALL)
    title = html.unescape(match.group(1)) if match else ""
    return " ".join(title.split())


def _extract_one(args: tuple[str, str, str]) -> dict[str, object]:
    """Worker: trafilatura text and <title> of one saved page (same call ingestd makes)."""
    import trafilatura

    path, url, sha = args
    body = Path(path).read_bytes()
    try:
        doc = trafilatura.bare_extraction(
            body,
            url=url,
            with_metadata=True,
            include_comments=False,
            date_extraction_params={"extensive_search": False, "original_date": True},
        )
    except Exception:  # a page trafilatura cannot read is simply not usable
        doc = None
    text = str(getattr(doc, "text", "") or "") if doc is not None else ""
    lines = (" ".join(line.split()) for line in text.splitlines())
    text = "\n".join(line for line in lines if line)
    extracted_title = str(getattr(doc, "title", "") or "") if doc is not None else ""
    return {
        "sha": sha,
        "text": text,
        "page_title": _page_title(body),
        "title": " ".join(extracted_title.split()),
    }


def load_pages(
    corpus: Path,
    limit: int | None = None,
    seed: int = 1,
    min_words: int = MIN_WORDS,
    cache_dir: Path | None = BENCH_OUT / "cache",
    workers: int | None = None,
) -> tuple[list[Page], list[dict[str, object]]]:
    """Usable original pages (``limit`` of them, a seeded sample, in file order) and the skipped.

    A page is usable when trafilatura extracts at least ``min_words`` words from it, of which at
    least :data:`MIN_DISTINCT_WORDS` distinct (page 357's "text" is four PHP warnings).

    Extraction results are cached per page content and trafilatura version in ``cache_dir``
    (git-ignored) so repeated world builds are quick.
    """
    import trafilatura

    manifest = json.loads((corpus / "pages" / "manifest.json").read_text("utf-8"))
    cache_path = None
    cache: dict[str, dict[str, object]] = {}
    if cache_dir is not None:
        cache_path = cache_dir / f"extract-v2-trafilatura-{trafilatura.__version__}.json"
        if cache_path.is_file():
            cache = json.loads(cache_path.read_text("utf-8"))
    jobs = []
    for entry in manifest:
        path = corpus / "pages" / entry["file"]
        sha = hashlib.sha256(path.read_bytes()).hexdigest()
        url, _ = clean_url(entry["url"])
        if cache.get(entry["file"], {}).get("sha") != sha:
            jobs.append((str(path), url, sha))
    if jobs:
        with ProcessPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
            for (path, _, _), result in zip(
                jobs, pool.map(_extract_one, jobs, chunksize=4), strict=True
            ):
                cache[Path(path).name] = result
        if cache_path is not None:
            cache_path.parent.mkdir(parents=True, exist_ok=True)
            cache_path.write_text(json.dumps(cache), "utf-8")
    usable: list[Page] = []
    skipped: list[dict[str, object]] = []
    for entry in manifest:
        found = cache[entry["file"]]
        text = str(found["text"])
        tokens = _WORD.findall(text)
        words, distinct = len(tokens), len({t.lower() for t in tokens})
        if words < min_words or distinct < MIN_DISTINCT_WORDS:
            skipped.append(
                {
                    "file": entry["file"],
                    "url": entry["url"],
                    "words": words,
                    "distinct_words": distinct,
                }
            )
            continue
        url, made_up = clean_url(entry["url"])
        page_title, headline = str(found["page_title"]), str(found["title"])
        usable.append(
            Page(
                entry["file"],
                entry["url"],
                url,
                made_up,
                page_title or headline or url,
                headline or page_title or url,
                text,
                words,
            )
        )
    if limit is not None and limit < len(usable):
        chosen = set(random.Random(f"pages:{seed}").sample(range(len(usable)), limit))
        usable = [page for index, page in enumerate(usable) if index in chosen]
    return usable, skipped


# --------------------------------------------------------------------------- templates

_NAMES = [
    "The Morning Relay",
    "Civic Ledger Online",
    "Northfield Post-Courier",
    "Open Wire Digest",
    "The Commons Review",
    "Harbor Lights News",
    "Metro Dispatch Daily",
    "The Plainview Herald",
    "Signal & Noise Magazine",
    "Eastbank Observer",
    "The Weekly Prism",
    "Frontier Press Network",
    "Lakeside Chronicle",
    "The Evening Almanac",
    "Crossroads Gazette",
    "Westmoor Bulletin",
    "The Daily Compass",
    "Riverbend Times",
    "Summit Newsroom",
    "The Quarry Examiner",
    "Pinecrest Tribune",
    "Bayside Sentinel",
    "The Granary Journal",
    "Millbrook Messenger",
]
_SECTIONS = [
    "Home",
    "News",
    "World",
    "Business",
    "Science",
    "Culture",
    "Opinion",
    "Sport",
    "Travel",
    "Technology",
    "Health",
    "Local",
    "Video",
    "Podcasts",
]
_SUBJECTS = [
    "City council",
    "Local school board",
    "Regional transit authority",
    "Harbour office",
    "The county library",
    "Neighbourhood bakery",
    "Volunteer fire brigade",
    "University research team",
    "The river trust",
    "Youth orchestra",
    "Farmers' cooperative",
    "Hospital foundation",
    "Chess club",
    "Museum of maps",
]
_VERBS = [
    "approves",
    "postpones",
    "announces",
    "celebrates",
    "reviews",
    "expands",
    "debates",
    "unveils",
    "cancels",
    "funds",
]
_OBJECTS = [
    "a plan for the riverside park",
    "new opening hours for the winter",
    "its budget for the coming year",
    "a pilot scheme for night buses",
    "the restoration of the old mill",
    "a summer festival in the square",
    "a study of air quality near schools",
    "plans for a community garden",
    "changes to parking on the high street",
    "a fundraising drive for new equipment",
]
_FIRST = ["Alex", "Jordan", "Sam", "Robin", "Taylor", "Morgan", "Casey", "Jamie", "Avery", "Riley"]
_LAST = [
    "Hartley",
    "Okafor",
    "Lindqvist",
    "Moreau",
    "Castellano",
    "Nakamura",
    "Brennan",
    "Kowalczyk",
    "Delacroix",
    "Whitfield",
]


@dataclass(frozen=True)
class Outlet:
    """A synthetic republisher with its own template."""

    index: int
    name: str
    host: str
    layout: int
    nav: tuple[str, ...]
    sidebar: tuple[str, ...]
    about: str
    attribution_style: int

    @property
    def base(self) -> str:
        return f"http://{self.host}"


def make_outlets(count: int, seed: int) -> list[Outlet]:
    """``count`` republishers, each with a consistent, distinct template."""
    rng = random.Random(f"outlets:{seed}")
    names = _NAMES[:]
    rng.shuffle(names)
    outlets = []
    for index in range(count):
        name = names[index % len(names)] + ("" if index < len(names) else f" {index}")
        nav = tuple(rng.sample(_SECTIONS, 7))
        sidebar = tuple(
            f"{rng.choice(_SUBJECTS)} {rng.choice(_VERBS)} {rng.choice(_OBJECTS)}" for _ in range(6)
        )
        about = (
            f"{name} is an independent news site that republishes reporting from partner "
            f"outlets around the world. Founded in {rng.randint(1998, 2019)}, it is read by "
            f"about {rng.randint(2, 90)}0,000 people every month. Our editors select stories "
            "that matter to our readers and credit every source."
        )
        outlets.append(
            Outlet(
                index + 1,
                name,
                f"republisher-{index + 1}.example",
                index % 5,
                nav,
                sidebar,
                about,
                rng.randrange(3),
            )
        )
    return outlets


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def render_copy(
    outlet: Outlet,
    url: str,
    headline: str,
    body_html: str,
    *,
    canonical: str | None,
    published: datetime | None,
    description: str,
) -> bytes:
    """A full page of ``outlet`` around the article ``body_html`` (``<article>..</article>``)."""
    nav = "\n".join(
        f'<li><a href="{outlet.base}/{s.lower()}/">{_e(s)}</a></li>' for s in outlet.nav
    )
    side = "\n".join(
        f'<li><a href="{outlet.base}/more/{i}">{_e(t)}</a></li>'
        for i, t in enumerate(outlet.sidebar)
    )
    meta = [
        '<meta charset="utf-8">',
        f"<title>{_e(headline)} | {_e(outlet.name)}</title>",
        f'<meta name="description" content="{_e(description)}">',
        f'<meta property="og:site_name" content="{_e(outlet.name)}">',
        f'<meta property="og:title" content="{_e(headline)}">',
    ]
    if canonical:
        meta.append(f'<link rel="canonical" href="{_e(canonical)}">')
    if published is not None:
        meta.append(f'<meta property="article:published_time" content="{published.isoformat()}">')
    head = "<head>\n" + "\n".join(meta) + "\n</head>"
    year = (published or datetime(2025, 1, 1, tzinfo=UTC)).year
    footer_links = " | ".join(
        f'<a href="{outlet.base}/{p}">{p.title()}</a>'
        for p in ("about", "contact", "privacy", "terms")
    )
    copyright_line = f"© {year} {_e(outlet.name)}. All rights reserved."
    layout = outlet.layout
    if layout == 0:  # semantic, sidebar on the right
        body = f"""<header class="site-header">
<a class="logo" href="{outlet.base}/">{_e(outlet.name)}</a>
<nav class="main-nav"><ul>{nav}</ul></nav></header>
<div class="container"><main id="main">
{body_html}
<div class="share">Share this story: <a href="#">Facebook</a> <a href="#">Twitter</a>
<a href="#">Email</a></div>
</main>
<aside class="sidebar"><h3>Most read</h3><ol>{side}</ol>
<div class="newsletter"><h3>Newsletter</h3>
<p>Get the best of {_e(outlet.name)} in your inbox every morning.</p></div></aside></div>
<footer class="site-footer"><p>{_e(outlet.about)}</p><p>{footer_links}</p><p>{copyright_line}</p>
</footer>"""
    elif layout == 1:  # div soup, sidebar first
        body = f"""<div id="wrapper"><div id="top"><div class="brand">{_e(outlet.name)}</div>
<ul class="menu">{nav}</ul></div>
<div id="sidebar" class="widget-area"><div class="widget"><h4>Trending now</h4><ul>{side}</ul></div>
<div class="widget"><h4>About us</h4><p>{_e(outlet.about)}</p></div></div>
<div id="content"><div class="entry">
{body_html}
</div><div class="post-meta">Filed under: {_e(outlet.nav[1])}, {_e(outlet.nav[2])}</div></div>
<div id="footer"><p>{footer_links}</p><p>{copyright_line}</p></div></div>"""
    elif layout == 2:  # cookie banner, related stories after the article
        body = f"""<div class="cookie-banner">We use cookies to improve your experience.
<a href="#">Accept</a></div>
<header><h2 class="site-name"><a href="{outlet.base}/">{_e(outlet.name)}</a></h2><nav>
<ul>{nav}</ul></nav></header>
<main><div class="story-wrap">
{body_html}
</div>
<section class="related"><h3>Related stories</h3><ul>{side}</ul></section>
<section class="comments"><h3>Comments</h3><p>Comments are closed for this story.</p></section>
</main>
<footer><div class="about">{_e(outlet.about)}</div><div>{footer_links}</div>
<small>{copyright_line}</small></footer>"""
    elif layout == 3:  # table-ish legacy layout
        body = f"""<table class="layout" width="100%"><tr><td colspan="2" class="masthead">
<h2>{_e(outlet.name)}</h2>
<ul class="nav">{nav}</ul></td></tr>
<tr><td class="main-col">
{body_html}
</td><td class="side-col"><div class="box"><b>Editor's picks</b><ul>{side}</ul></div>
<div class="box"><b>Subscribe</b>
<p>Support independent journalism: subscribe for one dollar a week.</p></div></td></tr>
<tr><td colspan="2" class="foot"><p>{_e(outlet.about)}</p><p>{copyright_line}</p></td></tr>
</table>"""
    else:  # minimal blog
        body = f"""<div class="blog"><header class="blog-head"><h2>
<a href="{outlet.base}/">{_e(outlet.name)}</a></h2>
<p class="tagline">News worth reading, from around the web</p><nav>{nav}</nav></header>
{body_html}
<nav class="pager">
<a href="{outlet.base}/prev">Previous post</a> <a href="{outlet.base}/next">Next post</a></nav>
<div class="recent"><h3>Recent posts</h3><ul>{side}</ul></div>
<footer class="blog-foot"><p>{_e(outlet.about)}</p><p>{footer_links} — {copyright_line}</p>
</footer></div>"""
    document = f'<!DOCTYPE html>\n<html lang="en">\n{head}\n<body>\n{body}\n</body>\n</html>\n'
    return document.encode("utf-8")


def _attribution_html(outlet: Outlet, sentence: str) -> str:
    if outlet.attribution_style == 1:
        return f"<p><em>{_e(sentence)}</em></p>"
    if outlet.attribution_style == 2:
        return f'<p class="source"><strong>{_e(sentence)}</strong></p>'
    return f"<p>{_e(sentence)}</p>"


def _paragraph_indexes(paragraphs: list[str], min_words: int = 10) -> list[int]:
    return [i for i, p in enumerate(paragraphs) if len(_WORD.findall(p)) >= min_words]


# --------------------------------------------------------------------------- world


@dataclass
class Resource:
    """A served document."""

    url: str
    content_type: str
    body: bytes


@dataclass
class FeedSpec:
    """One RSS 2.0 feed of the world."""

    url: str
    name: str
    kind: str  # "original" or "republisher"
    site: str
    entries: list[dict[str, object]] = field(default_factory=list)


@dataclass
class World:
    """Everything the proxy serves, the feeds in config order, and the truth."""

    seed: int
    created: datetime
    resources: dict[str, Resource]  # route_key -> resource
    feeds: list[FeedSpec]
    labels: dict[str, dict[str, object]]  # page URL -> truth
    skipped: list[dict[str, object]]
    outlets: list[Outlet]

    @property
    def stories(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = defaultdict(list)
        for url, label in self.labels.items():
            found[str(label["story"])].append(url)
        return dict(found)

    def summary(self) -> dict[str, object]:
        patterns = Counter(str(v["pattern"]) for v in self.labels.values() if not v["original"])
        copies = [v for v in self.labels.values() if not v["original"]]
        return {
            "originals": sum(1 for v in self.labels.values() if v["original"]),
            "copies": len(copies),
            "patterns": dict(sorted(patterns.items())),
            "copies_listed_before_original": sum(1 for v in copies if v["listed_before_original"]),
            "copies_without_pubdate": sum(1 for v in copies if v["published"] is None),
            "feeds": len(self.feeds),
            "original_feeds": sum(1 for f in self.feeds if f.kind == "original"),
            "republisher_feeds": sum(1 for f in self.feeds if f.kind == "republisher"),
            "skipped_pages": len(self.skipped),
            "pages": len(self.labels),
        }


def _xml(text: str) -> str:
    return html.escape(_XML_BAD.sub("", text), quote=False)


def render_feed(feed: FeedSpec) -> bytes:
    """An RSS 2.0 document for ``feed``."""
    items = []
    for entry in feed.entries:
        parts = [
            f"<title>{_xml(str(entry['title']))}</title>",
            f"<link>{_xml(str(entry['url']))}</link>",
            f'<guid isPermaLink="true">{_xml(str(entry["url"]))}</guid>',
        ]
        if entry.get("published"):
            when = datetime.fromisoformat(str(entry["published"]))
            parts.append(f"<pubDate>{email.utils.format_datetime(when, usegmt=True)}</pubDate>")
        if entry.get("description"):
            parts.append(f"<description>{_xml(str(entry['description']))}</description>")
        items.append("<item>" + "".join(parts) + "</item>")
    channel = (
        f"<title>{_xml(feed.name)}</title><link>{_xml(feed.site)}</link>"
        f"<description>{_xml(feed.name)} (replay)</description><ttl>30</ttl>"
    )
    return (
        '<?xml version="1.0" encoding="utf-8"?>\n<rss version="2.0"><channel>'
        + channel
        + "\n"
        + "\n".join(items)
        + "\n</channel></rss>\n"
    ).encode("utf-8")


def _description(paragraphs: list[str]) -> str:
    for paragraph in paragraphs:
        if len(_WORD.findall(paragraph)) >= 10:
            return paragraph if len(paragraph) <= 300 else paragraph[:297].rsplit(" ", 1)[0] + "..."
    return paragraphs[0][:300] if paragraphs else ""


def _slug(text: str) -> str:
    ascii_words = re.findall(r"[a-z0-9]+", text.lower())
    return "-".join(ascii_words[:8]) or "story"


def _host_of(url: str) -> str:
    return (urlsplit(url).hostname or "").lower()


def _changed_headline(title: str, rng: random.Random) -> str:
    core = re.split(r"\s+[|–—-]\s+", title)[0].strip() or title
    variant = rng.randrange(3)
    if variant == 0:
        return f"Report: {core}"
    if variant == 1:
        return f"{core} — what we know"
    return f"In depth: {core.lower()}"


def build_world(
    pages: list[Page],
    seed: int = 1,
    skipped: list[dict[str, object]] | None = None,
    *,
    copy_share: float = COPY_SHARE,
    before_share: float = BEFORE_SHARE,
    republishers: int = N_REPUBLISHERS,
    min_feeds: int = MIN_FEEDS,
    now: datetime | None = None,
) -> World:
    """The world for ``pages`` (deterministic for a seed and ``now``, floored to the hour)."""
    rng = random.Random(f"world:{seed}")
    created = (now or datetime.now(UTC)).replace(minute=0, second=0, microsecond=0)
    base = created - timedelta(days=10)
    resources: dict[str, Resource] = {}
    labels: dict[str, dict[str, object]] = {}

    # Originals: publication times spread over five days, ten days ago.
    published = {p.url: base + timedelta(minutes=rng.randrange(5 * 24 * 60)) for p in pages}
    by_file = {p.file: p for p in pages}
    real_copy_of = {
        copy: by_file[orig]
        for copy, orig in KNOWN_REPUBLICATIONS.items()
        if copy in by_file and orig in by_file
    }
    for copy, original in real_copy_of.items():  # the real original is the earlier one
        published[by_file[copy].url] = published[original.url] + timedelta(
            minutes=rng.randrange(60, 24 * 60)
        )
    # Feeds: one per host, or round-robin over pseudo-outlets when there are too few hosts.
    by_host: dict[str, list[Page]] = defaultdict(list)
    for page in pages:
        by_host[_host_of(page.url)].append(page)
    original_feeds: dict[str, FeedSpec] = {}
    feed_of: dict[str, str] = {}
    if len(by_host) >= min(min_feeds, len(pages)):
        for host, members in sorted(by_host.items()):
            scheme = urlsplit(members[0].url).scheme
            url = f"{scheme}://{host}/feed/replay.xml"
            original_feeds[url] = FeedSpec(url, host, "original", f"{scheme}://{host}/")
            for page in members:
                feed_of[page.url] = url
    else:
        count = min(min_feeds, len(pages))
        for index, page in enumerate(pages):
            k = index % count + 1
            url = f"http://outlet-{k}.example/feed.xml"
            original_feeds.setdefault(
                url, FeedSpec(url, f"Outlet {k}", "original", f"http://outlet-{k}.example/")
            )
            feed_of[page.url] = url
    for page in pages:
        paragraphs = page.paragraphs
        when = published[page.url]
        original_feeds[feed_of[page.url]].entries.append(
            {
                "url": page.url,
                "title": page.title,
                "published": when.isoformat(),
                "description": _description(paragraphs),
            }
        )
        source = real_copy_of.get(page.file)
        labels[page.url] = {
            "story": (source or page).story,
            "original": source is None,
            "pattern": "original" if source is None else "real_republication",
            "file": page.file,
            "corpus_page": True,
            "manifest_url": page.raw_url,
            "url_synthesized": page.url_synthesized,
            "feed": feed_of[page.url],
            "published": when.isoformat(),
            "words": page.words,
            "original_url": (source or page).url,
            "listed_before_original": False,
        }
        resources[route_key(page.url)] = Resource(page.url, "text/html", b"")  # body loaded lazily

    # Config order: original feeds shuffled, then each republisher's main feed. A copy meant to
    # come first sits alone in a tag feed of its outlet, listed at a random place before its
    # original's feed: a one-entry feed is stored as soon as its page is extracted, whereas a
    # many-entry feed is written only when its last page is.
    shuffled = list(original_feeds.values())
    rng.shuffle(shuffled)
    key_of: dict[str, float] = {feed.url: float(i) for i, feed in enumerate(shuffled)}
    n_copies = round(copy_share * len(pages))
    count = max(republishers, -(-n_copies // COPIES_PER_OUTLET))
    outlets = make_outlets(count, seed) if pages else []
    rep_feeds = {
        o.index: FeedSpec(f"{o.base}/feed.xml", o.name, "republisher", o.base + "/")
        for o in outlets
    }
    for i, outlet in enumerate(outlets):
        key_of[rep_feeds[outlet.index].url] = float(len(shuffled) + i)
    tag_feeds: list[FeedSpec] = []

    # Copies: a seeded share of the originals, patterns dealt out in turn. Above one copy per
    # original, every original is copied once, then a seeded share of them again, and so on.
    candidates = [p for p in pages if p.file not in real_copy_of]
    copied: list[Page] = []
    while candidates and len(copied) < n_copies:
        copied += rng.sample(candidates, min(n_copies - len(copied), len(candidates)))
    copied.sort(key=lambda p: p.file)
    copy_number: dict[str, int] = defaultdict(int)
    patterns = [PATTERNS[i % len(PATTERNS)] for i in range(n_copies)]
    rng.shuffle(patterns)
    first = set(rng.sample(range(len(copied)), round(before_share * len(copied))))
    for number, (page, pattern) in enumerate(zip(copied, patterns, strict=False)):
        own_key = key_of[feed_of[page.url]]
        copy_number[page.story] += 1
        # The story's first copy keeps the plain name, so worlds of one copy at most are
        # unchanged; a second copy may land on the same outlet.
        name = f"{_slug(page.headline)}-{page.story[1:]}"
        if copy_number[page.story] > 1:
            name += f"-{copy_number[page.story]}"
        later = [o for o in outlets if key_of[rep_feeds[o.index].url] > own_key]
        if number in first or not later:
            outlet = rng.choice(outlets)
            tag = f"{outlet.base}/tag/{name}/feed.xml"
            feed = FeedSpec(
                tag, f"{outlet.name}: tag {page.story[1:]}", "republisher", outlet.base + "/"
            )
            key_of[tag] = rng.uniform(0, own_key) - 0.25
            tag_feeds.append(feed)
        else:
            outlet = rng.choice(later)
            feed = rep_feeds[outlet.index]
        url = f"{outlet.base}/stories/{name}.html"
        delay = timedelta(minutes=rng.randrange(60, 72 * 60))
        copy_when: datetime | None = published[page.url] + delay
        if pattern != "no_signal" and rng.random() < NO_DATE_SHARE:
            copy_when = None
        paragraphs = page.paragraphs
        headline = page.headline
        canonical: str | None = url if rng.random() < 0.5 else None  # self-canonical, sometimes
        extra: dict[str, object] = {}
        if pattern == "attribution":
            host = _host_of(page.url)
            body_paragraphs = [*paragraphs, f"This article was originally published at {host}"]
            body = [f"<p>{_e(p)}</p>" for p in paragraphs] + [
                _attribution_html(outlet, body_paragraphs[-1])
            ]
            extra["credited"] = host
        elif pattern == "excerpt":
            # The first 2-4 paragraphs of ten words or more, with the short lines between them.
            long_ones = _paragraph_indexes(paragraphs) or list(range(len(paragraphs)))
            wanted = min(rng.randint(2, 4), len(long_ones))
            cut = long_ones[wanted - 1] + 1
            kept = paragraphs[:cut]
            body = [f"<p>{_e(p)}</p>" for p in kept] + [
                f'<p>Read the full article at <a href="{_e(page.url)}">{_e(page.url)}</a></p>'
            ]
            extra.update(
                excerpt_paragraphs=len(kept), excerpt_words=sum(len(_WORD.findall(p)) for p in kept)
            )
        elif pattern == "edited_canonical":
            headline = _changed_headline(page.headline, rng)
            droppable = _paragraph_indexes(paragraphs)[1:] or list(range(1, len(paragraphs)))
            dropped = rng.choice(droppable) if len(paragraphs) > 2 and droppable else None
            byline = f"By {rng.choice(_FIRST)} {rng.choice(_LAST)}, {outlet.name}"
            body = [f'<p class="byline">{_e(byline)}</p>'] + [
                f"<p>{_e(p)}</p>" for i, p in enumerate(paragraphs) if i != dropped
            ]
            canonical = page.url
            extra.update(dropped_paragraph=dropped, byline=byline)
        else:  # no_signal
            canonical = canonical if canonical == url else None
            body = [f"<p>{_e(p)}</p>" for p in paragraphs]
        article = (
            f'<article class="story">\n<h1>{_e(headline)}</h1>\n' + "\n".join(body) + "\n</article>"
        )
        description = _description(paragraphs)
        resources[route_key(url)] = Resource(
            url,
            "text/html; charset=utf-8",
            render_copy(
                outlet,
                url,
                headline,
                article,
                canonical=canonical,
                published=copy_when,
                description=description,
            ),
        )
        copy_published = copy_when.isoformat() if copy_when else None
        feed.entries.append(
            {"url": url, "title": headline, "published": copy_published, "description": description}
        )
        labels[url] = {
            "story": page.story,
            "original": False,
            "pattern": pattern,
            "file": page.file,
            "outlet": outlet.host,
            "feed": feed.url,
            "published": copy_published,
            "original_url": page.url,
            "canonical_link": canonical,
            "listed_before_original": key_of[feed.url] < own_key,
            **extra,
        }
    every = [*original_feeds.values(), *rep_feeds.values(), *tag_feeds]
    order = sorted((f for f in every if f.entries), key=lambda f: (key_of[f.url], f.url))
    for feed in order:
        feed.entries.sort(key=lambda e: str(e.get("published") or "9999"), reverse=True)
        resources[route_key(feed.url)] = Resource(
            feed.url, "application/rss+xml; charset=utf-8", render_feed(feed)
        )
    return World(seed, created, resources, order, labels, list(skipped or []), outlets)


def load_original_bodies(world: World, corpus: Path) -> None:
    """Fill in the saved HTML of the originals (kept out of the world until it is served)."""
    for url, label in world.labels.items():
        if label.get("corpus_page"):
            page = corpus / "pages" / str(label["file"])
            world.resources[route_key(url)].body = page.read_bytes()


def write_world(world: World, out: Path) -> dict[str, Path]:
    """labels.json, world.json (feeds, summary), the generated feeds and copies, in ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    labels = {
        "seed": world.seed,
        "created": world.created.isoformat(),
        "summary": world.summary(),
        "pages": world.labels,
        "stories": world.stories,
    }
    paths = {"labels": out / "labels.json", "world": out / "world.json"}
    paths["labels"].write_text(json.dumps(labels, indent=1, ensure_ascii=False), "utf-8")
    feeds = [
        {"url": f.url, "name": f.name, "kind": f.kind, "entries": len(f.entries)}
        for f in world.feeds
    ]
    paths["world"].write_text(
        json.dumps(
            {
                "summary": world.summary(),
                "feeds": feeds,
                "skipped": world.skipped,
                "outlets": [asdict(o) for o in world.outlets],
            },
            indent=1,
            ensure_ascii=False,
        ),
        "utf-8",
    )
    generated = out / "generated"
    for resource in world.resources.values():
        if world.labels.get(resource.url, {}).get("corpus_page"):
            continue  # the corpus page itself: not duplicated
        name = re.sub(r"[^A-Za-z0-9._-]+", "_", resource.url.split("://", 1)[1])[:150]
        target = generated / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(resource.body)
    return paths


# --------------------------------------------------------------------------- proxy


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _ProxyServer

    def setup(self) -> None:
        """Send each write at once (``TCP_NODELAY``), as web servers do on kept-alive connections.

        The handler writes a response's headers and its body apart. With Nagle's algorithm on,
        the body waits for the client to acknowledge the headers, and a client that delays its
        acknowledgement (Linux: up to 40 ms) stalls every request on a reused connection:
        43 ms a request for ``http.client``, which made the naive script of ``throughput.py``
        spend ~40 s of its run waiting (sessions 2-6; see ``RESULTS.md``).
        """
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _serve(self) -> None:
        started = time.time()
        clock = time.perf_counter()
        target = self.path
        if target.startswith(("http://", "https://")) or self.command == "CONNECT":
            url = target  # absolute form, or CONNECT's host:port
        else:  # origin form: only the Host header says where it was meant to go
            url = f"http://{self.headers.get('Host', '')}{target}"
        status, headers, body = self.server.owner.answer(self.command, url, self.headers)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.owner.record(
            {
                "t": round(started, 6),
                "method": self.command,
                "url": url,
                "target": target,
                "headers": dict(self.headers.items()),
                "status": status,
                "bytes": len(body),
                "ms": round((time.perf_counter() - clock) * 1000, 3),
                "thread": threading.get_ident(),
            }
        )

    do_GET = do_HEAD = do_POST = do_CONNECT = _serve  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: every request goes to the JSON Lines log instead."""


class _ProxyServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 128

    def __init__(self, owner: ReplayProxy, port: int) -> None:
        super().__init__(("127.0.0.1", port), _ProxyHandler)
        self.owner = owner

    def handle_error(self, request: object, client_address: object) -> None:
        """Clients hanging up early are not our problem."""


class ReplayProxy:
    """A forward proxy on 127.0.0.1 serving a :class:`World`; use as a context manager."""

    def __init__(self, world: World, log_path: Path, port: int = 0) -> None:
        self.world = world
        self.log_path = log_path
        self._lock = threading.Lock()
        log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = log_path.open("w", encoding="utf-8")
        self._server = _ProxyServer(self, port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.counts: Counter[str] = Counter()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, method: str, url: str, headers: object) -> tuple[int, dict[str, str], bytes]:
        if method == "CONNECT":
            return (
                405,
                {"Allow": "GET, HEAD", "Content-Type": "text/plain"},
                (b"replay proxy: CONNECT is not supported; send https URLs in absolute form\n"),
            )
        if method not in ("GET", "HEAD"):
            allow = {"Allow": "GET, HEAD", "Content-Type": "text/plain"}
            return 405, allow, b"method not allowed\n"
        resource = self.world.resources.get(route_key(url))
        if resource is None:
            return 404, {"Content-Type": "text/plain"}, b"not in the replay world\n"
        etag = '"' + hashlib.blake2b(resource.body, digest_size=12).hexdigest() + '"'
        if getattr(headers, "get", lambda _: None)("If-None-Match") == etag:
            return 304, {"ETag": etag}, b""
        return 200, {"Content-Type": resource.content_type, "ETag": etag}, resource.body

    def record(self, entry: dict[str, object]) -> None:
        with self._lock:
            self.counts[f"{entry['method']} {entry['status']}"] += 1
            self._log.write(json.dumps(entry) + "\n")
            self._log.flush()

    def __enter__(self) -> ReplayProxy:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
        with self._lock:
            self._log.close()


# --------------------------------------------------------------------------- config


def _toml_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def write_config(
    world: World,
    proxy_url: str,
    state_dir: Path,
    path: Path,
    workers: int = 0,
    extra_http: dict[str, object] | None = None,
    favor: str = "balanced",
    fast: bool = False,
) -> Path:
    """A config with the proxy, a fresh SQLite database under ``state_dir``, and every feed."""
    state_dir.mkdir(parents=True, exist_ok=True)
    database = state_dir / "ingestd.sqlite3"
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(str(database) + suffix).unlink(missing_ok=True)
    lines = [
        "# Generated by bench/replay.py: a loopback replay world. Every feed and page host below",
        "# is reachable only through the proxy.",
        "[database]",
        f"url = {_toml_string('sqlite:///' + str(database))}",
        "",
        "[http]",
        f"proxy = {_toml_string(proxy_url)}",
    ]
    for key, value in (extra_http or {}).items():
        lines.append(f"{key} = {json.dumps(value)}")
    lines += [
        "",
        "[extract]",
        f"workers = {workers}",
        f"favor = {_toml_string(favor)}",
        f"fast = {'true' if fast else 'false'}",
        "",
    ]
    for feed in world.feeds:
        lines += [
            "[[feeds]]",
            f"url = {_toml_string(feed.url)}",
            f"name = {_toml_string(feed.name)}",
            "",
        ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), "utf-8")
    return path


def add_copies_option(parser: argparse.ArgumentParser) -> None:
    """``--copies R``: republished copies per original (see :func:`build_world`)."""
    parser.add_argument(
        "--copies",
        type=float,
        default=COPY_SHARE,
        metavar="R",
        help=f"republished copies per original (default {COPY_SHARE}; 1.5: ~1,000 pages)",
    )


def prepare(
    pages: int | None = None,
    seed: int = 1,
    out: Path | None = None,
    min_words: int = MIN_WORDS,
    now: datetime | None = None,
    copy_share: float = COPY_SHARE,
) -> tuple[World, Path, Path]:
    """Build the world for the CLI and the benchmarks; returns (world, corpus, out dir)."""
    corpus = corpus_dir()
    chosen, skipped = load_pages(corpus, pages, seed, min_words)
    world = build_world(chosen, seed, skipped, now=now, copy_share=copy_share)
    load_original_bodies(world, corpus)
    copies = "" if copy_share == COPY_SHARE else f"-c{copy_share:g}"
    target = out or BENCH_OUT / f"replay-{pages or 'all'}-s{seed}{copies}"
    write_world(world, target)
    return world, corpus, target


def main(argv: Iterable[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=None, help="N originals (default: all usable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--min-words", type=int, default=MIN_WORDS)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default bench/out/replay-<N>-s<seed>)",
    )
    parser.add_argument(
        "--serve",
        action="store_true",
        help="start the proxy, write ingestd.toml, serve until Ctrl-C",
    )
    parser.add_argument("--port", type=int, default=0)
    add_copies_option(parser)
    args = parser.parse_args(list(argv) if argv is not None else None)
    world, _, out = prepare(args.pages, args.seed, args.out, args.min_words, copy_share=args.copies)
    print(json.dumps({"out": str(out), **world.summary()}, indent=1))
    if not args.serve:
        return 0
    with ReplayProxy(world, out / "proxy-log.jsonl", args.port) as proxy:
        config = write_config(world, proxy.url, out / "state", out / "ingestd.toml")
        print(f"proxy on {proxy.url}; log {out / 'proxy-log.jsonl'}")
        print(f"run: {sys.executable} -m ingestd --config {config} --once")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
