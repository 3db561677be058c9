"""The web pages at a million items (issue 28): ``/`` and ``/clusters/ID`` must answer in
≤ 100 ms median.

1. **Fill** (once; reused with ``--database``): a SQLite store of ``--items`` items written
   straight into the tables (no signatures: the pages never read them), in stories as a feed
   world has them: most items alone, the rest in clusters of 2-12 copies, each copy the
   canonical text with paragraphs dropped, an added paragraph and sometimes an attribution line.
   Items belong to ``FEEDS`` feeds over 60 days; a million items take a few minutes and ~2 GB.
2. **Pages**, through the real listener on 127.0.0.1 (one request at a time, after a warm-up):
   the first page of ``/``, a page deep in it (a cursor in the middle), each filter, random
   ``/clusters/ID`` and ``/items/ID``. Median, p90 and max per kind, in ms.

    python -m bench.web_pages --items 1000000 --database bench/out/web/ingestd.sqlite3
    python -m bench.web_pages --items 20000          # quick, in a temporary folder
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from ingestd.config import DedupSettings
from ingestd.service.listener import Listener
from ingestd.service.web.app import WebPages
from ingestd.store import Store, Transaction
from ingestd.store.schema import clusters, feeds, items

FEEDS = 50
CHUNK = 5000  # items per insert batch
START = datetime(2026, 9, 1, tzinfo=UTC)
SPAN_S = 60 * 86400  # the items' times spread over this
SIZES = [1] * 60 + [2] * 18 + [3] * 10 + [4] * 6 + [6] * 4 + [12] * 2  # items per story
REASONS = ["minhash"] * 6 + ["attribution", "canonical_link", "body_hash", "url"]
_WORDS = [f"{a}{b}{c}" for a in "bdfgklmnprst" for b in "aeiou" for c in ("", "n", "ra", "lo")]


def _paragraphs(rng: random.Random, count: int) -> list[str]:
    return [
        " ".join(rng.choices(_WORDS, k=rng.randint(30, 60))).capitalize() + "."
        for _ in range(count)
    ]


def _stories(seed: int, want: int) -> Iterator[list[dict[str, Any]]]:
    """Item rows story by story (the first is the canonical one), ``want`` items in all."""
    rng = random.Random(seed)
    made = 0
    while made < want:
        size = min(rng.choice(SIZES), want - made)
        body = _paragraphs(rng, rng.randint(4, 9))
        when = START + timedelta(seconds=rng.randrange(SPAN_S))
        rows = []
        for copy in range(size):
            text = body if copy == 0 else _copy_of(rng, body)
            feed = rng.randrange(1, FEEDS + 1)
            at = when + timedelta(minutes=30 * copy)
            key = f"s{made + copy}"
            url = f"https://site{feed}.example/{key}"
            rows.append(
                {
                    "feed_id": feed,
                    "entry_key": key,
                    "url": url,
                    "url_norm": url,
                    "site_host": f"site{feed}.example",
                    "title": " ".join(rng.choices(_WORDS, k=6)).capitalize(),
                    "published_at": at,
                    "fetched_at": at,
                    "text": "\n".join(text),
                    "n_words": sum(len(p.split()) for p in text),
                    "role": "single",
                }
            )
        made += size
        yield rows


def _copy_of(rng: random.Random, body: list[str]) -> list[str]:
    kept = body[: rng.randint(max(1, len(body) - 3), len(body))]
    extra = _paragraphs(rng, 1)
    if rng.random() < 0.2:
        extra.append("This article was originally published at site1.example.")
    return kept + extra


def fill(store: Store, want: int, seed: int) -> None:
    """Write ``want`` items (and their clusters) into an empty store."""
    now = datetime.now(UTC)
    with store.transaction() as tx:
        for feed in range(1, FEEDS + 1):
            tx.conn.execute(
                feeds.insert().values(
                    id=feed,
                    url=f"https://site{feed}.example/feed.xml",
                    status="ok",
                    consecutive_failures=0,
                    created_at=now,
                )
            )
    item_rows: list[dict[str, Any]] = []
    cluster_rows: list[dict[str, Any]] = []
    next_item, next_cluster = 1, 1
    started = time.monotonic()
    for story in _stories(seed, want):
        ids = list(range(next_item, next_item + len(story)))
        next_item += len(story)
        if len(story) > 1:
            _cluster(story, ids, next_cluster, cluster_rows, seed)
            next_cluster += 1
        for item_id, row in zip(ids, story, strict=True):
            item_rows.append({"id": item_id, **row})
        if len(item_rows) >= CHUNK:
            _write(store, item_rows, cluster_rows)
            item_rows, cluster_rows = [], []
            print(f"  {next_item - 1} items, {time.monotonic() - started:.0f} s", flush=True)
    _write(store, item_rows, cluster_rows)


def _cluster(
    story: list[dict[str, Any]], ids: list[int], cluster_id: int, out: list[Any], seed: int
) -> None:
    rng = random.Random(seed * 7919 + cluster_id)
    reason = rng.choice(REASONS)
    for index, row in enumerate(story):
        row["cluster_id"] = cluster_id
        row["role"] = "canonical" if index == 0 else "republication"
        if index:
            row["link_reason"] = reason if index == 1 else "minhash"
            row["match_reason"] = row["link_reason"]
            row["similarity"] = round(rng.uniform(0.5, 1.0), 4)
            row["similarity_measure"] = "jaccard"
    evidence = {"reason": "earliest", "evidence": "the earliest publication", "signals": []}
    out.append(
        {
            "id": cluster_id,
            "canonical_item_id": ids[0],
            "canonical_reason": "earliest",
            "evidence": json.dumps(evidence),
            "size": len(story),
            "created_at": story[0]["fetched_at"],
            "updated_at": story[-1]["fetched_at"],
        }
    )


def _write(store: Store, item_rows: list[Any], cluster_rows: list[Any]) -> None:
    with store.transaction() as tx:
        if cluster_rows:
            tx.conn.execute(clusters.insert(), cluster_rows)
        if item_rows:
            keys = {key for row in item_rows for key in row}
            rows = [{key: row.get(key) for key in keys} for row in item_rows]
            for row in rows:
                row["role"] = row["role"] or "single"
            tx.conn.execute(items.insert(), rows)


def _counts(tx: Transaction) -> tuple[int, int]:
    n_items = tx.conn.execute(select(func.count()).select_from(items)).scalar() or 0
    n_clusters = tx.conn.execute(select(func.count()).select_from(clusters)).scalar() or 0
    return int(n_items), int(n_clusters)


def _paths(store: Store, rng: random.Random, count: int) -> dict[str, list[str]]:
    """The requests to time, by kind."""
    with store.transaction(write=False) as tx:
        n_items, n_clusters = _counts(tx)
        middle = tx.conn.execute(
            select(clusters.c.updated_at, clusters.c.id)
            .order_by(clusters.c.updated_at.desc(), clusters.c.id.desc())
            .offset(n_clusters // 2)
            .limit(1)
        ).first()
    assert middle is not None, "the store holds no cluster"
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    updated = middle.updated_at.replace(tzinfo=UTC)
    micros = (updated - epoch) // timedelta(microseconds=1)
    return {
        "/ (first page)": ["/"] * count,
        "/ (deep cursor)": [f"/?after={micros}.{middle.id}"] * count,
        "/?site=": [f"/?site=site{rng.randrange(1, FEEDS + 1)}.example" for _ in range(count)],
        "/?feed=": [
            f"/?feed=https://site{rng.randrange(1, FEEDS + 1)}.example/feed.xml"
            for _ in range(count)
        ],
        "/?signal=attribution": ["/?signal=attribution"] * count,
        "/?since=7d (of the newest)": ["/?since=2026-10-24"] * count,
        "/clusters/ID": [f"/clusters/{rng.randrange(1, n_clusters + 1)}" for _ in range(count)],
        "/items/ID": [f"/items/{rng.randrange(1, n_items + 1)}" for _ in range(count)],
    }


def time_pages(store: Store, count: int, seed: int) -> dict[str, dict[str, float]]:
    """Median, p90 and max (ms) of ``count`` requests of each kind, over HTTP."""
    pages = WebPages(store, DedupSettings())
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    listener = Listener("127.0.0.1:0", pages.routes())
    host, port = asyncio.run_coroutine_threadsafe(listener.start(), loop).result(10)
    base = f"http://{host}:{port}"
    results: dict[str, dict[str, float]] = {}
    try:
        for kind, paths in _paths(store, random.Random(seed), count).items():
            for path in paths[:3]:  # warm-up
                _get(base + path)
            spent = []
            for path in paths:
                began = time.perf_counter()
                _get(base + path)
                spent.append((time.perf_counter() - began) * 1000)
            spent.sort()
            results[kind] = {
                "median_ms": round(statistics.median(spent), 1),
                "p90_ms": round(spent[int(0.9 * (len(spent) - 1))], 1),
                "max_ms": round(spent[-1], 1),
            }
            print(f"{kind:28} {results[kind]}", flush=True)
    finally:
        asyncio.run_coroutine_threadsafe(listener.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        pages.close()
    return results


def _get(url: str) -> None:
    with urllib.request.urlopen(url, timeout=60) as answer:
        if answer.status != 200:
            raise RuntimeError(f"{url}: {answer.status}")
        answer.read()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=50, help="timed requests per kind")
    parser.add_argument("--seed", type=int, default=28)
    parser.add_argument("--database", type=Path, help="SQLite file (filled when empty; kept)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        path = args.database or Path(scratch) / "web.sqlite3"
        path.parent.mkdir(parents=True, exist_ok=True)
        store = Store.open(f"sqlite:///{path}")
        try:
            with store.transaction(write=False) as tx:
                have, _ = _counts(tx)
            if have == 0:
                began = time.monotonic()
                fill(store, args.items, args.seed)
                print(f"filled {args.items} items in {time.monotonic() - began:.0f} s")
            with store.transaction(write=False) as tx:
                n_items, n_clusters = _counts(tx)
            print(f"store: {n_items} items, {n_clusters} clusters")
            results = time_pages(store, args.requests, args.seed)
        finally:
            store.close()
    if args.json:
        print(json.dumps({"items": n_items, "clusters": n_clusters, "pages": results}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
