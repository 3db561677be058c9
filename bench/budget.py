"""What 85% of the extraction floor leaves for everything else (issue 7, item 2), measured.

On the replay world of :mod:`throughput` (the same pages, feeds and copies), this measures, one
stage at a time and each at its cheapest:

* **floor**: ingestd's ``extract_article`` on every page, one process per core (wall time and
  the workers' CPU time), exactly as ``throughput.py`` measures it;
* the work an ingest must do besides extracting, each stage alone in one process, CPU seconds:
  the process start-up (a fresh interpreter importing what ``ingest --once`` imports), the
  pool's start-up (a fresh interpreter importing and warming up what the workers run), fetching
  every feed and page with a bare aiohttp client (16 at a time, no processing), parsing every
  feed (ingestd's ``parse_feed``), signing every extracted text (``make_signature``), storing
  every item with its dedup keys, lookup and linking as a poll does (``entries.new_item``,
  ``insert_item``, ``link_new_item``) in one fresh SQLite store and one transaction for all, and
  pickling each page to a worker and its result back;
* the replay proxy's own CPU time while the client fetched (the simulated web servers: they share
  this machine's cores with an ingest pass, but not with the floor).

With ``W`` the floor's wall time on ``C`` cores, a pass that reaches 85% of the floor lasts at
most ``W / 0.85``, so it has at most ``C * W / 0.85`` CPU-seconds, extraction included, even
if every core is busy for the whole pass. What is left after extraction's own CPU time is the budget
for all the other stages together. This is a lower bound on what the other stages cost: each
is measured alone, on warm data, with nothing else running, and no coordination (event loop,
scheduling, politeness, logging, the writer thread's hand-overs) is counted.

    python -m bench.budget                # results in bench/out/budget/
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import replay
from bench.quality_replay import source_fingerprint
from ingestd.config import DedupSettings, ExtractSettings, FeedConfig
from ingestd.dedup.link import link_new_item
from ingestd.dedup.params import SignatureParams
from ingestd.dedup.signature import make_signature
from ingestd.extract.article import extract_article
from ingestd.model import Article, ExtractFailed, FeedEntry, ParsedFeed, Signature
from ingestd.parse.feed import parse_feed
from ingestd.pipeline import entries
from ingestd.store import Store

TARGET = 0.85  # issue 7: end to end at >= 85% of the floor
CONCURRENCY = 16

# What ``ingest --once`` imports before its first request, and what the pool's workers import
# (their forkserver's preloads) and warm up; each in a fresh interpreter.
MAIN_IMPORTS = (
    "import ingestd.cli.main, ingestd.pipeline.runner, ingestd.pipeline, ingestd.fetch,"
    " ingestd.store"
)
POOL_IMPORTS = "import ingestd.pipeline.work as w; w.warm_up()"

_CLIENT = """
import asyncio, sys, time
import aiohttp
async def main(proxy, urls, concurrency):
    limit = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession() as session:
        async def get(url):
            async with limit, session.get(url, proxy=proxy) as response:
                await response.read()
        started = time.process_time()
        await asyncio.gather(*(get(u) for u in urls))
        print(time.process_time() - started)
asyncio.run(main(sys.argv[1], sys.stdin.read().split(), int(sys.argv[2])))
"""


def _extract(args: tuple[bytes, str]) -> tuple[float, Article | ExtractFailed]:
    started = time.process_time()
    article = extract_article(args[0], args[1])
    return time.process_time() - started, article


def floor(pages: list[tuple[bytes, str]]) -> tuple[float, float, list[Article | ExtractFailed]]:
    """Wall time and the workers' CPU time of extracting every page, one process per core."""
    started = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        results = list(pool.map(_extract, pages, chunksize=4))
    wall = time.perf_counter() - started
    return wall, sum(cpu for cpu, _ in results), [article for _, article in results]


def interpreter_cpu(code: str, tree: Path) -> float:
    """CPU seconds of a fresh ``python -c code`` (user + system), minus a bare interpreter's."""

    def run(source: str) -> float:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        env = dict(os.environ, PYTHONPATH=str(tree))
        subprocess.run([sys.executable, "-c", source], check=True, env=env, cwd=tree)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime

    bare = min(run("pass") for _ in range(3))
    return min(run(code) for _ in range(3)) - bare


def fetch_cpu(world: replay.World, urls: list[str]) -> tuple[float, float]:
    """(client CPU, proxy CPU) of fetching ``urls`` through the replay proxy with bare aiohttp.

    The client runs in its own process and times only its requests; the proxy's threads run in
    this one, which does nothing else meanwhile."""
    with (
        tempfile.TemporaryDirectory() as folder,
        replay.ReplayProxy(world, Path(folder) / "log.jsonl") as proxy,
    ):
        # http:// in absolute form: the proxy serves both schemes of an address alike
        plain = "\n".join("http://" + url.split("://", 1)[1] for url in urls)
        before = resource.getrusage(resource.RUSAGE_SELF)
        done = subprocess.run(
            [sys.executable, "-c", _CLIENT, proxy.url, str(CONCURRENCY)],
            input=plain,
            capture_output=True,
            text=True,
            check=True,
        )
        after = resource.getrusage(resource.RUSAGE_SELF)
        served = sum(proxy.counts.values())
    if served != len(urls):
        raise RuntimeError(f"budget: the proxy served {served} of {len(urls)} requests")
    proxy_cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return float(done.stdout.strip()), proxy_cpu


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    """(CPU seconds of this process, result) of ``fn(*args)``."""
    started = time.process_time()
    result = fn(*args)
    return time.process_time() - started, result


def sign_all(articles: list[Article]) -> list[Signature]:
    params = SignatureParams()
    return [make_signature(a.text, a.title, params) for a in articles]


@dataclass(frozen=True)
class NewEntry:
    """A page to store, as a poll would: its feed, the parsed feed, the entry and its key."""

    feed_url: str
    parsed: ParsedFeed
    key: str
    entry: FeedEntry


def entries_by_page(feeds: list[tuple[str, ParsedFeed]]) -> dict[str, NewEntry]:
    """Each page URL's first entry in the feeds (by the proxy's route key)."""
    found: dict[str, NewEntry] = {}
    for feed_url, parsed in feeds:
        for key, entry in entries.keyed_entries(parsed, ExtractSettings.max_entries).items():
            if entry.url:
                found.setdefault(
                    replay.route_key(entry.url), NewEntry(feed_url, parsed, key, entry)
                )
    return found


def store_all(
    pages: list[tuple[NewEntry, Article, Signature]], feed_urls: list[str], folder: Path
) -> tuple[float, int]:
    """CPU seconds of storing every page's item as a poll does (``entries.new_item``,
    ``insert_item``, ``link_new_item``) in one fresh SQLite store and one transaction, the
    cheapest way to store them; and how many joined an earlier item's story."""
    store = Store.open(f"sqlite:///{folder / 'budget.sqlite3'}")
    settings, now, linked = DedupSettings(), datetime.now(UTC), 0
    try:
        with store.transaction() as tx:
            tx.sync_feeds([FeedConfig(url) for url in feed_urls], now)
            records = {feed.url: feed for feed in tx.feeds()}
        started = time.process_time()
        with store.transaction() as tx:
            for new, article, sig in pages:
                ready = entries.Ready(new.entry, new.key, article, sig, new.entry.url)
                item, signature = entries.new_item(
                    tx, records[new.feed_url], new.parsed, ready, now
                )
                item_id = tx.insert_item(item)
                linked += link_new_item(tx, item_id, item, signature, settings, now).republication
        cpu = time.process_time() - started
    finally:
        store.close()
    return cpu, linked


def pickling(pages: list[tuple[bytes, str]], results: list[Any]) -> None:
    """Each page to a worker and each result back, as the process pool sends them."""
    for page, result in zip(pages, results, strict=True):
        pickle.loads(pickle.dumps(page, pickle.HIGHEST_PROTOCOL))
        pickle.loads(pickle.dumps(result, pickle.HIGHEST_PROTOCOL))


def measure(world: replay.World) -> dict[str, Any]:
    tree = Path(__file__).resolve().parents[1]
    page_urls = list(world.labels)
    pages = [(world.resources[replay.route_key(url)].body, url) for url in page_urls]
    feed_bodies = [(world.resources[replay.route_key(f.url)].body, f.url) for f in world.feeds]
    cores = os.cpu_count() or 1

    floor_wall, floor_cpu, extracted = floor(pages)
    kept = [(a, p) for a, p in zip(extracted, pages, strict=True) if isinstance(a, Article)]
    articles, kept_pages = [a for a, _ in kept], [p for _, p in kept]

    stages: dict[str, float] = {}
    stages["process start-up (imports)"] = interpreter_cpu(MAIN_IMPORTS, tree)
    stages["pool start-up (imports, warm-up)"] = interpreter_cpu(POOL_IMPORTS, tree)
    client, proxy_cpu = fetch_cpu(world, [f.url for f in world.feeds] + page_urls)
    stages["fetching (bare aiohttp)"] = client
    stages["feed parsing"], parsed = timed(
        lambda: [(url, parse_feed(body, url, None)) for body, url in feed_bodies]
    )
    stages["signatures"], signatures = timed(sign_all, articles)
    by_page = entries_by_page([(url, p) for url, p in parsed if isinstance(p, ParsedFeed)])
    to_store = [
        (by_page[replay.route_key(url)], article, sig)
        for (_, url), article, sig in zip(kept_pages, articles, signatures, strict=True)
    ]
    with tempfile.TemporaryDirectory() as folder:
        stages["store, lookup, link"], linked = store_all(
            to_store, [f.url for f in world.feeds], Path(folder)
        )
    results = list(zip(articles, signatures, strict=True))
    stages["pickling to and from workers"], _ = timed(pickling, kept_pages, results)

    allowed = cores * floor_wall / TARGET
    budget = allowed - floor_cpu
    needed = sum(stages.values())
    return {
        "pages": len(pages),
        "feeds": len(world.feeds),
        "cores": cores,
        "floor_wall_s": round(floor_wall, 2),
        "floor_cpu_s": round(floor_cpu, 2),
        "cpu_allowed_at_85pct_s": round(allowed, 2),
        "budget_besides_extraction_s": round(budget, 2),
        "stages_cpu_s": {name: round(value, 3) for name, value in stages.items()},
        "stages_total_s": round(needed, 2),
        "proxy_cpu_s": round(proxy_cpu, 2),
        "items_linked_to_an_earlier_one": linked,
        "best_possible_vs_floor": round(floor_wall / ((floor_cpu + needed) / cores), 3),
        "machine": {"nproc": cores, "python": sys.version.split()[0], "loadavg": os.getloadavg()},
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "source": source_fingerprint(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=None, help="N originals (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--copies", type=float, default=replay.COPY_SHARE)
    parser.add_argument("--out", type=Path, default=replay.BENCH_OUT / "budget")
    args = parser.parse_args()
    world, _, _ = replay.prepare(args.pages, args.seed, args.out, copy_share=args.copies)
    result = measure(world)
    (args.out / "result.json").write_text(json.dumps(result, indent=1), "utf-8")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
