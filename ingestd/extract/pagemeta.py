"""The four metadata fields ingestd keeps from an article page: title, URL, date and site name.

trafilatura's ``extract_metadata`` also looks for the author, categories, tags and licence, which
ingestd never stores; on real news pages those searches are most of its cost (measured on the
437 pages of ``../shared/corpus/pages``: 14-17 ms a page for the whole pass against 3-4 ms for
the four fields). :func:`page_metadata` runs the same trafilatura steps for the four fields, in
the same order and with the same clean-up, so it gives the same values: all 437 pages gave the
same :class:`~ingestd.model.Article` both ways when measured, and ``tests/unit/test_pagemeta.py``
compares the two on built pages and on a sample of the corpus. It relies on functions of
``trafilatura.metadata`` that are not part of trafilatura's documented API, hence the version
range in ``pyproject.toml``.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from htmldate import find_date
from lxml.html import HtmlElement
from trafilatura.metadata import (
    META_URL,
    examine_meta,
    extract_meta_json,
    extract_sitename,
    extract_title,
    extract_url,
)


@dataclass(frozen=True)
class PageMetadata:
    """What trafilatura's metadata pass finds for these fields; ``None`` where it finds nothing.

    ``date`` is htmldate's ``YYYY-MM-DD`` string (or with a time, by its settings).
    """

    title: str | None
    url: str | None
    date: str | None
    sitename: str | None


def page_metadata(tree: HtmlElement, page_url: str, date_params: dict[str, Any]) -> PageMetadata:
    """The title, URL, date and site name of the parsed page ``tree`` fetched from ``page_url``.

    The steps of ``trafilatura.metadata.extract_metadata`` for these fields: ``<meta>`` tags,
    then JSON-LD (which overrides them), then the page's own title and canonical link, htmldate
    with ``date_params`` (and the URL found), the site name with its Twitter ``@`` dropped and a
    bare name capitalised, else the URL's host; finally trafilatura's trimming. The tree is only
    read.
    """
    found = examine_meta(tree)
    with suppress(Exception):  # trafilatura's own pass logs and ignores its JSON-LD reader's errors
        found = extract_meta_json(tree, found)
    if not found.title:
        found.title = extract_title(tree)
    if not found.url:
        found.url = extract_url(tree, page_url)
    found.date = find_date(tree, **{**date_params, "url": found.url})
    if not found.sitename:
        found.sitename = extract_sitename(tree)
    if found.sitename:
        found.sitename = found.sitename.lstrip("@")
        if found.sitename and "." not in found.sitename and not found.sitename[0].isupper():
            found.sitename = found.sitename.title()
    elif found.url:
        host = META_URL.match(found.url)
        if host:
            found.sitename = host[1]
    found.clean_and_trim()
    return PageMetadata(
        title=found.title or None,
        url=found.url or None,
        date=found.date or None,
        sitename=found.sitename or None,
    )
