"""The dedup key index alone, in two layouts, at a million items (issue 7, item 4).

Plain ``sqlite3``, no ingestd code: a table of ``--items`` × 45 random keys (the number an
article carries), then, per new item, the candidate query for its 45 keys, the insert of its 45
rows and the commit, timed separately (WAL, ``synchronous=NORMAL``, a 32 MiB page cache and
passive checkpoints on a thread every 0.5 s, as ingestd's writer has them).

* ``text``: the layout before migration 8: text keys (``a:1f2e3d4c``) in a rowid table with a
  ``(key, item_id)`` primary key and indexes on ``item_id`` and on the time column ``at``;
* ``integer``: ``dedup_keys``: integer keys, ``WITHOUT ROWID`` on ``(key, item_id)``, an index
  on ``item_id``.

    python -m bench.key_layout build --layout integer --database bench/out/keys-int.sqlite3
    python -m bench.key_layout measure --layout integer --database bench/out/keys-int.sqlite3
    python -m bench.key_layout build --layout integer --page-size 1024 --database ...  # 1 KiB pages

Building a million items' keys takes ~4 minutes (integer) and ~10 (text) and 1.4 / 3.7 GB.
Run ``measure`` for both layouts alternately: the file is read through first, so that both
start from the OS page cache.
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import subprocess
import threading
import time
from pathlib import Path

import numpy as np

KEYS_PER_ITEM = 45
CREATE = {
    "text": [
        "CREATE TABLE k (key VARCHAR(40) NOT NULL, item_id INTEGER NOT NULL,"
        " at BIGINT NOT NULL, PRIMARY KEY (key, item_id))",
    ],
    "integer": [
        "CREATE TABLE k (key BIGINT NOT NULL, item_id INTEGER NOT NULL,"
        " PRIMARY KEY (key, item_id)) WITHOUT ROWID",
    ],
}
INDEXES = {
    "text": ["CREATE INDEX k_item ON k (item_id)", "CREATE INDEX k_at ON k (at)"],
    "integer": ["CREATE INDEX k_item ON k (item_id)"],
}


def random_keys(rng: np.random.Generator, count: int) -> np.ndarray:
    """``count`` keys: a kind tag 1-3 above a random 32-bit value (uint64)."""
    values = rng.integers(0, 2**32, size=count, dtype=np.uint64)
    kinds = rng.integers(1, 4, size=count, dtype=np.uint64)
    return np.asarray((kinds << np.uint64(32)) | values)


def as_layout(layout: str, keys: np.ndarray) -> list[int] | list[str]:
    """The keys as the layout stores them."""
    if layout == "integer":
        return [int(key) for key in keys.tolist()]
    return [f"{'abp'[(key >> 32) - 1]}:{key & 0xFFFFFFFF:08x}" for key in keys.tolist()]


def build(database: Path, layout: str, items: int, page_size: int = 4096) -> None:
    """Create the table with ``items`` × 45 keys, inserted in key order, indexes after, in a
    file of ``page_size``-byte pages."""
    conn = sqlite3.connect(database, isolation_level=None)
    conn.execute(f"PRAGMA page_size={page_size}")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    conn.execute("PRAGMA cache_size=-1000000")
    for statement in CREATE[layout]:
        conn.execute(statement)
    started = time.perf_counter()
    raw = random_keys(np.random.default_rng(1), items * KEYS_PER_ITEM)
    owners = np.repeat(np.arange(1, items + 1, dtype=np.int64), KEYS_PER_ITEM)
    keys = np.array(as_layout(layout, raw))  # text: a numpy string array, sorted as text
    order = np.lexsort((owners, keys))
    keys, owners = keys[order], owners[order]
    conn.execute("BEGIN")
    for start in range(0, len(keys), 1_000_000):
        chunk_keys = keys[start : start + 1_000_000].tolist()
        chunk_owners = owners[start : start + 1_000_000].tolist()
        if layout == "text":
            rows = zip(chunk_keys, chunk_owners, chunk_owners, strict=True)
            conn.executemany("INSERT INTO k VALUES (?, ?, ?)", rows)
        else:
            pairs = zip(chunk_keys, chunk_owners, strict=True)
            conn.executemany("INSERT INTO k VALUES (?, ?)", pairs)
    conn.execute("COMMIT")
    for statement in INDEXES[layout]:
        conn.execute(statement)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    size = database.stat().st_size / 1e9
    print(f"{layout}: {len(keys)} rows in {time.perf_counter() - started:.0f} s, {size:.2f} GB")


def measure(database: Path, layout: str, new: int, warmup: int) -> None:
    """Time the lookup, insert and commit of ``new`` items' keys (after ``warmup`` items)."""
    subprocess.run(["cat", str(database)], stdout=subprocess.DEVNULL, check=True)
    conn = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "cache_size=-32768"):
        conn.execute(f"PRAGMA {pragma}")
    conn.execute("PRAGMA wal_autocheckpoint=16384")
    checkpointer = sqlite3.connect(database, isolation_level=None, check_same_thread=False)
    stop = threading.Event()

    def checkpoints() -> None:
        while not stop.wait(0.5):
            checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    thread = threading.Thread(target=checkpoints, daemon=True)
    thread.start()
    base = int(conn.execute("SELECT max(item_id) FROM k").fetchone()[0])
    rng = np.random.default_rng(base)
    times: dict[str, list[float]] = {"lookup": [], "insert": [], "commit": [], "total": []}
    window = "at >= ?" if layout == "text" else "item_id >= ?"
    for index in range(warmup + new):
        item = base + 1 + index
        keys = as_layout(layout, random_keys(rng, KEYS_PER_ITEM))
        markers = ", ".join("?" * len(keys))
        began = time.perf_counter()
        conn.execute("BEGIN IMMEDIATE")
        query = f"SELECT key, item_id FROM k WHERE key IN ({markers}) AND {window}"
        conn.execute(query, (*keys, 0)).fetchall()
        looked = time.perf_counter()
        if layout == "text":
            conn.executemany("INSERT INTO k VALUES (?, ?, ?)", [(k, item, item) for k in keys])
        else:
            conn.executemany("INSERT INTO k VALUES (?, ?)", [(k, item) for k in keys])
        inserted = time.perf_counter()
        conn.execute("COMMIT")
        done = time.perf_counter()
        if index >= warmup:
            times["lookup"].append((looked - began) * 1000)
            times["insert"].append((inserted - looked) * 1000)
            times["commit"].append((done - inserted) * 1000)
            times["total"].append((done - began) * 1000)
    stop.set()
    thread.join()
    for name, values in times.items():
        p99 = sorted(values)[int(len(values) * 0.99)]
        print(f"{layout} {name}: median {statistics.median(values):.3f} ms, p99 {p99:.3f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["build", "measure"])
    parser.add_argument("--layout", choices=["text", "integer"], required=True)
    parser.add_argument("--database", type=Path, required=True)
    parser.add_argument("--items", type=int, default=1_000_000, help="items to build")
    parser.add_argument("--new", type=int, default=2000, help="new items timed")
    parser.add_argument("--warmup", type=int, default=200, help="new items before timing")
    parser.add_argument("--page-size", type=int, default=4096, help="bytes (build only)")
    args = parser.parse_args()
    if args.action == "build":
        build(args.database, args.layout, args.items, args.page_size)
    else:
        measure(args.database, args.layout, args.new, args.warmup)


if __name__ == "__main__":
    main()
