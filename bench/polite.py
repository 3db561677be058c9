"""Politeness at full speed (issue 25): a polite pass against its host bound and an impolite pass.

A world shaped like the web, from the corpus's real pages: ``--hosts`` hosts whose sizes follow a
Zipf law, 1 / rank ** ``--zipf`` (a few big hosts carry most pages and feeds, most hosts a
handful), each page served at ``http://host-K.example/article-N.html``, each host with one
feed per ``--per-feed`` of its pages, and a share (``--elsewhere``) of every feed's entries
linking to pages on other hosts (an aggregator's or a partner's). All of it behind the replay
proxy (:mod:`replay`).

``ingest --once`` runs on a fresh database twice, alternating, ``--repeat`` times:

* **polite**: ingestd's defaults (``min_host_gap_s = 1``, ``per_host_concurrency = 2``);
* **impolite**: ``min_host_gap_s = 0``, ``per_host_concurrency = 4``.

The **host bound** of the polite pass is read from the proxy's log: for the busiest host, its
requests less one, times the gap ingestd keeps (1 s + 0.05 s slack): no polite pass can be
shorter. The figure of merit is polite / max(host bound, impolite) (issue 25: at most 1.25).

    python -m bench.polite --hosts 400 --repeat 3
    python -m bench.polite --hosts 400 --tree ../old-checkout   # another version, same world
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench import quality_replay, replay

GAP_S = 1.0 + 0.05  # ingestd's default min_host_gap_s and the slack its frontier adds
OUT = replay.BENCH_OUT / "polite"


def build(hosts: int, per_feed: int, elsewhere: float, seed: int, zipf: float) -> replay.World:
    """The web-shaped world (see the module's docstring)."""
    corpus = replay.corpus_dir()
    pages, skipped = replay.load_pages(corpus, None, seed)
    rng = random.Random(seed)
    weights = [1 / (rank + 1) ** zipf for rank in range(hosts)]
    names = [f"host-{rank}.example" for rank in range(hosts)]
    placed: dict[str, list[tuple[str, replay.Page]]] = defaultdict(list)
    resources: dict[str, replay.Resource] = {}
    labels: dict[str, dict[str, object]] = {}
    now = datetime.now(UTC).replace(microsecond=0)
    for number, page in enumerate(pages):
        host = rng.choices(names, weights)[0]
        url = f"http://{host}/article-{number}.html"
        body = (corpus / "pages" / page.file).read_bytes()
        resources[replay.route_key(url)] = replay.Resource(url, "text/html", body)
        placed[host].append((url, page))
        labels[url] = {"story": page.story, "original": True, "pattern": "original"}
    everything = [item for items in placed.values() for item in items]
    feeds: list[replay.FeedSpec] = []
    for host, items in placed.items():
        for start in range(0, len(items), per_feed):
            own = items[start : start + per_feed]
            other = [rng.choice(everything) for _ in range(round(len(own) * elsewhere))]
            feed = replay.FeedSpec(
                f"http://{host}/feed-{start // per_feed}.xml", f"{host} {start}", "original", host
            )
            for index, (url, page) in enumerate([*own, *other]):
                published = now - timedelta(hours=index + 1)
                feed.entries.append(
                    {"title": page.title, "url": url, "published": published.isoformat()}
                )
            resources[replay.route_key(feed.url)] = replay.Resource(
                feed.url, "application/rss+xml", replay.render_feed(feed)
            )
            feeds.append(feed)
    rng.shuffle(feeds)
    return replay.World(seed, now, resources, feeds, labels, skipped, [])


def host_bound(log: Path, since: float) -> tuple[float, str, int]:
    """The polite pass's lower bound from the proxy's log lines after ``since`` (Unix time):
    (seconds, busiest host, its requests)."""
    counts: Counter[str] = Counter()
    for line in log.read_text("utf-8").splitlines():
        entry = json.loads(line)
        if entry["t"] >= since:
            counts[urlsplit(entry["url"]).hostname or ""] += 1
    host, requests = counts.most_common(1)[0]
    return (requests - 1) * GAP_S, host, requests


def one_pass(
    world: replay.World,
    proxy: replay.ReplayProxy,
    name: str,
    http: dict[str, Any],
    tree: Path = replay.REPO,
) -> dict[str, Any]:
    """``ingest --once`` on a fresh database; wall and CPU time, and what it stored."""
    folder = OUT / name
    config = replay.write_config(
        world, proxy.url, folder / "state", folder / "ingestd.toml", extra_http=http
    )
    cpu: dict[str, Any] = {}
    since = time.time()
    started = time.perf_counter()
    done = quality_replay.run_ingest(config, folder / "state", "--once", cpu=cpu, tree=tree)
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"polite: ingest --once failed ({name}):\n{done.stderr[-2000:]}")
    return {
        "wall_s": round(wall, 2),
        "cpu_s": cpu.get("total_s"),
        "summary": done.stdout.strip(),
        "since": since,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hosts", type=int, default=400)
    parser.add_argument("--per-feed", type=int, default=4, help="own pages per feed")
    parser.add_argument(
        "--elsewhere", type=float, default=0.3, help="share of links to other hosts"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--zipf", type=float, default=0.7, help="host size ~ 1 / rank ** ZIPF")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--tree", type=Path, default=replay.REPO, help="the ingestd checkout to run (default: this)"
    )
    args = parser.parse_args()
    world = build(args.hosts, args.per_feed, args.elsewhere, args.seed, args.zipf)
    OUT.mkdir(parents=True, exist_ok=True)
    rounds = []
    with replay.ReplayProxy(world, OUT / "proxy-log.jsonl") as proxy:
        for _ in range(args.repeat):
            polite = one_pass(world, proxy, "polite", {}, args.tree)
            bound, host, requests = host_bound(OUT / "proxy-log.jsonl", polite.pop("since"))
            impolite = one_pass(
                world, proxy, "impolite", {"min_host_gap_s": 0.0, "per_host_concurrency": 4}
            )
            impolite.pop("since")
            floor = max(bound, impolite["wall_s"])
            rounds.append(
                {
                    "polite": polite,
                    "impolite": impolite,
                    "host_bound_s": round(bound, 2),
                    "busiest_host": {"host": host, "requests": requests},
                    "polite_vs_bound": round(polite["wall_s"] / floor, 3),
                }
            )
    pages = sum(1 for key in world.resources if "/article-" in key)
    result = {
        "world": {
            "hosts": args.hosts,
            "zipf": args.zipf,
            "feeds": len(world.feeds),
            "pages": pages,
            "seed": args.seed,
        },
        "rounds": rounds,
        "median_polite_vs_bound": statistics.median(r["polite_vs_bound"] for r in rounds),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
