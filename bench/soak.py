"""Soak benchmark: the daemon for a long run against changing feeds on loopback servers.

``--feeds`` generated outlets (``tests/support/bigworld.py``; default 20) on loopback hosts (one per
ten outlets, at least four: 127.0.0.2, 127.0.0.3, ...) each publish a story every ``--period-s``
(every fourth one also carried by the next outlet) and list their newest ``--window``. The
daemon (``ingest run``, a real subprocess) polls them every ``--interval`` (within 30 s-4 min
of it after adaptation) with retention and the dedup window at ``--retention-days`` (default
0.01 d = 14.4 min, so pruning runs during the soak).
Every ``--sample-s`` seconds the benchmark records the daemon's resident memory (the main
process and, separately, its pool workers), open file descriptors, threads, the SQLite file
and WAL sizes, and a ``/metrics`` scrape. At the end it stops the daemon with SIGTERM and
reports whether memory and descriptors stayed flat after the warm-up.

    python -m bench.soak --minutes 35 --out bench/out/soak-1     # results in OUT/summary.json
    python -m bench.soak --feeds 500 --period-s 300 --window 4 --interval 2m --minutes 40

Nothing leaves the machine: every feed and page is served on 127.0.0.x.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]

from tests.support.bigworld import LiveWorld  # noqa: E402

_PAGE = re.compile(r"^/outlet-(\d+)/(\d+)-(\d+)\.html$")
_FEED = re.compile(r"^/outlet-(\d+)/feed\.xml$")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Each write leaves at once, as from a web server: with Nagle on, a body written after
        # its headers waits for the client's delayed ACK, 40 ms a request on a reused connection.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_GET(self) -> None:
        world = self.server.world
        status, body, etag = 404, b"not found", None
        if match := _FEED.match(self.path):
            body, etag = world.feed_document(int(match.group(1)))
            status = 304 if self.headers.get("If-None-Match") == etag else 200
        elif match := _PAGE.match(self.path):
            page = world.page(*(int(g) for g in match.groups()))
            if page is not None:
                status, body = 200, page
        self.server.requests += 1
        self.send_response(status)
        if etag:
            self.send_header("ETag", etag)
        kind = "application/rss+xml" if etag else "text/html; charset=utf-8"
        self.send_header("Content-Type", kind)
        body = b"" if status == 304 else body
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, world: LiveWorld) -> None:
        super().__init__((host, 0), _Handler)
        self.world = world
        self.requests = 0


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve(feeds: int, period_s: float, window: int) -> tuple[LiveWorld, list[_Server], list[str]]:
    """Serve the world on one loopback host per ten feeds (at least four, at most 200)."""
    world = LiveWorld(feeds, [], period_s, window=window)
    hosts = [f"127.0.0.{2 + k}" for k in range(min(200, max(4, feeds // 10)))]
    servers = [_Server(host, world) for host in hosts]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    bases = []
    for feed in range(feeds):
        host, port = servers[feed % len(servers)].server_address[:2]
        bases.append(f"http://{host}:{port}")
    world.bases = bases
    return world, servers, [f"{base}/outlet-{i}/feed.xml" for i, base in enumerate(bases)]


def _config(out: Path, urls: list[str], port: int, days: float, interval: str) -> Path:
    lines = [
        "[http]\nallow_private_networks = true\n",
        f'[schedule]\ndefault_interval = "{interval}"\nmin_interval = "30s"\nmax_interval = "4m"\n',
        "[extract]\nworkers = 2\n",
        f"[dedup]\nwindow_days = {days}\n",
        f"[retention]\ndays = {days}\n",
        f'[metrics]\nlisten = "127.0.0.1:{port}"\n',
        *(f'[[feeds]]\nurl = "{url}"\nname = "outlet {i}"\n' for i, url in enumerate(urls)),
    ]
    path = out / "soak.toml"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _status(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    return 0


def _scrape(port: int) -> dict[str, float]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
            text = answer.read().decode()
    except OSError:
        return {}
    wanted = (
        "ingestd_items ",
        "ingestd_clusters ",
        "ingestd_queue_depth ",
        "ingestd_items_new_total ",
        "ingestd_passes_total ",
    )
    found = {}
    for line in text.splitlines():
        if line.startswith(wanted):
            name, value = line.rsplit(" ", 1)
            found[name] = float(value)
        elif line.startswith("ingestd_polls_total{"):
            found[line.rsplit(" ", 1)[0]] = float(line.rsplit(" ", 1)[1])
    return found


def _sample(pid: int, port: int, state: Path, started: float) -> dict[str, Any]:
    workers = _descendants(pid)
    database = state / "ingestd.sqlite3"
    wal = state / "ingestd.sqlite3-wal"
    return {
        "t_s": round(time.monotonic() - started, 1),
        "rss_kb": _status(pid, "VmRSS"),
        "workers_rss_kb": sum(_safe_status(w, "VmRSS") for w in workers),
        "processes": 1 + len(workers),
        "worker_pids": sorted(workers),
        "fds": sum(1 for _ in Path(f"/proc/{pid}/fd").iterdir()),
        "threads": _status(pid, "Threads"),
        "db_bytes": database.stat().st_size if database.exists() else 0,
        "wal_bytes": wal.stat().st_size if wal.exists() else 0,
        **_scrape(port),
    }


def _safe_status(pid: int, key: str) -> int:
    try:
        return _status(pid, key)
    except OSError:
        return 0


def _slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of value over time, per hour."""
    if len(points) < 2:
        return 0.0
    n = len(points)
    mean_t = sum(t for t, _ in points) / n
    mean_v = sum(v for _, v in points) / n
    num = sum((t - mean_t) * (v - mean_v) for t, v in points)
    den = sum((t - mean_t) ** 2 for t, _ in points) or 1.0
    return num / den * 3600


def summarise(samples: list[dict[str, Any]], warmup_s: float) -> dict[str, Any]:
    steady = [s for s in samples if s["t_s"] >= warmup_s]
    summary: dict[str, Any] = {"samples": len(samples), "steady_samples": len(steady)}
    for key in ("rss_kb", "workers_rss_kb", "fds", "threads", "db_bytes", "wal_bytes"):
        values = [s[key] for s in steady]
        if not values:
            continue
        summary[key] = {
            "first": values[0],
            "last": values[-1],
            "min": min(values),
            "max": max(values),
            "slope_per_hour": round(_slope_per_hour([(s["t_s"], s[key]) for s in steady]), 1),
        }
    summary["final"] = samples[-1] if samples else {}
    summary["worker_sets"] = len({tuple(s["worker_pids"]) for s in samples})  # 1: no respawn
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=30.0)
    parser.add_argument("--warmup-minutes", type=float, default=10.0)
    parser.add_argument("--sample-s", type=float, default=30.0)
    parser.add_argument("--feeds", type=int, default=20)
    parser.add_argument("--period-s", type=float, default=60.0, help="a new story per feed")
    parser.add_argument("--window", type=int, default=20, help="stories listed per feed")
    parser.add_argument("--interval", default="45s", help="[schedule] default_interval")
    parser.add_argument("--retention-days", type=float, default=0.01)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "soak")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    state = out / "state"
    _world, servers, urls = _serve(args.feeds, args.period_s, args.window)
    port = _free_port()
    config = _config(out, urls, port, args.retention_days, args.interval)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    env.update(INGESTD_STATE_DIR=str(state), PYTHONPATH=str(REPO))
    log = (out / "daemon.stderr").open("w")
    daemon = subprocess.Popen(
        [sys.executable, "-m", "ingestd", "--config", str(config), "run"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    started = time.monotonic()
    samples: list[dict[str, Any]] = []
    with (out / "samples.jsonl").open("w") as sink:
        while time.monotonic() - started < args.minutes * 60 and daemon.poll() is None:
            time.sleep(args.sample_s)
            if daemon.poll() is not None:
                break
            sample = _sample(daemon.pid, port, state, started)
            samples.append(sample)
            sink.write(json.dumps(sample) + "\n")
            sink.flush()
    clock = time.monotonic()
    daemon.send_signal(signal.SIGTERM)
    code = daemon.wait(timeout=60)
    summary = summarise(samples, args.warmup_minutes * 60)
    summary.update(
        minutes=round((clock - started) / 60, 1),
        exit_code=code,
        shutdown_s=round(time.monotonic() - clock, 2),
        requests_served=sum(s.requests for s in servers),
        feeds=args.feeds,
        period_s=args.period_s,
        window=args.window,
        interval=args.interval,
        hosts=len(servers),
        retention_days=args.retention_days,
    )
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0 if code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
