"""Generated articles for the dedup cost benchmarks (:mod:`million`), and what they need.

Zipf-distributed words from an invented vocabulary, 300-600 words in 12-20 paragraphs: prose
whose shingles collide about as rarely as real news does, made fast and reproducibly from a
seed. ``new_item`` signs one with ingestd's real signature; ``add_bench_feeds`` creates the
feeds the items belong to. This module used to time new items itself as well; that timing
now lives only in ``million.py`` (``--items 100000`` for issue 3's 100,000-item cost), which
fills the store with every core, warms up, times the commit and reports the phases apart.
"""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime

from ingestd.dedup.signature import SignatureParams
from ingestd.pipeline.entries import text_item
from ingestd.store import Store
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
    """A generated article as the writer stores it (signature, verdict on its text)."""
    url = f"https://site{feed_id}.example/{key}"
    return text_item(feed_id, key, url, key, text, now, now, params)


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
