"""A million items in the dedup window (issue 7, item 4): lookup + insert cost, RSS, start-up.

1. **Fill** (once; reused with ``--database``): a SQLite store with ``--items`` generated articles
   (the Zipf prose of :mod:`dedup_cost`, 300-600 words each), every one with its real signature
   and keys, made by ``--jobs`` processes and written in large transactions. On this 2-core
   machine a million items took 16 minutes on a fast day and 55 on a slow one (integer keys,
   see ``RESULTS.md``), and ~10 GB of disk.
2. **Per new item** (in this process, on that store): ``--new`` articles, a quarter of them
   excerpts of stored ones. Timed separately: the signature (normalise + shingles + MinHash,
   which ingestd computes in its process pool) and *lookup + insert*: storing the item and its
   keys, the identity query, the candidate query, exact verification, any cluster update and
   the commit (``insert_item`` + ``link_new_item`` in a transaction of its own: the writer's
   whole dedup work for one item), after ``--warmup`` untimed items. WAL checkpoints run on a
   thread, as in ingestd's writer process; their time per item is reported beside.
3. **The real daemon** on that store: ``python -m ingestd --once`` against ``--feeds`` loopback
   feeds (:mod:`soak`'s generated outlets): time from process start to the first request the
   servers see, the main process's peak RSS (its ``VmHWM``, sampled), the pool workers' largest RSS
   (sampled), and the pass's wall time.

    python -m bench.million --items 1000000 --database bench/out/million/ingestd.sqlite3
    python -m bench.million --items 100000 --new 500      # smaller, in a temporary folder

Results go to stdout as text and, with ``--json``, as one JSON object.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.dedup_cost import add_bench_feeds, article, new_item, vocabulary, zipf_weights
from bench.soak import _descendants, _safe_status, _serve
from ingestd.config import DedupSettings
from ingestd.dedup.link import link_new_item
from ingestd.dedup.signature import SignatureParams
from ingestd.store import NewItem, Store, Transaction

FEEDS = 50  # synthetic feeds the filled items belong to
CHUNK = 2000  # items per worker task and per fill transaction

_WORDS: list[str] = []
_WEIGHTS: list[float] = []


def _init_words(seed: int) -> None:
    rng = random.Random(seed)
    _WORDS[:] = vocabulary(20_000, rng)
    _WEIGHTS[:] = zipf_weights(len(_WORDS))


def stored_text(seed: int, index: int) -> str:
    """The text of filled item ``index`` (the same in every process: seeded by the index)."""
    return article(_WORDS, _WEIGHTS, random.Random(seed * 1_000_003 + index))


def _make_chunk(
    seed: int, start: int, stop: int, now: datetime
) -> list[tuple[NewItem, tuple[int, ...]]]:
    """Items ``start..stop-1`` with their keys (runs in a worker process), fetched at ``now``:
    one time for the whole fill, so that fetch times follow ids as the dedup window assumes (a
    chunk made earlier by another process once gave the first chunk's items the later time, and
    the next pass pruned their keys as outside the window)."""
    if not _WORDS:
        _init_words(seed)
    params = SignatureParams()
    made = []
    for index in range(start, stop):
        item, sig = new_item(index % FEEDS + 1, f"s{index}", stored_text(seed, index), params, now)
        made.append((item, (*sig.band_keys, *sig.anchor_keys)))
    return made


def fill(store: Store, have: int, want: int, seed: int, jobs: int) -> None:
    """Add items ``have..want-1`` to the store (signatures made by ``jobs`` processes)."""
    if have == 0:
        add_bench_feeds(store, FEEDS)
    started = time.perf_counter()
    now = datetime.now(UTC)
    chunks = [(start, min(start + CHUNK, want)) for start in range(have, want, CHUNK)]
    with ProcessPoolExecutor(jobs) as pool:
        pending = [pool.submit(_make_chunk, seed, a, b, now) for a, b in chunks[: jobs * 2]]
        queued = jobs * 2
        while pending:
            made = pending.pop(0).result()
            if queued < len(chunks):
                pending.append(pool.submit(_make_chunk, seed, *chunks[queued], now))
                queued += 1
            with store.transaction() as tx:
                for item, keys in made:
                    tx.insert_keys(tx.insert_item(item), keys)
            done = made[-1][0].entry_key[1:]
            elapsed = time.perf_counter() - started
            print(f"  stored {int(done) + 1} items ({elapsed:.0f} s)", file=sys.stderr)


def time_new_items(
    store: Store, count: int, stored: int, seed: int, warmup: int = 100, rate: float = 0.0
) -> dict[str, Any]:
    """Signature and lookup + insert + commit per new item (milliseconds), a quarter of them
    excerpts, after ``warmup`` untimed items (a daemon runs warm: its page cache is full and its
    statements compiled). Each item is committed on its own, as a poll with one new entry is.
    With ``rate``, items start at most that many a second (the pauses are not timed): the
    pipeline hands the writer items no faster than the pool extracts pages.

    Also timed apart: storing the item's row and key rows, the lookup (identity and candidate
    queries, exact verification, any cluster update) and the commit, so that issue 3's "normalise
    + signature + candidate lookup + verification" can be read beside the whole write.
    """
    run = int(time.time())  # new texts and entry keys differ between runs on one database
    rng = random.Random(f"{seed}-{run}")
    params, settings = SignatureParams(), DedupSettings()
    phases: dict[str, list[float]] = {
        name: [] for name in ("signature", "store_row_and_keys", "lookup_verify_cluster", "commit")
    }
    clustered = 0
    checkpoint_s = store.checkpointer.busy_s if store.checkpointer else 0.0
    keys_s = [0.0]
    insert_keys = Transaction.insert_keys

    def timed_insert_keys(tx: Transaction, *args: Any, **kwargs: Any) -> None:
        began = time.perf_counter()
        insert_keys(tx, *args, **kwargs)
        keys_s[0] += time.perf_counter() - began

    Transaction.insert_keys = timed_insert_keys  # type: ignore[method-assign,assignment]
    collections = _CollectionClock()
    paced_from = time.perf_counter()
    try:
        for index in range(-warmup, count):
            if rate:  # new items arrive at most ``rate`` a second, as from the pipeline
                pause = paced_from + (index + warmup) / rate - time.perf_counter()
                if pause > 0:
                    time.sleep(pause)
            if index % 4 == 0:
                source = stored_text(seed, rng.randrange(stored)).split("\n")
                start = rng.randrange(max(1, len(source) - 5))
                text = "\n".join(source[start : start + 5])
            else:
                text = article(_WORDS, _WEIGHTS, rng)
            key = f"n{run}-{index}"
            keys_s[0] = 0.0
            began = time.perf_counter()
            item, sig = new_item(index % FEEDS + 1, key, text, params, datetime.now(UTC))
            signed = time.perf_counter()
            with store.transaction() as tx:
                item_id = tx.insert_item(item)
                stored_row = time.perf_counter()
                outcome = link_new_item(tx, item_id, item, sig, settings, item.fetched_at)
                linked = time.perf_counter()
            done = time.perf_counter()
            if index < 0:
                checkpoint_s = store.checkpointer.busy_s if store.checkpointer else 0.0
                collections.reset()
                continue
            phases["signature"].append((signed - began) * 1000)
            phases["store_row_and_keys"].append((stored_row - signed + keys_s[0]) * 1000)
            phases["lookup_verify_cluster"].append((linked - stored_row - keys_s[0]) * 1000)
            phases["commit"].append((done - linked) * 1000)
            clustered += outcome.cluster_id is not None
    finally:
        Transaction.insert_keys = insert_keys  # type: ignore[method-assign]
        collections.close()
    if store.checkpointer:
        checkpoint_s = store.checkpointer.busy_s - checkpoint_s
    signature = phases["signature"]
    write = [sum(values) for values in zip(*list(phases.values())[1:], strict=True)]
    return {
        "new_items": count,
        "clustered": clustered,
        "expected_clustered": (count + 3) // 4,
        "signature_ms": _spread(signature),
        "lookup_insert_ms": _spread(write),
        "lookup_insert_before_commit_ms": _spread(
            [
                a + b
                for a, b in zip(
                    phases["store_row_and_keys"], phases["lookup_verify_cluster"], strict=True
                )
            ]
        ),
        "dedup_total_ms": _spread([a + b for a, b in zip(signature, write, strict=True)]),
        "phase_medians_ms": {name: _spread(values)["median"] for name, values in phases.items()},
        "phase_p99_ms": {name: _spread(values)["p99"] for name, values in phases.items()},
        "signature_lookup_verify_ms": _spread(
            [a + b for a, b in zip(signature, phases["lookup_verify_cluster"], strict=True)]
        ),
        "background_checkpoint_ms_per_item": round(checkpoint_s * 1000 / count, 3),
        "gc_collections": collections.counts,
        "gc_pause_ms": collections.pauses(),
    }


class _CollectionClock:
    """Python's garbage collections while it is installed: how many, by generation, and how
    long each full (generation 2) one paused the process (a cause of a slow item)."""

    def __init__(self) -> None:
        self.counts = [0, 0, 0]
        self._full: list[float] = []
        self._began = 0.0
        gc.callbacks.append(self._event)

    def _event(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._began = time.perf_counter()
            return
        self.counts[info["generation"]] += 1
        if info["generation"] == 2:
            self._full.append((time.perf_counter() - self._began) * 1000)

    def reset(self) -> None:
        self.counts, self._full = [0, 0, 0], []

    def pauses(self) -> list[float]:
        """Milliseconds of each full collection."""
        return [round(value, 2) for value in self._full]

    def close(self) -> None:
        gc.callbacks.remove(self._event)


def _spread(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "median": round(statistics.median(ordered), 3),
        "p99": round(ordered[max(0, int(len(ordered) * 0.99) - 1)], 3),
        "max": round(ordered[-1], 3),
    }


def _write_config(folder: Path, database: Path, urls: list[str]) -> Path:
    lines = [
        f'[database]\nurl = "sqlite:///{database}"\n',
        "[http]\nallow_private_networks = true\n",
        "[dedup]\nwindow_days = 3650\n",
        *(f'[[feeds]]\nurl = "{url}"\n' for url in urls),
    ]
    path = folder / "million.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def run_daemon(database: Path, feed_count: int, folder: Path) -> dict[str, Any]:
    """One real ``ingest --once`` on the filled store: start-up to first request, RSS, wall."""
    world, servers, urls = _serve(feed_count, 3600.0, 5)
    del world
    config = _write_config(folder, database, urls)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1])
    before = sum(server.requests for server in servers)
    started = time.perf_counter()
    child = subprocess.Popen(
        [sys.executable, "-m", "ingestd", "--config", str(config), "--once"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(folder / "daemon.stderr").open("w"),
    )
    first_request: float | None = None
    workers_rss_kb = 0
    main_hwm_kb = 0  # the main process's own high-water mark (VmHWM), sampled
    done = threading.Event()

    def watch() -> None:
        nonlocal first_request, workers_rss_kb, main_hwm_kb
        while not done.is_set():
            if first_request is None and sum(s.requests for s in servers) > before:
                first_request = time.perf_counter() - started
            rss = sum(_safe_status(pid, "VmRSS") for pid in _descendants(child.pid))
            workers_rss_kb = max(workers_rss_kb, rss)
            main_hwm_kb = max(main_hwm_kb, _safe_status(child.pid, "VmHWM"))
            done.wait(0.01)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    _pid, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - started
    done.set()
    watcher.join()
    for server in servers:
        server.shutdown()
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "feeds": feed_count,
        "requests": sum(s.requests for s in servers) - before,
        "startup_to_first_request_s": round(first_request, 3) if first_request else None,
        "wall_s": round(wall, 2),
        "main_peak_rss_mb": round(main_hwm_kb / 1024, 1),
        # wait4's figure also counts the descendants the child reaped (the forkserver, whose
        # workers' memory it then includes), so it can exceed the main process's own peak
        "process_tree_maxrss_mb": round(usage.ru_maxrss / 1024, 1),
        "workers_peak_rss_mb": round(workers_rss_kb / 1024, 1),
    }


def _read_through(database: Path) -> None:
    """Read the database file once, so that the OS page cache holds it as on a machine where
    the daemon has been running (after a fill of another store, this one was evicted)."""
    with database.open("rb") as handle:
        while handle.read(16 * 1024 * 1024):
            pass


def _count_items(store: Store) -> int:
    with store.transaction(write=False) as tx:
        return tx.count_items()


def _file_sizes(database: Path) -> Iterator[tuple[str, int]]:
    for suffix in ("", "-wal"):
        path = Path(str(database) + suffix)
        if path.exists():
            yield path.name, path.stat().st_size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--items", type=int, default=1_000_000, help="items in the window")
    parser.add_argument("--new", type=int, default=1000, help="new items timed")
    parser.add_argument("--warmup", type=int, default=100, help="new items before timing")
    parser.add_argument("--feeds", type=int, default=50, help="loopback feeds for the daemon run")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--database", type=Path, help="SQLite file (filled up to --items; kept)")
    parser.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="new items per second at most (default 0: back to back, as fast as the writer goes)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="ingestd-million-"))
    database: Path = (args.database or folder / "ingestd.sqlite3").resolve()
    database.parent.mkdir(parents=True, exist_ok=True)
    _init_words(args.seed)
    # Checkpoints on a thread of their own, as in ingestd's writer process (runner.open_store).
    store = Store.open(f"sqlite:///{database}", background_checkpoints=True)
    have = _count_items(store)
    filled = time.perf_counter()
    if have < args.items:
        print(f"filling {database}: {have} → {args.items} items", file=sys.stderr)
        fill(store, have, args.items, args.seed, args.jobs)
    fill_s = time.perf_counter() - filled
    result: dict[str, Any] = {"items_in_window": max(have, args.items), "fill_s": round(fill_s, 1)}
    _read_through(database)
    # Excerpts are cut from filled items 0..items-1 (texts seeded by index); items added by
    # earlier timing runs on a reused database have texts of their own.
    result["rate_per_s"] = args.rate or None
    result.update(time_new_items(store, args.new, args.items, args.seed, args.warmup, args.rate))
    store.close()
    result["files"] = dict(_file_sizes(database))
    result["daemon"] = run_daemon(database, args.feeds, folder)
    if args.json:
        print(json.dumps(result))
    else:
        print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
