"""Where the web pages are served: ``ingest serve`` (a listener of its own over the store, the
pages and the deduplicated feeds) and the routes the daemon adds to a listener.

Pages bind to ``127.0.0.1`` unless told otherwise, and every start says whether other machines
can reach them (and whether a password guards them).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Callable

from ingestd.config import Settings
from ingestd.service.endpoints import Endpoints, Liveness
from ingestd.service.listener import Handler, Listener, split_address
from ingestd.service.metrics import Metrics
from ingestd.service.web.app import WebPages
from ingestd.service.web.auth import BasicAuth
from ingestd.store import Store

DEFAULT_ADDRESS = "127.0.0.1:8464"  # `ingest serve` without --listen or [web] listen
FEED_PATHS = ("/feed.atom", "/feed.json")  # served beside the pages (the navigation links them)


def pages_for(store: Store, settings: Settings) -> WebPages:
    """The pages over ``store``, with basic auth when ``[web] password_hash`` is set."""
    return WebPages(store, settings.dedup, auth_for(settings))


def auth_for(settings: Settings) -> BasicAuth | None:
    """Basic auth from ``[web]`` (None without a password hash)."""
    web = settings.web
    return BasicAuth(web.user, web.password_hash) if web.password_hash else None


def with_feeds(pages: WebPages, endpoints: Endpoints) -> dict[str, Handler]:
    """The pages' routes and the deduplicated feeds (``/feed.atom``, ``/feed.json``)."""
    feeds = endpoints.routes()
    return {**{path: feeds[path] for path in FEED_PATHS}, **pages.routes()}


def reach(host: str, guarded: bool) -> str:
    """Who can open pages bound to ``host``, in words."""
    loopback = host in ("127.0.0.1", "::1", "localhost") or host.startswith("127.")
    where = (
        f"bound to {host}: only this machine can open them"
        if loopback
        else f"bound to {host}: other machines can open them"
    )
    if guarded:
        return f"{where} (basic auth required)"
    if loopback:
        return where
    return f"{where}, without a password (set [web] password_hash)"


async def serve(store: Store, settings: Settings, address: str, say: Callable[[str], None]) -> None:
    """Serve the pages and feeds on ``address`` until SIGINT or SIGTERM; ``say`` gets the
    line that tells where. OSError when the address cannot be bound."""
    pages = pages_for(store, settings)
    endpoints = Endpoints(store, Metrics(), Liveness(60.0), lambda: len(settings.feeds))
    listener = Listener(address, with_feeds(pages, endpoints))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        host, port = await listener.start()
        shown = f"[{host}]" if ":" in host else host
        endpoints.public_url = settings.metrics.public_url or f"http://{shown}:{port}/"
        say(
            f"serving read-only pages at http://{shown}:{port}/ "
            f"({reach(split_address(address)[0], pages.auth is not None)}); Ctrl-C stops"
        )
        await stop.wait()
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(Exception):
                loop.remove_signal_handler(signum)
        await listener.close()
        pages.close()
        endpoints.close()
