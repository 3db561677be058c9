"""Throughput (issue 7): ``ingest --once`` against a naive script and the extraction floor.

On one replay world of real pages (:mod:`replay`: every usable page of the corpus plus its
synthetic republications, one feed per host, so ~400 feeds), served by one loopback proxy, and
in one run, ``--repeat`` times each (the ratios are of medians):

* **floor**: ingestd's own ``extract_article`` on every served page, one process per core,
  the pages already in memory (nothing else: no fetch, no parse, no store);
* **naive**: ``bench/naive.py``, one process: fetch, feedparser, trafilatura, SQLite insert;
* **ingest**: ``python -m ingestd --once`` on a fresh database (fetch, parse, extract,
  deduplicate, store), process start-up included;
* **second pass**: ``ingest --once`` again on the same database once its feeds are due (the
  benchmark moves every feed's ``next_poll_at`` to now, as if their 30-minute ``<ttl>`` had
  passed): feeds answer 304, no page is fetched again. Its cost is compared with the first.

For each ``ingest --once`` pass the result also holds the CPU time of its process tree, split
into the main process (event loop, HTTP, the writer thread's SQLite work) and the pool (its
forkserver and workers: feed parsing, extraction, signatures), and when the proxy saw its first
request (process start-up).

ingestd runs with its defaults, politeness included (``min_host_gap_s = 1``,
``per_host_concurrency = 2``: each host's requests start a second apart), although the naive
script waits for no host; ``--impolite`` sets ``min_host_gap_s = 0`` (how this benchmark ran
until 2026-12-05).

    python -m bench.throughput --repeat 3            # results in bench/out/throughput/
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import quality_replay, replay

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def naive(world: replay.World, proxy_url: str, folder: Path) -> dict[str, Any]:
    """``bench/naive.py`` in its own process, on a fresh SQLite file."""
    feeds = folder / "feeds.txt"
    feeds.write_text("\n".join(feed.url for feed in world.feeds) + "\n", "utf-8")
    database = folder / "naive.sqlite3"
    database.unlink(missing_ok=True)
    clock = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "naive.py"),
            "--proxy",
            proxy_url,
            "--feeds",
            str(feeds),
            "--database",
            str(database),
        ],
        capture_output=True,
        text=True,
        check=True,
        env=_clean_env(),
    )
    wall = time.perf_counter() - clock
    return {**json.loads(done.stdout), "wall_s": round(wall, 2)}


def compile_sources(tree: Path) -> None:
    """Write the bytecode of ``tree``'s ``ingestd`` package, as ``pip install`` does.

    Without it, a shell with ``PYTHONDONTWRITEBYTECODE=1`` (this machine's sessions set it) makes
    every timed ``ingest --once`` compile ingestd's ~40 modules from source first: ~0.07-0.1 s of
    each pass's start-up that an installed ingestd does not spend (measured in session 8).
    """
    if not compileall.compile_dir(tree / "ingestd", quiet=1):
        raise SystemExit(f"throughput: could not compile {tree / 'ingestd'}")


def _clean_env() -> dict[str, str]:
    return {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("INGESTD_") and not k.lower().endswith("_proxy")
    }


def ingest_passes(
    world: replay.World, proxy_url: str, folder: Path, log: Path, polite: bool = True
) -> dict[str, Any]:
    """A first ``ingest --once`` on a fresh database, then a second once every feed is due;
    with ingestd's default politeness unless ``polite`` is False (``min_host_gap_s = 0``)."""
    state = folder / "state"
    http = {} if polite else {"min_host_gap_s": 0.0}
    config = replay.write_config(world, proxy_url, state, folder / "ingestd.toml", extra_http=http)
    passes = []
    for _ in range(2):
        before = len(_requests(log))
        cpu: dict[str, Any] = {}
        launched = time.time()
        clock = time.perf_counter()
        done = quality_replay.run_ingest(config, state, "--once", cpu=cpu)
        wall = time.perf_counter() - clock
        if done.returncode != 0:
            raise SystemExit(
                f"throughput: ingest --once exited {done.returncode}:\n" + done.stderr[-2000:]
            )
        requests = _requests(log)[before:]
        passes.append(
            {
                "wall_s": round(wall, 2),
                "cpu_s": round(float(cpu.get("total_s", 0.0)), 2),
                "cpu_main_process_s": round(float(cpu.get("main_process_s", 0.0)), 2),
                "cpu_pool_s": round(float(cpu.get("other_processes_s", 0.0)), 2),
                "first_request_after_s": (
                    round(min(float(r["t"]) for r in requests) - launched, 2) if requests else None
                ),
                "summary": done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "",
                "requests": len(requests),
                "statuses": _count(str(r.get("status")) for r in requests),
            }
        )
        _make_due(state / "ingestd.sqlite3")
    return {"first": passes[0], "second": passes[1]}


def _make_due(database: Path) -> None:
    """Every feed due now, as if its polling interval had passed."""
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")  # the store's SQLite format
    with sqlite3.connect(database) as connection:
        connection.execute("UPDATE feeds SET next_poll_at = ?", (now,))


def _requests(log: Path) -> list[dict[str, Any]]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text("utf-8").splitlines() if line.strip()]


def _count(values: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for value in values:
        counts[value] = counts.get(value, 0) + 1
    return counts


def run(
    pages: int | None,
    seed: int,
    repeat: int,
    out: Path,
    copies: float = replay.COPY_SHARE,
    polite: bool = True,
) -> dict[str, Any]:
    world, _, folder = replay.prepare(pages, seed, out, copy_share=copies)
    compile_sources(REPO)
    log = folder / "proxy-log.jsonl"
    rounds: list[dict[str, Any]] = []
    with replay.ReplayProxy(world, log) as proxy:
        for index in range(repeat):
            print(f"round {index + 1}/{repeat}", file=sys.stderr)
            one: dict[str, Any] = {"floor": quality_replay.baseline(world)}
            one["naive"] = naive(world, proxy.url, folder)
            one["ingest"] = ingest_passes(world, proxy.url, folder, log, polite)
            print(json.dumps(one), file=sys.stderr)
            rounds.append(one)
    floor_s = statistics.median(r["floor"]["wall_s"] for r in rounds)
    naive_s = statistics.median(r["naive"]["wall_s"] for r in rounds)
    first_s = statistics.median(r["ingest"]["first"]["wall_s"] for r in rounds)
    second_s = statistics.median(r["ingest"]["second"]["wall_s"] for r in rounds)
    first_cpu = {
        key: statistics.median(r["ingest"]["first"][key] for r in rounds)
        for key in ("cpu_s", "cpu_main_process_s", "cpu_pool_s")
    }
    page_count = rounds[0]["floor"]["pages"]
    return {
        "pages": page_count,
        "feeds": len(world.feeds),
        "repeat": repeat,
        "median_wall_s": {
            "floor": floor_s,
            "naive": naive_s,
            "ingest_first": first_s,
            "ingest_second": second_s,
        },
        "ingest_first_cpu_s": first_cpu,  # medians: the process tree, its main process, the pool
        "ingest_vs_naive": round(naive_s / first_s, 2),
        "ingest_vs_floor": round(floor_s / first_s, 3),
        "second_vs_first": round(second_s / first_s, 3),
        "pages_per_s": {
            "floor": round(page_count / floor_s, 1),
            "naive": round(page_count / naive_s, 1),
            "ingest": round(page_count / first_s, 1),
        },
        "machine": quality_replay.machine(),
        "source": quality_replay.source_fingerprint(),
        "rounds": rounds,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=None, help="N originals (default: all)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--impolite",
        action="store_true",
        help="run ingestd with min_host_gap_s = 0 (the naive script waits for no host either)",
    )
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "throughput")
    replay.add_copies_option(parser)
    args = parser.parse_args()
    result = run(args.pages, args.seed, args.repeat, args.out, args.copies, not args.impolite)
    (args.out / "result.json").write_text(json.dumps(result, indent=1) + "\n", "utf-8")
    summary = {k: v for k, v in result.items() if k != "rounds"}
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
