"""HTML from hostile text: escaping, safe links and the frame every page shares.

Every stored field (titles, texts, URLs, feed names, errors) was written by a stranger. It
reaches a page only through :func:`esc` (control characters spelled out as ``\\x1b``, then
HTML-escaped, quotes included, so it is safe in text and in quoted attributes) or
:func:`link` (only ``http``/``https`` URLs become ``href``; another URL is shown as text). Pages
are built from :class:`Html` values: a ``str`` that is already markup, so a helper never
escapes twice and a raw string is never mistaken for markup by a reader of the code.
"""

from __future__ import annotations

import html
from urllib.parse import quote, urlencode

from ingestd.safetext import visible_or_empty
from ingestd.urls import web_url

CSS_PATH = "/assets/web.css"
JS_PATH = "/assets/web.js"
# What a page may load: its own style sheet and script, nothing inline, nothing from elsewhere;
# forms submit to the same origin only; no page may frame it.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'none'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
HTML_TYPE = "text/html; charset=utf-8"


class Html(str):
    """Markup that is safe to send as it is (built by this package's helpers)."""

    __slots__ = ()


def esc(value: object) -> Html:
    """``value`` as text in HTML: control characters and bidi overrides spelled out, then
    ``& < > " '`` escaped; ``""`` for None. An :class:`Html` value is returned as it is."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(visible_or_empty(value), quote=True))


def join(parts: list[Html] | tuple[Html, ...], sep: str = "") -> Html:
    """Markup pieces joined (``sep`` is markup written by this package)."""
    return Html(sep.join(parts))


def href(url: str | None) -> str | None:
    """An ``http``/``https`` URL made safe for an ``href`` (spaces, quotes, control and
    non-ASCII characters percent-encoded), else None."""
    good = web_url(url)
    if good is None:
        return None
    return quote(good.strip(), safe="/:?#[]@!$&'()*+,;=%~-._")


def link(url: str | None, text: object = None, rel: str = "noopener noreferrer nofollow") -> Html:
    """``<a href>`` to an outside page when ``url`` is http(s); else the URL shown as plain text
    (marked as not a link). ``text`` defaults to the URL."""
    shown = esc(url if text is None else text)
    target = href(url)
    if target is None:
        if not url:
            return shown
        return Html(f'<span class="nolink" title="not an http(s) link">{shown}</span>')
    return Html(f'<a href="{esc(target)}" rel="{rel}">{shown}</a>')


def local(path: str, text: object, params: dict[str, str] | None = None) -> Html:
    """A link to one of these pages (``path`` is built by this package; ``params`` encoded)."""
    query = f"?{urlencode(params)}" if params else ""
    return Html(f'<a href="{esc(path + query)}">{esc(text)}</a>')


def page(title: object, body: Html, nav: Html | None = None) -> bytes:
    """A whole document: the shared head (viewport, style sheet, script), the top navigation
    and ``body`` in ``<main>``."""
    top = nav if nav is not None else navigation()
    document = (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{esc(title)} · ingestd</title>"
        f'<link rel="stylesheet" href="{CSS_PATH}">'
        f'<script src="{JS_PATH}" defer></script>'
        "</head><body>"
        '<a class="skip" href="#main">Skip to content</a>'
        f"{top}"
        f'<main id="main" tabindex="-1">{body}</main>'
        "</body></html>\n"
    )
    return document.encode("utf-8")


def navigation() -> Html:
    """The links at the top of every page."""
    return Html(
        '<nav class="top" aria-label="ingestd">'
        '<a href="/">Clusters</a> <a href="/explain">Explain a pair</a> '
        '<a href="/feed.atom">Atom</a> <a href="/feed.json">JSON Feed</a>'
        "</nav>"
    )
