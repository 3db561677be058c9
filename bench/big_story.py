"""The writer's cost of one more copy of a story that already has hundreds.

Every new copy of a story re-decides the story from its stored links (``ingestd.dedup.stories``):
the items connected to it and their links are read, partitioned and the changed rows written.
This times ``insert_item`` + ``link_new_item`` + commit for copy number 1..``--copies`` of one
generated article (each copy with a few words changed, a quarter of them four-paragraph
truncations) on a fresh SQLite store, and prints the median per band of 50 copies, so the
growth with the story's size shows.

    python -m bench.big_story --copies 400
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime

from bench.dedup_cost import add_bench_feeds, article, new_item, vocabulary, zipf_weights
from ingestd.config import DedupSettings
from ingestd.dedup.link import link_new_item
from ingestd.dedup.signature import SignatureParams
from ingestd.store import Store


def copy_of(text: str, rng: random.Random, words: list[str]) -> str:
    """The text with a few words changed, or its first four paragraphs (a truncation)."""
    paragraphs = text.split("\n")
    if rng.random() < 0.25:
        return "\n".join(paragraphs[:4])
    edited = []
    for paragraph in paragraphs:
        tokens = paragraph.split()
        if rng.random() < 0.3:
            tokens[rng.randrange(len(tokens))] = rng.choice(words)
        edited.append(" ".join(tokens))
    return "\n".join(edited)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--copies", type=int, default=400)
    parser.add_argument("--seed", type=int, default=3)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    words = vocabulary(20_000, rng)
    weights = zipf_weights(len(words))
    original = article(words, weights, rng)
    params, settings = SignatureParams(), DedupSettings()
    now = datetime.now(UTC)
    times: list[float] = []
    with tempfile.TemporaryDirectory(prefix="ingestd-bigstory-") as folder:
        store = Store.open(f"sqlite:///{folder}/big.sqlite3")
        add_bench_feeds(store, 50)
        for number in range(args.copies):
            text = original if number == 0 else copy_of(original, rng, words)
            item, sig = new_item(1 + number % 50, f"copy-{number}", text, params, now)
            started = time.perf_counter()
            with store.transaction() as tx:
                outcome = link_new_item(tx, tx.insert_item(item), item, sig, settings, now)
            times.append((time.perf_counter() - started) * 1000)
        with store.transaction() as tx:
            size = len(tx.cluster_members(outcome.cluster_id)) if outcome.cluster_id else 1
        store.close()
    bands = {
        f"{start + 1}-{start + 50}": round(statistics.median(times[start : start + 50]), 2)
        for start in range(0, len(times), 50)
    }
    print(json.dumps({"copies": args.copies, "story_size": size, "median_ms_by_copy": bands}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
