"""The daemon's health and HTTP endpoints: liveness of the scheduling loop, ``/healthz``,
``/metrics``, the deduplicated feeds ``/feed.atom`` and ``/feed.json``, and ``/`` (a page
linking to them).

Store reads for the endpoints run on their own thread (one), never queued behind the
pipeline's writer, and give up after ``PROBE_TIMEOUT_S``. The feeds' self links and ids come
from the configured public URL (:attr:`Endpoints.public_url`), never from the request's
``Host`` header; they answer conditional requests with 304 and gzip when asked
(:mod:`ingestd.service.httpcache`).
"""

from __future__ import annotations

import asyncio
import html
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import structlog

from ingestd.errors import NotFoundError, UserError
from ingestd.feedout import export
from ingestd.pipeline.events import NoEvents
from ingestd.service.httpcache import conditional
from ingestd.service.listener import Handler, Request, Response
from ingestd.service.metrics import CONTENT_TYPE, Metrics
from ingestd.store import Store
from ingestd.store.upkeep import Gauges, gauges, ping

STALL_S = 300.0  # a pass that reports no progress (fetch, poll) for this long is stuck
OVERDUE_TICKS = 6  # no pass started for this many scheduler ticks (and none in flight): overdue
PROBE_TIMEOUT_S = 5.0  # /healthz and /metrics give up on the store after this long
log = structlog.get_logger("ingestd.endpoints")


class Liveness(NoEvents):
    """When the scheduling loop last ticked and the pass in flight last made progress.

    It observes the pipeline (every event is progress); the daemon calls :meth:`ticked` from
    its scheduler job and sets :attr:`busy` around a pass.
    """

    def __init__(self, tick_s: float) -> None:
        self.tick_s = tick_s
        self.last_tick = self.last_progress = self.last_pass = time.monotonic()
        self.last_tick_wall = time.time()
        self.busy = False
        self.stopping = False
        self.store_problem: str | None = None  # set while the store is full (the daemon pauses)

    def ticked(self) -> None:
        self.last_tick, self.last_tick_wall = time.monotonic(), time.time()

    def progressed(self) -> None:
        self.last_progress = time.monotonic()

    def pass_started(self, due_feeds: int) -> None:
        self.last_pass = time.monotonic()
        self.progressed()

    def poll_finished(
        self, feed_url: str, outcome: str, new_items: int, republications: int, duration_s: float
    ) -> None:
        self.progressed()

    def fetch_finished(self, kind: str, outcome: str, duration_s: float) -> None:
        self.progressed()

    def problem(self) -> str | None:
        """Why the loop looks stuck, or None while it is alive."""
        now = time.monotonic()
        if now - self.last_tick > 3 * self.tick_s:
            return f"the scheduler has not ticked for {now - self.last_tick:.0f} s"
        if self.busy and now - self.last_progress > STALL_S:
            return f"the pass in flight has made no progress for {now - self.last_progress:.0f} s"
        if not self.busy and now - self.last_pass > OVERDUE_TICKS * self.tick_s:
            return (
                f"pass overdue: none has started for {now - self.last_pass:.0f} s"
                f" (one should start every {self.tick_s:.0f} s)"
            )
        return None


class Endpoints:
    """``/healthz`` and ``/metrics`` over one store, one :class:`Metrics`, one liveness."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics,
        liveness: Liveness,
        feeds_configured: Callable[[], int],
        public_url: str | None = None,
    ) -> None:
        """``public_url`` is where readers reach the listener (``http://host:port/``, ending
        with a slash): the served feeds' id, self link and home page. None: they have none."""
        self.store = store
        self.metrics = metrics
        self.liveness = liveness
        self.feeds_configured = feeds_configured
        self.public_url = public_url
        self.started = datetime.now(UTC).replace(microsecond=0)  # an empty feed's update time
        self._probe = ThreadPoolExecutor(max_workers=1, thread_name_prefix="ingestd-probe")

    def routes(self) -> dict[str, Handler]:
        """Path → handler for the listener; the daemon may add its own entries."""
        return {
            "/": self.index,
            "/metrics": self.metrics_page,
            "/healthz": self.healthz,
            "/feed.atom": self.atom,
            "/feed.json": self.json_feed,
        }

    async def index(self, _request: Request) -> Response:
        """A small page linking to the feeds (JSON Feed's ``home_page_url``)."""
        links = "".join(
            f'<li><a href="{path}">{path}</a>: {html.escape(what)}</li>'
            for path, what in (
                ("feed.atom", "deduplicated stories, Atom 1.0"),
                ("feed.json", "deduplicated stories, JSON Feed 1.1"),
                ("metrics", "Prometheus metrics"),
                ("healthz", "health"),
            )
        )
        page = f"<!DOCTYPE html><title>ingestd</title><h1>ingestd</h1><ul>{links}</ul>\n"
        return Response(200, page.encode(), "text/html; charset=utf-8")

    async def atom(self, request: Request) -> Response:
        """The deduplicated stream as Atom 1.0 (``?since=7d&feed=URL&limit=50``)."""
        return await self._feed(request, "atom", export.ATOM_MEDIA_TYPE)

    async def json_feed(self, request: Request) -> Response:
        """The deduplicated stream as JSON Feed 1.1 (same query as ``/feed.atom``)."""
        return await self._feed(request, "jsonfeed", export.JSON_FEED_MEDIA_TYPE)

    async def _feed(self, request: Request, fmt: str, kind: str) -> Response:
        """A feed document for the query: 400 for an unreadable value, 404 for an unknown
        feed, 304 when the reader's copy is current."""
        try:
            chosen = export.selection_from_query(request.query, datetime.now(UTC))
        except UserError as exc:
            return Response(400, f"{exc}\n".encode())
        served = self._served(request)
        try:
            found = await self.read(
                lambda tx: export.document(tx, fmt, chosen, served, self.started)
            )
        except NotFoundError as exc:
            return Response(404, f"{exc}\n".encode())
        return conditional(request.headers, found.body, found.updated, kind)

    def _served(self, request: Request) -> export.Served | None:
        """The self link (public URL, path, and the selection's own parameters) and home."""
        if self.public_url is None:
            return None
        asked = [
            (name, request.query[name][0]) for name in export.QUERY_NAMES if request.query.get(name)
        ]
        query = f"?{urlencode(asked)}" if asked else ""
        return export.Served(f"{self.public_url}{request.path.lstrip('/')}{query}", self.public_url)

    def close(self) -> None:
        self._probe.shutdown(wait=False, cancel_futures=True)

    async def read(self, fn: Callable[[Any], Any]) -> Any:
        """Run ``fn(tx)`` in a read-only transaction on the probe thread, with a timeout."""

        def run() -> Any:
            with self.store.transaction(write=False) as tx:
                return fn(tx)

        loop = asyncio.get_running_loop()
        return await asyncio.wait_for(loop.run_in_executor(self._probe, run), PROBE_TIMEOUT_S)

    async def healthz(self, _request: Request) -> Response:
        """200 while the scheduling loop is alive and the store answers and has room; 503
        and why, else."""
        live = self.liveness
        problem = "stopping" if live.stopping else live.store_problem
        if problem is None:  # the store first: a pass that cannot start is overdue because of it
            try:
                await self.read(ping)
            except Exception as exc:
                problem = f"store unreachable: {str(exc) or type(exc).__name__}"
        problem = problem or live.problem()
        if problem is not None:
            return Response(503, f"unhealthy: {problem}\n".encode())
        return Response(200, b"ok\n")

    async def metrics_page(self, _request: Request) -> Response:
        found: Gauges | None = None
        try:
            found = await self.read(lambda tx: gauges(tx, datetime.now(UTC)))
        except Exception as exc:
            log.warning("metrics: store gauges unavailable", error=str(exc) or type(exc).__name__)
        live = self.liveness
        extra = {
            "ingestd_store_up": (
                "1 when the store answered this scrape.",
                float(found is not None),
            ),
            "ingestd_healthy": (
                "1 while the scheduling loop is alive.",
                float(live.problem() is None),
            ),
            "ingestd_scheduler_last_tick_timestamp_seconds": (
                "When the scheduler last looked for due feeds (Unix seconds).",
                live.last_tick_wall,
            ),
            "ingestd_pass_in_flight": ("1 while a pass over due feeds runs.", float(live.busy)),
            "ingestd_feeds_configured": (
                "Feeds in the configuration.",
                float(self.feeds_configured()),
            ),
        }
        return Response(200, self.metrics.render(found, extra).encode(), CONTENT_TYPE)
