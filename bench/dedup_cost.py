"""Dedup cost per new item with N items already in the dedup window (issue 3: ≤ 2 ms median).

Fills a fresh SQLite store with N synthetic articles (Zipf-distributed words, 300-600 words in
12-20 paragraphs, with their signatures and keys inserted directly), then times, for M new
articles, everything dedup does for one item: normalise + signature + candidate lookup +
verification + cluster update + commit (``make_signature`` + ``insert_item`` + ``link_new_item``
in a transaction of its own). A quarter of the new articles are copies or excerpts of stored
ones, so verification and clustering are exercised too. The recorded numbers come from
``million.py``, which uses this module's article generator, fills the store with all cores,
warms up first and times the phases apart.

    python bench/dedup_cost.py --items 100000 --new 1000
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ingestd.config import DedupSettings
from ingestd.dedup.signature import SignatureParams, make_signature
from ingestd.linking import link_new_item
from ingestd.store import NewItem, Store
from ingestd.store.schema import feeds


def vocabulary(size: int, rng: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(2, 10))) for _ in range(size)]


def zipf_weights(size: int) -> list[float]:
    """Cumulative Zipf weights for ``size`` words (rank r has weight 1/r)."""
    return list(itertools.accumulate(1 / (rank + 1) for rank in range(size)))


def article(words: list[str], cum_weights: list[float], rng: random.Random) -> str:
    """12-20 paragraphs of 20-35 Zipf-distributed words."""
    paragraphs = []
    for _ in range(rng.randint(12, 20)):
        count = rng.randint(20, 35)
        chosen = rng.choices(words, cum_weights=cum_weights, k=count)
        paragraphs.append(" ".join(chosen).capitalize() + ".")
    return "\n".join(paragraphs)


def new_item(feed_id: int, key: str, text: str, params: SignatureParams, now: datetime):
    sig = make_signature(text, "", params)
    item = NewItem(
        feed_id=feed_id,
        entry_key=key,
        guid=None,
        url=f"https://site{feed_id}.example/{key}",
        url_norm=f"http://site{feed_id}.example/{key}",
        canonical_url=None,
        canonical_norm=None,
        site_host=f"site{feed_id}.example",
        site_name=None,
        title=key,
        published_at=now,
        fetched_at=now,
        text=text,
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
    return item, sig


def add_bench_feeds(store: Store, count: int = 50) -> None:
    """Feeds 1..count (inactive, ``bench:<id>``) for generated items to belong to."""
    now = datetime.now(UTC)
    with store.transaction() as tx:
        for feed_id in range(1, count + 1):
            tx.conn.execute(
                feeds.insert().values(
                    id=feed_id,
                    url=f"bench:{feed_id}",
                    status="ok",
                    active=False,
                    consecutive_failures=0,
                    created_at=now,
                )
            )


def fill(store: Store, count: int, texts: list[str], params: SignatureParams) -> None:
    add_bench_feeds(store)
    now = datetime.now(UTC)
    started = time.perf_counter()
    batch = 2000
    for start in range(0, count, batch):
        with store.transaction() as tx:
            for index in range(start, min(start + batch, count)):
                item, sig = new_item(index % 50 + 1, f"s{index}", texts[index], params, now)
                item_id = tx.insert_item(item)
                tx.insert_keys(item_id, (*sig.band_keys, *sig.anchor_keys), now)
        print(
            f"  stored {min(start + batch, count)} items ({time.perf_counter() - started:.0f} s)",
            file=sys.stderr,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=100_000, help="items in the window")
    parser.add_argument("--new", type=int, default=1000, help="new items timed")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", help="SQLite file to use (default: a temporary one)")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    words = vocabulary(20_000, rng)
    weights = zipf_weights(len(words))
    texts = [article(words, weights, rng) for _ in range(args.items)]
    params, settings = SignatureParams(), DedupSettings()
    folder = tempfile.mkdtemp(prefix="ingestd-bench-")
    url = f"sqlite:///{args.database or folder + '/bench.sqlite3'}"
    store = Store.open(url, background_checkpoints=True)  # as ingestd's writer process does
    print(f"filling {url} with {args.items} items", file=sys.stderr)
    fill(store, args.items, texts, params)
    timings: list[float] = []
    phases: dict[str, list[float]] = {
        "signature": [],
        "insert": [],
        "link (keys, lookup, verify, cluster) and commit": [],
    }
    clustered = 0
    for index in range(args.new):
        if index % 4 == 0:  # a copy: an excerpt of 5 paragraphs of a stored article
            source = texts[rng.randrange(args.items)].split("\n")
            start = rng.randrange(max(1, len(source) - 5))
            text = "\n".join(source[start : start + 5])
        else:
            text = article(words, weights, rng)
        began = time.perf_counter()
        item, sig = new_item(index % 50 + 1, f"n{index}", text, params, datetime.now(UTC))
        signed = time.perf_counter()
        with store.transaction() as tx:
            item_id = tx.insert_item(item)
            inserted = time.perf_counter()
            outcome = link_new_item(tx, item_id, item, sig, settings, item.fetched_at)
        done = time.perf_counter()
        timings.append((done - began) * 1000)
        phases["signature"].append((signed - began) * 1000)
        phases["insert"].append((inserted - signed) * 1000)
        phases["link (keys, lookup, verify, cluster) and commit"].append((done - inserted) * 1000)
        clustered += outcome.cluster_id is not None
    timings.sort()
    p99 = timings[int(len(timings) * 0.99) - 1]
    print(
        f"items in window: {args.items}; new items: {args.new} "
        f"({clustered} clustered, expected about {args.new // 4})"
    )
    print(
        f"per new item (normalise + signature + lookup + verify + cluster): "
        f"median {statistics.median(timings):.2f} ms, p99 {p99:.2f} ms, "
        f"max {timings[-1]:.2f} ms"
    )
    for name, values in phases.items():
        print(f"  {name}: median {statistics.median(values):.2f} ms")
    store.close()


if __name__ == "__main__":
    main()
