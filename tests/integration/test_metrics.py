"""Observability: Prometheus text from the pipeline's events and the store, the HTTP listener,
``/healthz``, and ``ingest stats``."""

from __future__ import annotations

import asyncio
import re
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ingestd.config import FeedConfig
from ingestd.service.endpoints import Endpoints, Liveness
from ingestd.service.listener import Listener, Request, Response, split_address
from ingestd.service.metrics import MAX_REASONS, Metrics
from ingestd.store import NewItem, Store
from ingestd.store.upkeep import gauges, stats
from tests.support.sites import json_lines, run_ingest
from tests.system.test_daemon import _demo_config

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-z_]+="(?:[^"\\]|\\.)*",?)*\})? (\S+)$')


def parse_exposition(text: str) -> dict[str, float]:
    """Samples by name+labels; fails on anything that is not valid text format 0.0.4, or on a
    sample whose family has no HELP and TYPE line before it."""
    assert text.endswith("\n")
    typed: set[str] = set()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            if line.startswith("# TYPE "):
                name, kind = line.split(" ")[2:4]
                assert kind in ("counter", "gauge", "histogram"), line
                typed.add(name)
            continue
        match = _SAMPLE.match(line)
        assert match, f"not a sample line: {line!r}"
        family = re.sub(r"_(bucket|sum|count)$", "", match.group(1))
        assert match.group(1) in typed or family in typed, f"no TYPE before {line!r}"
        samples[line.rsplit(" ", 1)[0]] = float(match.group(4).replace("+Inf", "inf"))
    return samples


def test_events_become_counters_and_histograms() -> None:
    metrics = Metrics()
    metrics.pass_started(3)
    metrics.poll_finished("http://a/feed", "new", 4, 1, 0.3)
    metrics.poll_finished("http://b/feed", "failed", 0, 0, 12.0)
    metrics.fetch_finished("feed", "ok", 0.02)
    metrics.fetch_finished("page", "ok", 0.2)
    metrics.fetch_finished("page", "ok", 99.0)  # beyond the last bucket: +Inf only
    metrics.extraction_failed("extracted text too short (12 characters)")
    samples = parse_exposition(metrics.render(None))
    assert samples['ingestd_polls_total{outcome="new"}'] == 1
    assert samples['ingestd_polls_total{outcome="failed"}'] == 1
    assert samples["ingestd_passes_total"] == 1
    assert samples["ingestd_items_new_total"] == 4
    assert samples["ingestd_items_republication_total"] == 1
    reason = 'ingestd_extraction_failures_total{reason="extracted text too short"}'
    assert samples[reason] == 1
    page = 'ingestd_fetch_duration_seconds_bucket{kind="page",outcome="ok",le="%s"}'
    assert samples[page % "0.1"] == 0
    assert samples[page % "0.25"] == 1
    assert samples[page % "60"] == 1
    assert samples[page % "+Inf"] == 2
    assert samples['ingestd_fetch_duration_seconds_count{kind="page",outcome="ok"}'] == 2
    assert samples['ingestd_fetch_duration_seconds_sum{kind="page",outcome="ok"}'] == 99.2
    assert samples["process_resident_memory_bytes"] > 0
    assert samples["process_open_fds"] > 0


def test_failure_reasons_are_bounded_labels() -> None:
    """A flood of distinct reasons cannot blow up the label set."""
    metrics = Metrics()
    for n in range(MAX_REASONS + 10):
        metrics.extraction_failed(f'reason "{n}": detail\nwith a newline')
    samples = parse_exposition(metrics.render(None))
    labelled = [k for k in samples if k.startswith("ingestd_extraction_failures_total{")]
    assert len(labelled) == MAX_REASONS + 1
    assert samples['ingestd_extraction_failures_total{reason="other"}'] == 10
    assert 'ingestd_extraction_failures_total{reason="reason \\"0\\""}' in samples


def _fill(store: Store) -> None:
    """Three feeds (one inactive, one due), two items."""
    configured = [FeedConfig(f"https://{n}.example/feed.xml") for n in ("a", "b", "c")]
    with store.transaction() as tx:
        tx.sync_feeds(configured, NOW)
        tx.sync_feeds(configured[:2], NOW)  # c is no longer configured
        a, b = (feed.id for feed in tx.feeds(active_only=True))
        tx.update_feed(a, status="ok", next_poll_at=NOW + timedelta(minutes=30))
        tx.update_feed(b, status="failing", next_poll_at=NOW - timedelta(minutes=1))
        for key, note in (("k1", None), ("k2", "extract: no article text found at x")):
            tx.insert_item(_item(a, key, note))


def _item(feed_id: int, key: str, note: str | None) -> NewItem:
    return NewItem(
        feed_id=feed_id,
        entry_key=key,
        guid=None,
        url=None,
        url_norm=None,
        canonical_url=None,
        canonical_norm=None,
        site_host=None,
        site_name=None,
        title="t",
        published_at=None,
        fetched_at=NOW,
        text="",
        text_source="feed" if note else "page",
        extract_note=note,
        body_hash=None,
        n_words=0,
        shingles=b"",
        narrative=b"",
        minhash=b"",
        attribution=(),
        compilation=False,
    )


def test_gauges_and_stats_read_the_store(store: Store) -> None:
    """Feeds by status (active only), inactive feeds, queue depth, items, clusters."""
    _fill(store)
    with store.transaction(write=False) as tx:
        found = gauges(tx, NOW)
        totals = stats(tx, NOW)
    assert found.feeds_by_status == {"ok": 1, "failing": 1}
    assert found.feeds_inactive == 1
    assert found.queue_depth == 1
    assert (found.items, found.clusters) == (2, 0)
    assert totals.items_by_role == {"single": 2}
    assert totals.extraction_failures == 1


def _serve(routes: dict[str, Any], check: Callable[[str], Awaitable[None]]) -> None:
    async def main() -> None:
        listener = Listener("127.0.0.1:0", routes)
        host, port = await listener.start()
        try:
            await check(f"http://{host}:{port}")
        finally:
            await listener.close()

    asyncio.run(main())


def _get(url: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_listener_routes_paths_and_refuses_the_rest() -> None:
    async def hello(request: Request) -> Response:
        return Response(200, f"hello {request.query.get('who', ['?'])[0]}\n".encode())

    async def broken(_request: Request) -> Response:
        raise RuntimeError("boom")

    async def check(base: str) -> None:
        status, headers, body = await asyncio.to_thread(_get, base + "/hello?who=you")
        assert (status, body) == (200, b"hello you\n")
        assert headers["Content-Length"] == str(len(body))
        assert (await asyncio.to_thread(_get, base + "/nope"))[0] == 404
        status, _, body = await asyncio.to_thread(_get, base + "/hello", "HEAD")
        assert (status, body) == (200, b"")
        status, headers, _ = await asyncio.to_thread(_get, base + "/hello", "POST")
        assert status == 405 and headers["Allow"] == "GET, HEAD"
        status, _, _ = await asyncio.to_thread(_get, base + "/broken")
        assert status == 500

    _serve({"/hello": hello, "/broken": broken}, check)


def test_split_address() -> None:
    assert split_address("127.0.0.1:9464") == ("127.0.0.1", 9464)
    assert split_address("[::1]:0") == ("::1", 0)


def test_healthz_is_200_only_while_the_loop_ticks_and_the_store_answers(tmp_path: Path) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/h.sqlite3")
    liveness = Liveness(tick_s=10.0)
    endpoints = Endpoints(store, Metrics(), liveness, lambda: 0)

    async def check(base: str) -> None:
        assert (await asyncio.to_thread(_get, base + "/healthz"))[:1] == (200,)
        status, headers, body = await asyncio.to_thread(_get, base + "/metrics")
        assert status == 200 and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        samples = parse_exposition(body.decode())
        assert samples["ingestd_store_up"] == 1 and samples["ingestd_healthy"] == 1
        assert samples["ingestd_items"] == 0 and samples["ingestd_queue_depth"] == 0
        liveness.last_tick -= 60  # the scheduler stopped ticking
        status, _, body = await asyncio.to_thread(_get, base + "/healthz")
        assert status == 503 and b"has not ticked" in body
        liveness.ticked()
        liveness.busy, liveness.last_progress = True, liveness.last_progress - 3600
        status, _, body = await asyncio.to_thread(_get, base + "/healthz")
        assert status == 503 and b"no progress" in body
        liveness.busy = False
        liveness.last_pass -= 3600  # ticks, but no pass has started for an hour
        status, _, body = await asyncio.to_thread(_get, base + "/healthz")
        assert status == 503 and body.startswith(b"unhealthy: pass overdue")
        liveness.pass_started(0)
        liveness.store_problem = "store: no space left for the database (disk full)"
        status, _, body = await asyncio.to_thread(_get, base + "/healthz")
        assert status == 503 and b"no space left for the database" in body
        liveness.store_problem = None
        (tmp_path / "h.sqlite3").unlink()
        (tmp_path / "h.sqlite3").mkdir()  # the database file is gone: a new connection fails
        store.engine.dispose()
        status, _, body = await asyncio.to_thread(_get, base + "/healthz")
        assert status == 503 and b"store unreachable" in body
        samples = parse_exposition((await asyncio.to_thread(_get, base + "/metrics"))[2].decode())
        assert samples["ingestd_store_up"] == 0

    try:
        _serve(endpoints.routes(), check)
    finally:
        endpoints.close()
        store.close()


def test_ingest_stats_shows_the_database_numbers(tmp_path: Path) -> None:
    """`ingest stats --json` after the demo: what `items list` and `clusters list` show."""
    config = _demo_config(tmp_path)
    state = tmp_path / "state"
    assert run_ingest(["--once"], state, config=config).returncode == 0
    found = json_lines(run_ingest(["stats", "--json"], state, config=config))[0]
    items = json_lines(run_ingest(["items", "list", "--json"], state, config=config))
    clusters = json_lines(run_ingest(["clusters", "list", "--json"], state, config=config))
    assert found["items"] == len(items) == found["polls"]["new_items"]
    assert found["clusters"] == len(clusters)
    assert found["feeds"]["by_status"] == {"ok": 4}
    assert found["queue_depth"] == 0
    assert found["polls"]["by_outcome"] == {"new": 4}
    assert sum(found["items_by_role"].values()) == len(items)
    text = run_ingest(["stats"], state, config=config)
    assert text.returncode == 0 and "queue depth" in text.stdout
