"""Throughput of 1, 2 and 3 `ingest --once` workers on one PostgreSQL database.

The replay world of ``bench/replay.py`` (real pages from ``$INGESTD_CORPUS``, synthetic
republished copies, a loopback forward proxy) is ingested into a fresh PostgreSQL schema by N
concurrent workers, for N = 1, 2, 3; the wall time from start to the last worker's exit, the
items stored and the feeds fetched more than once (must be none) are printed.

    python -m bench.workers --database postgresql://postgres@127.0.0.1:5432/test [--pages 200]
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench import replay  # bench/replay.py, beside this file

REPO = Path(__file__).resolve().parents[1]


def run_workers(config: Path, count: int, state: Path) -> float:
    """Start ``count`` workers at once; seconds until the last one exits (each must exit 0)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "INGESTD_STATE_DIR": str(state)}
    started = time.monotonic()
    logs = [(state / f"worker-{n}.log").open("w") for n in range(count)]
    workers = [
        subprocess.Popen(
            [sys.executable, "-m", "ingestd", "--config", str(config), "--once"],
            cwd=REPO,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        for log in logs
    ]
    for worker in workers:
        if worker.wait(timeout=1800) != 0:
            raise SystemExit(f"a worker failed; see {state}")
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", required=True, help="PostgreSQL URL (a schema is made)")
    parser.add_argument("--pages", type=int, default=None, help="originals used (default all)")
    parser.add_argument("--workers", default="1,2,3")
    args = parser.parse_args()
    world, _corpus, _out = replay.prepare(args.pages)
    admin = create_engine(make_url(args.database).set(drivername="postgresql+psycopg"))
    print(f"world: {len(world.feeds)} feeds; proxy replay; database {args.database}")
    for count in (int(n) for n in args.workers.split(",")):
        schema = f"bench_{secrets.token_hex(6)}"
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        url = (
            f"{args.database}{'&' if '?' in args.database else '?'}options=-csearch_path%3D{schema}"
        )
        state = Path(tempfile.mkdtemp(prefix=f"ingestd-w{count}-"))
        log_path = state / "proxy.jsonl"
        with replay.ReplayProxy(world, log_path) as proxy:
            config = replay.write_config(world, proxy.url, state, state / "ingestd.toml", workers=1)
            config.write_text(
                config.read_text().replace(f"sqlite:///{state / 'ingestd.sqlite3'}", url), "utf-8"
            )
            wall = run_workers(config, count, state)
        feed_urls = {feed.url for feed in world.feeds}
        entries = [json.loads(line) for line in log_path.read_text().splitlines()]
        fetched = Counter(e["url"] for e in entries if e.get("method") == "GET")
        twice = sum(1 for url, n in fetched.items() if url in feed_urls and n > 1)
        with admin.begin() as conn:
            stored = conn.execute(text(f'SELECT count(*) FROM "{schema}".items')).scalar()
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        print(
            f"{count} worker(s): {wall:.1f} s wall, {stored} items, "
            f"{stored / wall:.1f} items/s, feeds fetched twice: {twice}"
        )


if __name__ == "__main__":
    main()
