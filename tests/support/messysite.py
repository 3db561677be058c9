"""The messy world (:mod:`tests.support.messyworld`) as sites serve it: an HTML page per page, with
navigation, a sidebar and a footer around the article (a gallery's captions in slides), and one
RSS 2.0 feed per site."""

from __future__ import annotations

import email.utils
import html
import random
from collections import defaultdict

from tests.support.messyworld import Page, World


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def render_page(page: Page) -> str:
    """The page as a news site would serve it: navigation, the article, a sidebar, a footer."""
    site = page.host.split(".")[0].capitalize()
    paragraphs = "".join(f"<p>{_e(p)}</p>" for p in page.body)
    if page.layout == "gallery":
        intro, captions = page.body[:2], page.body[2:]
        slides = "".join(
            f"<div class='slide'><img src='/img/{n}.jpg' alt=''>"
            f"<p class='caption'>{_e(c)}</p></div>"
            for n, c in enumerate(captions)
        )
        paragraphs = (
            "".join(f"<p>{_e(p)}</p>" for p in intro) + f"<div class='gallery'>{slides}</div>"
        )
    byline = f"<p class='byline'>{_e(page.byline)}</p>" if page.byline else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(page.title)} | {site}</title>"
        f"<meta property='og:site_name' content='{site}'>"
        f"<meta property='article:published_time' content='{page.published.isoformat()}'>"
        f"<link rel='canonical' href='{_e(page.url)}'>"
        "</head><body>"
        f"<header><nav><a href='/'>{site}</a> <a href='/news'>News</a> <a href='/sport'>Sport</a>"
        " <a href='/weather'>Weather</a></nav></header>"
        f"<main><article><h1>{_e(page.title)}</h1>{byline}{paragraphs}</article>"
        "<aside><h2>Most read</h2><ul><li><a href='/a'>Council budget vote delayed</a></li>"
        "<li><a href='/b'>New ferry timetable from April</a></li></ul></aside></main>"
        f"<footer><p>© 2026 {site} Media. All rights reserved.</p></footer></body></html>"
    )


def render_feed(host: str, pages: list[Page]) -> str:
    """One RSS 2.0 feed of a site's pages."""
    items = "".join(
        "<item>"
        f"<title>{_e(p.title)}</title><link>{_e(p.url)}</link><guid>{_e(p.url)}</guid>"
        f"<pubDate>{email.utils.format_datetime(p.published)}</pubDate>"
        f"<description>{_e(p.body[0][:200])}</description>"
        "</item>"
        for p in pages
    )
    return (
        "<?xml version='1.0' encoding='utf-8'?><rss version='2.0'><channel>"
        f"<title>{_e(host)}</title><link>http://{host}/</link>{items}</channel></rss>"
    )


def feed_url(host: str) -> str:
    return f"http://{host}/feed.xml"


def resources(world: World, seed: int = 1) -> tuple[dict[str, tuple[str, bytes]], list[str]]:
    """Every page and one feed per site: {url: (content type, body)}, and the feed URLs in a
    shuffled order (an excerpt's or a copy's feed may come before its original's)."""
    by_host: dict[str, list[Page]] = defaultdict(list)
    served: dict[str, tuple[str, bytes]] = {}
    for page in world.pages:
        by_host[page.host].append(page)
        served[page.url] = ("text/html; charset=utf-8", render_page(page).encode())
    for host, pages in by_host.items():
        served[feed_url(host)] = ("application/rss+xml", render_feed(host, pages).encode())
    feeds = sorted(feed_url(host) for host in by_host)
    random.Random(seed).shuffle(feeds)
    return served, feeds
