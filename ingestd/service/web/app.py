"""The web pages as listener routes: requests in, pages out, store reads on their own threads.

Every answer carries the security headers of :mod:`.markup` (a Content-Security-Policy that
allows only this origin's style sheet and script, no framing, no referrer). The pages only read:
the listener answers any method but GET and HEAD with 405, and no page has a form that
changes anything. With :class:`~ingestd.service.web.auth.BasicAuth`, every path here (the assets
too) answers 401 until the browser sends the right user and password.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from ingestd.config import DedupSettings
from ingestd.errors import NotFoundError, UserError
from ingestd.service.listener import Handler, Request, Response
from ingestd.service.web import cluster, detail, listing
from ingestd.service.web.assets import CSS, JS
from ingestd.service.web.auth import BasicAuth
from ingestd.service.web.markup import CSS_PATH, HTML_TYPE, JS_PATH, SECURITY_HEADERS
from ingestd.store import Store, Transaction
from ingestd.store.clusterpages import ClusterFilter, cluster_page, recent_clusters, texts_of
from ingestd.store.subscriptions import find_feed

READ_TIMEOUT_S = 10.0  # a page gives up on the store after this long
READ_THREADS = 2  # store reads in flight at once
MAX_ID = 2**63 - 1  # larger numbers name nothing stored


class WebPages:
    """``/``, ``/clusters/ID``, ``/items/ID``, ``/explain`` and the two assets, over a store."""

    def __init__(self, store: Store, dedup: DedupSettings, auth: BasicAuth | None = None) -> None:
        self.store = store
        self.dedup = dedup
        self.auth = auth
        self._reads = ThreadPoolExecutor(READ_THREADS, thread_name_prefix="ingestd-web")

    def routes(self) -> dict[str, Handler]:
        """Path → handler for :class:`~ingestd.service.listener.Listener` (``/*``: a prefix)."""
        handlers: dict[str, Handler] = {
            "/": self.clusters,
            "/clusters/*": self.cluster,
            "/items/*": self.item,
            "/explain": self.explain,
            CSS_PATH: self.css,
            JS_PATH: self.js,
        }
        return {path: self._guarded(handler) for path, handler in handlers.items()}

    def close(self) -> None:
        self._reads.shutdown(wait=False, cancel_futures=True)

    def _guarded(self, handler: Handler) -> Handler:
        """``handler`` behind basic auth (when configured), with the security headers."""

        async def guarded(request: Request) -> Response:
            if self.auth is not None and not self.auth.allows(request.headers.get("authorization")):
                answer = Response(401, b"authentication required\n")
                answer = dataclasses.replace(
                    answer, headers={"WWW-Authenticate": self.auth.challenge}
                )
            else:
                answer = await handler(request)
            return dataclasses.replace(answer, headers={**SECURITY_HEADERS, **answer.headers})

        return guarded

    async def _read(self, fn: Callable[[Transaction], Any]) -> Any:
        """``fn(tx)`` in a read-only transaction on a reader thread, with a timeout."""

        def run() -> Any:
            with self.store.transaction(write=False) as tx:
                return fn(tx)

        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._reads, run), READ_TIMEOUT_S)

    # --- pages ---------------------------------------------------------------------------------

    async def clusters(self, request: Request) -> Response:
        """``/``: the list of clusters (400 with the form for an unreadable filter)."""
        asked = listing.Asked.from_query(request.query)
        try:
            chosen = ClusterFilter(
                site=asked.site.lower() or None,
                signal=listing.signal_value(asked),
                since=listing.since_time(asked, datetime.now(UTC)),
            )
            after = listing.parse_cursor(asked.after)
        except UserError as exc:
            return _html(listing.render(asked, [], str(exc)), 400)

        def read(tx: Transaction) -> list[Any] | None:
            wanted = chosen
            if asked.feed:
                feed = find_feed(tx, asked.feed)
                if feed is None:
                    return None
                wanted = dataclasses.replace(chosen, feed_id=feed.id)
            return recent_clusters(tx, wanted, after, listing.PAGE_SIZE)

        rows = await self._read(read)
        if rows is None:
            problem = f"feed: no feed with URL {asked.feed!r} is stored"
            return _html(listing.render(asked, [], problem), 404)
        return _html(listing.render(asked, rows))

    async def cluster(self, request: Request) -> Response:
        """``/clusters/ID``: the copies side by side."""
        cluster_id = _id_below(request.path, "/clusters/")
        start = (request.query.get("from") or ["0"])[0]
        if cluster_id is None or not start.isdigit() or len(start) > 9:
            return _missing("No such cluster", f"no cluster at {request.path}")
        found = await self._read(lambda tx: cluster_page(tx, cluster_id))
        if found is None or not found[1]:
            return _missing("No such cluster", f"no cluster {cluster_id} is stored")
        record, members, texts = found
        return _html(cluster.render(record, members, texts, int(start)))

    async def item(self, request: Request) -> Response:
        """``/items/ID``: one item as stored."""
        item_id = _id_below(request.path, "/items/")
        if item_id is None:
            return _missing("No such item", f"no item at {request.path}")

        def read(tx: Transaction) -> Any:
            item = tx.item(item_id)
            if item is None:
                return None
            members = tx.cluster_members(item.cluster_id) if item.cluster_id is not None else []
            return item, texts_of(tx, [item_id]).get(item_id, ""), members

        found = await self._read(read)
        if found is None:
            return _missing("No such item", f"no item {item_id} is stored")
        return _html(detail.item_page(*found))

    async def explain(self, request: Request) -> Response:
        """``/explain?a=&b=``: the verdict on a pair of items (ids or URLs)."""
        a, b = ((request.query.get(name) or [""])[0].strip() for name in ("a", "b"))
        if not (a and b):
            return _html(detail.explain_page(a, b, None, None))
        for ref in (a, b):
            if ref.isdigit() and not (ref.isascii() and int(ref) <= MAX_ID):
                return _html(detail.explain_page(a, b, None, f"no item with id {ref!r}"), 404)
        from ingestd.dedup import explain  # numpy: imported by the first explain page, not at start

        try:
            found = await self._read(lambda tx: explain.explain(tx, a, b, self.dedup))
        except NotFoundError as exc:
            return _html(detail.explain_page(a, b, None, str(exc)), 404)
        return _html(detail.explain_page(a, b, found, None))

    async def css(self, _request: Request) -> Response:
        return Response(200, CSS.encode(), "text/css; charset=utf-8", _CACHED)

    async def js(self, _request: Request) -> Response:
        return Response(200, JS.encode(), "text/javascript; charset=utf-8", _CACHED)


_CACHED = {"Cache-Control": "max-age=3600"}


def _id_below(path: str, prefix: str) -> int | None:
    """The number after ``prefix`` in ``path`` (``/clusters/12``), None when it is not one."""
    rest = path[len(prefix) :]
    if not (rest.isdigit() and rest.isascii()) or len(rest) > 19 or int(rest) > MAX_ID:
        return None
    return int(rest)


def _html(body: bytes, status: int = 200) -> Response:
    return Response(status, body, HTML_TYPE)


def _missing(title: str, message: str) -> Response:
    return _html(detail.problem_page(title, message), 404)
