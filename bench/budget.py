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
  every item with its dedup keys, lookup and linking in one fresh SQLite store
  (``insert_item`` + ``link_new_item``, one transaction each), and pickling each page to a worker
  and its result back;
* the replay proxy's own CPU time while the client fetched (the simulated web servers: they share
  this machine's cores with an ingest pass, but not with the floor).

With ``W`` the floor's wall time on ``C`` cores, a pass that reaches 85% of the floor lasts at most
``W / 0.85``, so it has at most ``C * W / 0.85`` CPU-seconds, extraction included, even if every
core is busy for the whole pass. What is left after extraction's own CPU time is the budget
for all the other stages together. This is a lower bound on what the other stages cost: each
is measured alone, on warm data, with nothing else running, and no coordination (event loop,
scheduling, politeness, logging, the writer thread's hand-overs) is counted.

    python bench/budget.py                # results in bench/out/budget/
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
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import replay
from dedup_cost import add_bench_feeds
from quality_replay import source_fingerprint

from ingestd.config import DedupSettings
from ingestd.dedup.signature import make_signature
from ingestd.extract import extract_article
from ingestd.linking import link_new_item
from ingestd.model import Article, ExtractFailed, Signature
from ingestd.parse import parse_feed
from ingestd.store import NewItem, Store
from ingestd.urls import normalize_url, site_host
from ingestd.work import SignatureParams

TARGET = 0.85  # issue 7: end to end at >= 85% of the floor
CONCURRENCY = 16

# What ``ingest --once`` imports before its first request, and what the pool's workers import
# (their forkserver's preloads) and warm up; each in a fresh interpreter.
MAIN_IMPORTS = "import ingestd.cli, ingestd.runner, ingestd.pipeline, ingestd.fetch, ingestd.store"
POOL_IMPORTS = "import ingestd.work as w; w.warm_up()"

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


def _new_item(index: int, article: Article, url: str, sig: Signature, now: datetime) -> NewItem:
    canonical = article.canonical_url
    return NewItem(
        feed_id=1,
        entry_key=f"e{index}",
        guid=None,
        url=url,
        url_norm=normalize_url(url),
        canonical_url=canonical,
        canonical_norm=normalize_url(canonical) if canonical else None,
        site_host=site_host(url),
        site_name=article.site_name,
        title=article.title,
        published_at=article.published,
        fetched_at=now,
        text=article.text,
        text_source="page",
        extract_note=None,
        body_hash=sig.body_hash,
        n_words=sig.n_words,
        shingles=sig.shingles,
        narrative=sig.narrative,
        minhash=sig.minhash,
        attribution=sig.attribution,
        compilation=sig.compilation_hint,
    )


def store_all(
    articles: list[Article], urls: list[str], signatures: list[Signature], folder: Path
) -> int:
    """Store every item with its keys, lookup and linking (``insert_item`` +
    ``link_new_item``) in one fresh SQLite store and one transaction, the cheapest way to
    store them; returns how many joined an earlier item's story."""
    store = Store.open(f"sqlite:///{folder / 'budget.sqlite3'}")
    settings, now, linked = DedupSettings(), datetime.now(UTC), 0
    try:
        add_bench_feeds(store, 1)
        with store.transaction() as tx:
            for index, (article, url, sig) in enumerate(
                zip(articles, urls, signatures, strict=True)
            ):
                item = _new_item(index, article, url, sig, now)
                item_id = tx.insert_item(item)
                linked += link_new_item(tx, item_id, item, sig, settings, now).republication
    finally:
        store.close()
    return linked


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
    kept = [(a, u) for a, u in zip(extracted, page_urls, strict=True) if isinstance(a, Article)]
    articles, kept_urls = [a for a, _ in kept], [u for _, u in kept]

    stages: dict[str, float] = {}
    stages["process start-up (imports)"] = interpreter_cpu(MAIN_IMPORTS, tree)
    stages["pool start-up (imports, warm-up)"] = interpreter_cpu(POOL_IMPORTS, tree)
    client, proxy_cpu = fetch_cpu(world, [f.url for f in world.feeds] + page_urls)
    stages["fetching (bare aiohttp)"] = client
    stages["feed parsing"], _ = timed(lambda: [parse_feed(b, u, None) for b, u in feed_bodies])
    stages["signatures"], signatures = timed(sign_all, articles)
    with tempfile.TemporaryDirectory() as folder:
        stages["store, lookup, link"], linked = timed(
            store_all, articles, kept_urls, signatures, Path(folder)
        )
    results = [(a, s) for a, s in zip(articles, signatures, strict=True)]
    stages["pickling to and from workers"], _ = timed(pickling, pages[: len(results)], results)

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
