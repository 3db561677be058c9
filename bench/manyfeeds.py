"""Many feeds on one machine (issues 25 and 29): an OPML import, a first pass and a pass of
conditional polls, served by nginx on loopback.

The world: ``--feeds`` RSS feeds on ``--hosts`` hosts (feed ``i`` on host ``i % hosts``; a host
is a loopback address 127.x.y.z, so no name is looked up), ``--entries`` entries each, written
as static files that nginx serves with ``ETag`` and ``Last-Modified`` (so a feed asked again
answers 304). nginx (Debian's package) listens on one port of every local address and runs
one worker process; nothing leaves 127.0.0.0/8.

Steps, each timed (wall, and CPU of ingestd's process tree):

1. ``ingest feeds import`` of an OPML file listing every feed;
2. ``ingest --once`` with default politeness, ``[extract] fetch_pages = false`` (the feed's
   own entries are the items): every feed answers 200;
3. every feed made due again, ``ingest --once``: every feed answers 304; polls per second and
   CPU per poll;
4. ``ingest feeds list --json`` and ``ingest stats --json`` on that store.

    python -m bench.manyfeeds --feeds 10000 --hosts 2000 --entries 10
    python -m bench.manyfeeds --feeds 100000 --hosts 20000 --entries 2
    python -m bench.manyfeeds --feeds 10000 --workers 2 \\
        --database postgresql://postgres@127.0.0.1/test
"""

from __future__ import annotations

import argparse
import email.utils
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bench import quality_replay

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "bench" / "out" / "manyfeeds"
PORT = 18090


def host_address(host: int) -> str:
    """A loopback address for host number ``host`` (up to ~16 million)."""
    return f"127.{1 + host // 65_025}.{host // 255 % 255}.{1 + host % 255}"


NAMES = False  # --names: hosts are names listed in /etc/hosts instead of addresses
HOSTS_FILE = Path("/etc/hosts")
HOSTS_MARK = "# bench/manyfeeds.py"


def host_name(host: int) -> str:
    """Host number ``host`` as the URLs spell it: its address, or (``--names``) a name."""
    return f"h{host}.manyfeeds.test" if NAMES else host_address(host)


def feed_url(feed: int, hosts: int) -> str:
    return f"http://{host_name(feed % hosts)}:{PORT}/feeds/{feed}.xml"


def list_names(hosts: int) -> str:
    """Add every host's name to /etc/hosts (so each lookup goes through the system's resolver);
    returns the file's text before, for :func:`unlist_names`."""
    before = HOSTS_FILE.read_text()
    lines = [f"{host_address(n)} {host_name(n)} {HOSTS_MARK}" for n in range(hosts)]
    HOSTS_FILE.write_text(before.rstrip("\n") + "\n" + "\n".join(lines) + "\n")
    return before


def unlist_names(before: str) -> None:
    HOSTS_FILE.write_text(before)


VOCABULARY = [
    "harbour",
    "council",
    "weather",
    "market",
    "school",
    "bridge",
    "river",
    "station",
    "festival",
    "library",
    "budget",
    "election",
    "garden",
    "hospital",
    "museum",
    "railway",
    "ferry",
    "mayor",
    "court",
    "stadium",
    "theatre",
    "factory",
    "orchard",
    "tunnel",
    "airport",
    "bakery",
    "clinic",
    "harvest",
    "parish",
    "quarry",
    "reservoir",
    "tram",
    "village",
]


def words(seed: int, count: int = 40) -> str:
    """A sentence of ``count`` words drawn from a small vocabulary, different for each seed
    (so no two entries are near-duplicates and the dedup stage stores every one apart)."""
    rng = random.Random(seed)
    return " ".join(rng.choice(VOCABULARY) + str(rng.randrange(1000)) for _ in range(count))


def write_world(folder: Path, feeds: int, hosts: int, entries: int) -> Path:
    """The feed files (served by nginx) and an OPML file of every feed; returns the OPML."""
    root = folder / "www" / "feeds"
    root.mkdir(parents=True, exist_ok=True)
    base = datetime(2026, 12, 1, 6, 0, tzinfo=UTC)
    for feed in range(feeds):
        host = host_name(feed % hosts)
        items = []
        for entry in range(entries):
            when = email.utils.format_datetime(base - timedelta(minutes=feed % 997 + entry), True)
            link = f"http://{host}:{PORT}/a/{feed}-{entry}.html"
            items.append(
                f"<item><title>Story {entry} of feed {feed}</title><link>{link}</link>"
                f"<guid>{feed}-{entry}</guid><pubDate>{when}</pubDate>"
                f"<description>{words(feed * 1000 + entry)}</description></item>"
            )
        (root / f"{feed}.xml").write_text(
            '<?xml version="1.0"?><rss version="2.0"><channel>'
            f"<title>Feed {feed}</title><link>http://{host}:{PORT}/</link>"
            + "".join(items)
            + "</channel></rss>",
            "utf-8",
        )
    outlines = "".join(
        f'<outline type="rss" text="Feed {n}" xmlUrl="{feed_url(n, hosts)}"/>' for n in range(feeds)
    )
    opml = folder / "feeds.opml"
    opml.write_text(
        f'<?xml version="1.0"?><opml version="2.0"><head><title>many</title></head><body>'
        f"{outlines}</body></opml>",
        "utf-8",
    )
    return opml


def start_nginx(folder: Path) -> subprocess.Popen[bytes]:
    """nginx serving ``folder/www`` on :data:`PORT` of every local address, one worker."""
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        raise SystemExit("manyfeeds: nginx not found (apt-get install nginx-light)")
    conf = folder / "nginx.conf"
    (folder / "logs").mkdir(exist_ok=True)
    conf.write_text(
        "daemon off; worker_processes 1; error_log logs/error.log; pid logs/nginx.pid;\n"
        "events { worker_connections 8192; }\n"
        "http { access_log off; keepalive_requests 100000; keepalive_timeout 30s;\n"
        "  types { application/rss+xml xml; }\n"
        f"  server {{ listen {PORT} reuseport backlog=8192; root {folder / 'www'}; }} }}\n"
    )
    process = subprocess.Popen([nginx, "-p", str(folder), "-c", str(conf)])
    time.sleep(0.5)
    if process.poll() is not None:
        raise SystemExit(f"manyfeeds: nginx did not start (see {folder / 'logs'})")
    return process


def write_config(folder: Path, database: str) -> Path:
    config = folder / "ingestd.toml"
    config.write_text(
        f"[database]\nurl = {json.dumps(database)}\n\n"
        "[http]\nallow_private_networks = true\n\n"
        "[extract]\nfetch_pages = false\n\n"
        '[schedule]\ndefault_interval = "1h"\n',
        "utf-8",
    )
    return config


def ingest(config: Path, state: Path, *args: str, workers: int = 1) -> dict[str, Any]:
    """``ingest <args>`` (``workers`` of them at once): wall time, CPU (one worker) and output."""
    cpu: dict[str, Any] = {}
    clock = time.perf_counter()
    if workers == 1:
        done = quality_replay.run_ingest(config, state, *args, cpu=cpu)
        if done.returncode != 0:
            raise SystemExit(f"manyfeeds: ingest {' '.join(args)}:\n{done.stderr[-2000:]}")
        outputs = [done.stdout.strip()[-300:]]
    else:
        env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
        env.update(INGESTD_STATE_DIR=str(state), PYTHONPATH=str(REPO))
        command = [sys.executable, "-m", "ingestd", "--config", str(config), *args]
        running = [
            subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            for _ in range(workers)
        ]
        outputs = [process.communicate()[0].decode()[-300:] for process in running]
    return {
        "wall_s": round(time.perf_counter() - clock, 2),
        "cpu_s": cpu.get("total_s"),
        "cpu_main_s": cpu.get("main_process_s"),
        "output": outputs,
    }


def make_due(database: str) -> None:
    """Every feed due now (as if its interval had passed)."""
    if database.startswith("sqlite:///"):
        connection = sqlite3.connect(database.removeprefix("sqlite:///"))
        with connection:
            connection.execute("UPDATE feeds SET next_poll_at = NULL")
        connection.close()
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(text("UPDATE feeds SET next_poll_at = NULL"))
    engine.dispose()


def prime_validators(database: str, folder: Path) -> None:
    """Give every feed the validators nginx will answer ``304`` to (its ``ETag`` is the file's
    mtime and size in hex), as a first pass would have stored them: the conditional pass can
    then be measured on a store with no first pass (``--prime``)."""
    from sqlalchemy import create_engine, text

    url = database.replace("postgresql://", "postgresql+psycopg://", 1)
    engine = create_engine(url)
    root = folder / "www" / "feeds"
    now = datetime.now(UTC)
    sqlite = database.startswith("sqlite")
    with engine.begin() as conn:
        rows = conn.execute(text("SELECT id, url FROM feeds")).all()
        values = []
        for feed_id, url in rows:
            stat = (root / url.rsplit("/", 1)[1]).stat()
            mtime = int(stat.st_mtime)
            values.append(
                {
                    "id": feed_id,
                    "etag": f'"{mtime:x}-{stat.st_size:x}"',
                    "modified": email.utils.formatdate(mtime, usegmt=True),
                    "now": now.replace(tzinfo=None).isoformat(sep=" ") if sqlite else now,
                }
            )
        conn.execute(
            text(
                "UPDATE feeds SET etag = :etag, last_modified = :modified, status = 'ok',"
                " body_fetched_at = :now WHERE id = :id"
            ),
            values,
        )
    engine.dispose()


METRICS_PORT = 18091


def spread_due(database: str, interval_s: float) -> None:
    """Every feed due once within the next ``interval_s``, evenly (as a daemon that has run a
    while has them), so lateness measures keeping up, not a first wave."""
    from sqlalchemy import create_engine, text

    engine = create_engine(database.replace("postgresql://", "postgresql+psycopg://", 1))
    sqlite = database.startswith("sqlite")
    now = datetime.now(UTC)
    with engine.begin() as conn:
        ids = [row[0] for row in conn.execute(text("SELECT id FROM feeds ORDER BY id"))]
        step = interval_s / max(1, len(ids))
        values = []
        for n, feed_id in enumerate(ids):
            when = now + timedelta(seconds=n * step)
            values.append({"id": feed_id, "at": when.replace(tzinfo=None) if sqlite else when})
        conn.execute(
            text("UPDATE feeds SET next_poll_at = :at, lease_owner = NULL WHERE id = :id"), values
        )
    engine.dispose()


def run_daemon(
    config: Path, state: Path, database: str, feeds: int, rate: float, seconds: float
) -> dict[str, Any]:
    """``ingest run`` for ``seconds`` with an interval that needs ``rate`` polls a second:
    the lateness histogram from ``/metrics``, polls done, and the main process's peak RSS."""
    import urllib.request

    interval_s = feeds / rate
    text_config = config.read_text("utf-8").replace(
        '[schedule]\ndefault_interval = "1h"\n',
        f'[schedule]\ndefault_interval = "{int(interval_s)}s"\nmin_interval = "60s"\n',
    )
    text_config += f'\n[metrics]\nlisten = "127.0.0.1:{METRICS_PORT}"\n'
    daemon_config = config.with_name("daemon.toml")
    daemon_config.write_text(text_config, "utf-8")
    spread_due(database, interval_s)
    env = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    env.update(INGESTD_STATE_DIR=str(state), PYTHONPATH=str(REPO))
    command = [sys.executable, "-m", "ingestd", "--config", str(daemon_config), "run"]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    peak_kb = 0
    started = time.monotonic()
    try:
        while time.monotonic() - started < seconds:
            time.sleep(1)
            status = Path(f"/proc/{process.pid}/status").read_text()
            rss = [line for line in status.splitlines() if line.startswith("VmRSS")]
            if rss:
                peak_kb = max(peak_kb, int(rss[0].split()[1]))
        url = f"http://127.0.0.1:{METRICS_PORT}/metrics"
        metrics = urllib.request.urlopen(url, timeout=30).read().decode()
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=120)
    buckets = {}
    for line in metrics.splitlines():
        if line.startswith("ingestd_feed_lateness_seconds_bucket"):
            bound = line.split('le="', 1)[1].split('"', 1)[0]
            buckets[bound] = float(line.rsplit(" ", 1)[1])
    total = buckets.get("+Inf", 0.0)
    return {
        "interval_s": round(interval_s),
        "needed_polls_per_s": rate,
        "seconds": seconds,
        "polls": int(total),
        "share_late_within_s": {b: round(n / total, 4) for b, n in buckets.items()}
        if total
        else {},
        "main_rss_peak_mb": round(peak_kb / 1024),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=10_000)
    parser.add_argument("--hosts", type=int, default=2_000)
    parser.add_argument("--entries", type=int, default=10)
    parser.add_argument("--database", default=None, help="default: a fresh SQLite file")
    parser.add_argument("--workers", type=int, default=1, help="ingest processes at once")
    parser.add_argument("--skip-first", action="store_true", help="reuse the last run's store")
    parser.add_argument(
        "--prime",
        action="store_true",
        help="no first pass: import, then store the validators nginx answers 304 to",
    )
    parser.add_argument(
        "--names",
        action="store_true",
        help="host names listed in /etc/hosts (root; restored after) instead of addresses",
    )
    parser.add_argument(
        "--daemon",
        type=float,
        default=0,
        metavar="SECONDS",
        help="after the passes, run the daemon this long at --rate polls/s (needs a store)",
    )
    parser.add_argument("--rate", type=float, default=300.0, help="polls/s the daemon needs")
    args = parser.parse_args()
    global NAMES
    NAMES = args.names
    folder = OUT / f"f{args.feeds}-h{args.hosts}-e{args.entries}{'-names' if NAMES else ''}"
    state = folder / "state"
    database = args.database or f"sqlite:///{state / 'ingestd.sqlite3'}"
    if not args.skip_first:
        shutil.rmtree(folder, ignore_errors=True)
        state.mkdir(parents=True)
        opml = write_world(folder, args.feeds, args.hosts, args.entries)
    config = write_config(folder, database)
    hosts_before = list_names(args.hosts) if NAMES else None
    nginx = start_nginx(folder)
    result: dict[str, Any] = {"feeds": args.feeds, "hosts": args.hosts, "entries": args.entries}
    result["database"] = "sqlite" if database.startswith("sqlite") else "postgresql"
    result["workers"] = args.workers
    result["names"] = NAMES
    try:
        if not args.skip_first:
            result["import"] = ingest(config, state, "feeds", "import", str(opml))
            if args.prime:
                prime_validators(database, folder)
            else:
                result["first_pass"] = ingest(config, state, "--once", workers=args.workers)
        if args.daemon:
            result["daemon"] = run_daemon(
                config, state, database, args.feeds, args.rate, args.daemon
            )
            print(json.dumps(result, indent=1), flush=True)
            return 0
        make_due(database)
        conditional = ingest(config, state, "--once", workers=args.workers)
        conditional["polls_per_s"] = round(args.feeds / conditional["wall_s"])
        if conditional["cpu_s"] and args.workers == 1:
            conditional["cpu_ms_per_poll"] = round(1000 * conditional["cpu_s"] / args.feeds, 3)
        result["conditional_pass"] = conditional
        result["feeds_list"] = ingest(config, state, "feeds", "list", "--json")["wall_s"]
        result["stats"] = ingest(config, state, "stats", "--json")["wall_s"]
    finally:
        nginx.send_signal(signal.SIGQUIT)
        nginx.wait(timeout=10)
        if hosts_before is not None:
            unlist_names(hosts_before)
    result["date"] = datetime.now(UTC).isoformat(timespec="seconds")
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
