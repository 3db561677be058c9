"""The web pages over the demo store (``tests.support.webdemo``), served by the real listener on
127.0.0.1 from a thread of their own, for tests that speak HTTP or drive a browser."""

from __future__ import annotations

import asyncio
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

from ingestd.config import DedupSettings
from ingestd.service.listener import Listener
from ingestd.service.web.app import WebPages
from ingestd.service.web.auth import BasicAuth
from ingestd.store import Store
from tests.support import webdemo


@dataclass(frozen=True)
class Served:
    """Where the pages answer, and what the demo store holds."""

    base: str
    demo: webdemo.Demo


@contextmanager
def serve_demo(folder: Path, auth: BasicAuth | None = None) -> Iterator[Served]:
    """A demo store under ``folder`` and its pages on a free loopback port, until the end."""
    store = Store.open(f"sqlite:///{folder}/web.sqlite3")
    demo = webdemo.build(store)
    pages = WebPages(store, DedupSettings(), auth)
    loop = asyncio.new_event_loop()
    listener = Listener("127.0.0.1:0", pages.routes())
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        host, port = asyncio.run_coroutine_threadsafe(listener.start(), loop).result(10)
        yield Served(f"http://{host}:{port}", demo)
    finally:
        asyncio.run_coroutine_threadsafe(listener.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        pages.close()
        store.close()


def fetch(
    url: str, method: str = "GET", headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], str]:
    """Status, headers and body (text) of one request."""
    request = urllib.request.Request(url, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, dict(answer.headers), answer.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read().decode("utf-8")


class Elements(HTMLParser):
    """Every start tag of a document with its attributes, as a browser's parser sees them."""

    def __init__(self, markup: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.feed(markup)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def find(self, tag: str) -> list[dict[str, str]]:
        return [attrs for name, attrs in self.tags if name == tag]
