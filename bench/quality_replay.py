"""Quality and throughput of the real ``ingest --once`` on the loopback replay world.

Builds the world of :mod:`replay` (real corpus pages at their real URLs, synthetic republished
copies on ``republisher-N.example``), starts the replay proxy, runs
``python -m ingestd --config <cfg> --once`` as a subprocess, reads ``items list --json`` and
``clusters list --json`` and scores them against ``labels.json``:

* pairwise precision / recall / F1 over all stored items (two items of one story = a positive);
* canonical accuracy: the share of stories with two or more stored items whose original is the
  canonical item of a cluster holding at least one of its copies;
* items whose text came from the feed fallback, items missing or unknown;
* every wrong pair and wrong canonical, with URLs, patterns and the product's reasons;
* wall time of the ingest run and throughput (article pages fetched and extracted per second).

Usage::

    python -m bench.quality_replay                 # all usable pages
    python -m bench.quality_replay --pages 100 --seed 1 --json
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import platform
import resource
import sqlite3
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import replay

REPO = replay.REPO
#: The explicit signal each copy pattern carries, as ingestd names it in a republication's reason.
EXPECTED_SIGNAL = {
    "attribution": "attribution",
    "excerpt": "attribution",
    "edited_canonical": "canonical_link",
}
TIMEOUT_S = 1800


def run_ingest(
    config: Path,
    state: Path,
    *args: str,
    cpu: dict[str, Any] | None = None,
    tree: Path = REPO,
) -> subprocess.CompletedProcess[str]:
    """``python -m ingestd --config <config> <args>`` from ``tree`` (this repository unless
    another checkout is named), a clean environment.

    With ``cpu`` (a dict), the process tree's CPU time is sampled and stored in it.
    """
    skip = ("INGESTD_DATABASE_URL", "INGESTD_CONFIG")
    env = {
        k: v for k, v in os.environ.items() if k not in skip and not k.lower().endswith("_proxy")
    }
    env["INGESTD_STATE_DIR"] = str(state)
    env["PYTHONPATH"] = str(tree) + os.pathsep + env.get("PYTHONPATH", "")
    command = [sys.executable, "-m", "ingestd", "--config", str(config), *args]
    with subprocess.Popen(
        command, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        proc = Path("/proc/self/stat").exists()
        sampler = TreeCpu(process.pid) if cpu is not None and proc else None
        if sampler is not None:
            sampler.__enter__()
        try:
            stdout, stderr = process.communicate(timeout=TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            stdout, stderr = process.communicate()
        finally:
            if sampler is not None:
                sampler.__exit__()
                assert cpu is not None
                cpu.update(sampler.summary())
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


class TreeCpu:
    """Samples the CPU time of a process and all its descendants from /proc (Linux).

    getrusage(RUSAGE_CHILDREN) misses the process-pool workers (their forkserver does not
    reap them into our tree), so the tree is walked every ``every_s`` seconds instead; a
    process's last sample counts, so at most ``every_s`` of each short-lived process is lost.
    """

    def __init__(self, pid: int, every_s: float = 0.2) -> None:
        self.pid = pid
        self.every_s = every_s
        self.seen: dict[int, tuple[str, float]] = {}  # pid -> (name, cpu seconds)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    def _stat(self, pid: int) -> tuple[int, str, float] | None:
        try:
            raw = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        name = raw[raw.index("(") + 1 : raw.rindex(")")]
        fields = raw[raw.rindex(")") + 2 :].split()
        return int(fields[1]), name, (int(fields[11]) + int(fields[12])) / self._tick

    def sample(self) -> None:
        stats = {}
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit() and (found := self._stat(int(entry.name))):
                stats[int(entry.name)] = found
        tree = {self.pid}
        grew = True
        while grew:
            grew = False
            for pid, (ppid, _, _) in stats.items():
                if ppid in tree and pid not in tree:
                    tree.add(pid)
                    grew = True
        for pid in tree:
            if pid in stats:
                self.seen[pid] = (stats[pid][1], stats[pid][2])

    def _loop(self) -> None:
        while not self._stop.wait(self.every_s):
            self.sample()

    def __enter__(self) -> TreeCpu:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, float]:
        main = self.seen.get(self.pid, ("", 0.0))[1]
        total = sum(cpu for _, cpu in self.seen.values())
        return {
            "total_s": round(total, 2),
            "main_process_s": round(main, 2),
            "other_processes_s": round(total - main, 2),
            "processes": len(self.seen),
        }


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _diagnostics(database: Path) -> dict[int, dict[str, Any]]:
    """Extra per-item columns straight from the SQLite file, when the schema has them."""
    wanted = ("id", "attribution", "extract_note", "n_words", "text")
    try:
        conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    except sqlite3.Error:
        return {}
    try:
        columns = {row[1] for row in conn.execute("PRAGMA table_info(items)")}
        chosen = [c for c in wanted if c in columns]
        if "id" not in chosen:
            return {}
        rows = conn.execute(f"SELECT {', '.join(chosen)} FROM items").fetchall()
    except sqlite3.Error:
        return {}
    finally:
        conn.close()
    found = {}
    for row in rows:
        record = dict(zip(chosen, row, strict=True))
        text = record.pop("text", None) or ""
        record["last_line"] = text.splitlines()[-1][:160] if text else ""
        found[int(record.pop("id"))] = record
    return found


def score(
    labels: dict[str, dict[str, Any]],
    items: list[dict[str, Any]],
    clusters: list[dict[str, Any]],
    diag: dict[int, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Pairwise scores, canonical accuracy and the errors, from the CLI's JSON output."""
    diag = diag or {}
    by_key = {replay.route_key(url): url for url in labels}
    known: list[tuple[dict[str, Any], str]] = []
    unknown = []
    for item in items:
        url = by_key.get(replay.route_key(item["url"] or ""))
        if url is None:
            unknown.append(item["url"])
        else:
            known.append((item, url))
    seen_urls = Counter(url for _, url in known)
    duplicates = sorted(url for url, n in seen_urls.items() if n > 1)
    missing = sorted(set(labels) - set(seen_urls))
    cluster_of = {
        item["id"]: (
            item["cluster_id"] if item["cluster_id"] is not None else f"single-{item['id']}"
        )
        for item, _ in known
    }
    reasons: dict[int, dict[str, Any]] = {}
    canonical_of_cluster: dict[int, int] = {}
    for cluster in clusters:
        canonical_of_cluster[cluster["id"]] = cluster["canonical"]["id"]
        reasons[cluster["canonical"]["id"]] = {
            "reason": "canonical: " + str(cluster["canonical_reason"]),
            "evidence": cluster.get("canonical_evidence"),
        }
        for rep in cluster["republications"]:
            reasons[rep["id"]] = {
                "reason": rep["reason"],
                "similarity": rep["similarity"],
                "measure": rep["similarity_measure"],
            }

    def describe(item: dict[str, Any], url: str) -> dict[str, Any]:
        label = labels[url]
        return {
            "url": url,
            "item": item["id"],
            "story": label["story"],
            "pattern": label["pattern"],
            "outlet": label.get("outlet"),
            "role": item["role"],
            "cluster": item["cluster_id"],
            "text_source": item.get("text_source"),
            "words": item.get("words"),
            "published": item.get("published"),
            "canonical_url": item.get("canonical_url"),
            **reasons.get(item["id"], {}),
            **diag.get(item["id"], {}),
        }

    tp = fp = fn = 0
    false_pairs: list[dict[str, Any]] = []
    missed_pairs: list[dict[str, Any]] = []
    for (a, ua), (b, ub) in itertools.combinations(known, 2):
        same_story = labels[ua]["story"] == labels[ub]["story"]
        same_cluster = cluster_of[a["id"]] == cluster_of[b["id"]]
        if same_story and same_cluster:
            tp += 1
        elif same_cluster:
            fp += 1
            false_pairs.append({"a": describe(a, ua), "b": describe(b, ub)})
        elif same_story:
            fn += 1
            first, second = ((a, ua), (b, ub)) if labels[ua]["original"] else ((b, ub), (a, ua))
            missed_pairs.append({"original": describe(*first), "copy": describe(*second)})
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    # Canonical accuracy over stories with two or more stored items.
    story_items: dict[str, list[tuple[dict[str, Any], str]]] = defaultdict(list)
    for item, url in known:
        story_items[str(labels[url]["story"])].append((item, url))
    outcomes: Counter[str] = Counter()
    wrong_canonicals = []
    for story, members in sorted(story_items.items()):
        if len(members) < 2:
            continue
        originals = [(i, u) for i, u in members if labels[u]["original"]]
        copies = [(i, u) for i, u in members if not labels[u]["original"]]
        if not originals:
            outcomes["original missing"] += 1
            continue
        original, original_url = originals[0]
        copy_clusters = {i["cluster_id"] for i, _ in copies if i["cluster_id"] is not None}
        if original["role"] == "canonical" and original["cluster_id"] in copy_clusters:
            outcomes["correct"] += 1
            continue
        if original["cluster_id"] is not None and original["cluster_id"] in copy_clusters:
            kind = "a copy is canonical"
        elif original["cluster_id"] is not None:
            kind = "original canonical of a cluster without its copy"
        else:
            kind = "not merged"
        chosen = [canonical_of_cluster.get(c) for c in copy_clusters | {original["cluster_id"]}]
        chosen_urls = [u for i, u in known if i["id"] in chosen]
        outcomes[kind] += 1
        wrong_canonicals.append(
            {
                "story": story,
                "kind": kind,
                "original": describe(original, original_url),
                "copies": [describe(i, u) for i, u in copies],
                "canonical_chosen": chosen_urls,
            }
        )
    multi = sum(n for n in outcomes.values())
    canonical_accuracy = outcomes["correct"] / multi if multi else 1.0

    # Arrival order: copies stored before their original (item ids are insertion order).
    id_of = {url: item["id"] for item, url in known}
    early = [
        url
        for url, label in labels.items()
        if not label["original"]
        and url in id_of
        and label["original_url"] in id_of
        and id_of[url] < id_of[str(label["original_url"])]
    ]
    fallback = [url for item, url in known if item.get("text_source") == "feed"]
    # Which evidence linked each copy, and why each story's canonical item was chosen.
    link_reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for item, url in known:
        if not labels[url]["original"]:
            reason = str(reasons.get(item["id"], {}).get("reason"))
            link_reasons[str(labels[url]["pattern"])][reason] += 1
    canonical_reasons = Counter(str(c["canonical_reason"]) for c in clusters)
    # Copies whose explicit signal was not what linked them to the original: a canonical that
    # is right only because the original is also the earliest.
    signal_misses = []
    detected: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for item, url in known:
        expected = EXPECTED_SIGNAL.get(str(labels[url]["pattern"]))
        if expected is None:
            continue
        got = reasons.get(item["id"], {}).get("reason")
        detected[str(labels[url]["pattern"])][1] += 1
        if got == expected:
            detected[str(labels[url]["pattern"])][0] += 1
        else:
            signal_misses.append({**describe(item, url), "expected_signal": expected})
    return {
        "items": len(items),
        "labelled_pages": len(labels),
        "matched_items": len(known),
        "missing_pages": missing,
        "unknown_items": unknown,
        "duplicate_items": duplicates,
        "pairs": {"tp": tp, "fp": fp, "fn": fn, "positives": tp + fn},
        "precision": round(precision, 4),
        "recall": round(recall, 4),
        "f1": round(f1, 4),
        "multi_item_stories": multi,
        "canonical_accuracy": round(canonical_accuracy, 4),
        "canonical_outcomes": dict(outcomes),
        "feed_fallback_items": len(fallback),
        "feed_fallback_urls": fallback,
        "copies_stored_before_original": len(early),
        "false_pairs": false_pairs,
        "missed_pairs": missed_pairs,
        "wrong_canonicals": wrong_canonicals,
        "copy_link_reasons": {k: dict(v) for k, v in sorted(link_reasons.items())},
        "canonical_reasons": dict(canonical_reasons),
        "signals_detected": {k: f"{v[0]}/{v[1]}" for k, v in sorted(detected.items())},
        "signal_misses": signal_misses,
        "missed_by_pattern": dict(Counter(p["copy"]["pattern"] for p in missed_pairs)),
    }


def proxy_stats(log_path: Path, labels: dict[str, dict[str, Any]]) -> dict[str, Any]:
    entries = [json.loads(line) for line in log_path.read_text("utf-8").splitlines() if line]
    pages = {replay.route_key(url) for url in labels}
    page_gets = [e for e in entries if e["method"] == "GET" and replay.route_key(e["url"]) in pages]
    feed_gets = [e for e in entries if e["method"] == "GET" and e not in page_gets]
    by_url = Counter(replay.route_key(e["url"]) for e in page_gets)
    times = [e["t"] for e in entries]
    start = min(times) if times else 0.0
    page_times = sorted(e["t"] - start for e in page_gets)
    gaps = [(b - a, a) for a, b in itertools.pairwise(page_times)]
    gap, gap_at = max(gaps) if gaps else (0.0, 0.0)
    return {
        "requests": len(entries),
        "by_method_status": dict(Counter(f"{e['method']} {e['status']}" for e in entries)),
        "page_gets": len(page_gets),
        "page_gets_ok": sum(1 for e in page_gets if e["status"] == 200),
        "pages_fetched_twice": sum(1 for n in by_url.values() if n > 1),
        "https_absolute_gets": sum(
            1 for e in entries if e["method"] == "GET" and e["url"].startswith("https://")
        ),
        "connects": sum(1 for e in entries if e["method"] == "CONNECT"),
        "user_agents": sorted({e["headers"].get("User-Agent", "") for e in entries}),
        "first_to_last_request_s": round(max(times) - min(times), 3) if times else 0.0,
        "timeline_s": {  # seconds after the first request the proxy saw
            "feed_gets": [
                round(min(e["t"] for e in feed_gets) - start, 2),
                round(max(e["t"] for e in feed_gets) - start, 2),
            ]
            if feed_gets
            else [],
            "page_gets": [round(page_times[0], 2), round(page_times[-1], 2)] if page_times else [],
            "page_gets_95pct_by": round(page_times[int(0.95 * (len(page_times) - 1))], 2)
            if page_times
            else None,
            "longest_page_gap": [round(gap_at, 2), round(gap, 2)],
        },
    }


def _extract_body(job: tuple[bytes, str, str, bool]) -> int:
    from ingestd.extract.article import extract_article

    article = extract_article(*job)
    return len(getattr(article, "text", ""))


def baseline(world: replay.World, favor: str = "balanced", fast: bool = False) -> dict[str, Any]:
    """The ceiling: ingestd's extraction (trafilatura, ``favor``, ``fast``) alone on every
    served page, one process per core."""
    from concurrent.futures import ProcessPoolExecutor

    bodies = [
        (world.resources[replay.route_key(url)].body, url, favor, fast) for url in world.labels
    ]
    clock = time.perf_counter()
    with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(_extract_body, bodies, chunksize=4))
    wall = time.perf_counter() - clock
    return {
        "pages": len(bodies),
        "wall_s": round(wall, 2),
        "pages_per_s": round(len(bodies) / wall, 2) if wall else 0.0,
    }


def source_fingerprint() -> dict[str, Any]:
    """Which ingestd was measured: HEAD, uncommitted changes, and a hash of the package source."""
    digest = hashlib.sha256()
    for path in sorted((REPO / "ingestd").rglob("*.py")):
        digest.update(str(path.relative_to(REPO)).encode() + b"\0" + path.read_bytes())
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--", "ingestd"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.splitlines()
    return {
        "head": head or None,
        "ingestd_files_changed": len(dirty),
        "ingestd_sha256": digest.hexdigest()[:16],
    }


def http_defaults() -> dict[str, Any]:
    """The [http] defaults of the ingestd being measured (concurrency and politeness)."""
    try:
        from ingestd.config import HttpSettings
    except ImportError:
        return {}
    d = HttpSettings()
    keys = ("max_concurrency", "per_host_concurrency", "min_host_gap_s", "timeout_s")
    return {k: getattr(d, k) for k in keys if hasattr(d, k)}


def machine() -> dict[str, Any]:
    import trafilatura

    return {
        "nproc": os.cpu_count(),
        "python": platform.python_version(),
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "trafilatura": trafilatura.__version__,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def run(
    pages: int | None,
    seed: int,
    out: Path | None,
    workers: int,
    with_baseline: bool = False,
    http: dict[str, object] | None = None,
    favor: str = "balanced",
    fast: bool = False,
    copies: float = replay.COPY_SHARE,
) -> dict[str, Any]:
    source_before = source_fingerprint()
    build_clock = time.perf_counter()
    world, _, folder = replay.prepare(pages, seed, out, copy_share=copies)
    build_s = time.perf_counter() - build_clock
    state = folder / "state"
    log_path = folder / "proxy-log.jsonl"
    with replay.ReplayProxy(world, log_path) as proxy:
        config = replay.write_config(
            world,
            proxy.url,
            state,
            folder / "ingestd.toml",
            workers,
            extra_http=http,
            favor=favor,
            fast=fast,
        )
        load_before = [round(x, 2) for x in os.getloadavg()]
        own = resource.getrusage(resource.RUSAGE_SELF)
        cpu: dict[str, Any] = {}
        clock = time.perf_counter()
        done = run_ingest(config, state, "--once", cpu=cpu)
        wall_s = time.perf_counter() - clock
        own_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu_s = float(cpu.get("total_s", 0.0))
    proxy_cpu_s = (own_after.ru_utime - own.ru_utime) + (own_after.ru_stime - own.ru_stime)
    (folder / "ingest-once.stdout").write_text(done.stdout, "utf-8")
    (folder / "ingest-once.stderr").write_text(done.stderr, "utf-8")
    if done.returncode != 0:
        raise SystemExit(
            f"quality_replay: ingest --once exited {done.returncode}:\n" + done.stderr[-3000:]
        )
    listed = run_ingest(config, state, "items", "list", "--json")
    grouped = run_ingest(config, state, "clusters", "list", "--json")
    for name, reading in (("items list", listed), ("clusters list", grouped)):
        if reading.returncode != 0:
            raise SystemExit(
                f"quality_replay: ingest {name} exited {reading.returncode}:\n"
                + reading.stderr[-3000:]
            )
    items, clusters = json_lines(listed.stdout), json_lines(grouped.stdout)
    (folder / "items.jsonl").write_text(listed.stdout, "utf-8")
    (folder / "clusters.jsonl").write_text(grouped.stdout, "utf-8")
    diag = _diagnostics(state / "ingestd.sqlite3")
    scores = score(world.labels, items, clusters, diag)
    traffic = proxy_stats(log_path, world.labels)
    log_lines = done.stderr.count("\n")
    result: dict[str, Any] = {
        "command": f"ingest --config {config} --once",
        "out": str(folder),
        "seed": seed,
        "pages_option": pages,
        "world": world.summary(),
        "build_s": round(build_s, 2),
        "wall_s": round(wall_s, 2),
        "ingest_summary": done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "",
        "ingest_log_lines": log_lines,
        "throughput_pages_per_s": round(traffic["page_gets_ok"] / wall_s, 2) if wall_s else 0.0,
        "throughput_items_per_s": round(len(items) / wall_s, 2) if wall_s else 0.0,
        "ingest_cpu_s": round(cpu_s, 2),  # the ingest process tree (main, forkserver, workers)
        "ingest_cpu": cpu,
        "cpu_utilisation": round(cpu_s / (wall_s * (os.cpu_count() or 1)), 3) if wall_s else 0.0,
        # Load-independent: CPU per page fetched, and the rate an idle machine would allow.
        "cpu_ms_per_page": round(1000 * cpu_s / traffic["page_gets_ok"], 1)
        if traffic["page_gets_ok"]
        else None,
        "cpu_bound_pages_per_s": round((os.cpu_count() or 1) * traffic["page_gets_ok"] / cpu_s, 1)
        if cpu_s
        else None,
        "proxy_cpu_s": round(proxy_cpu_s, 2),  # this process while ingest ran (mostly the proxy)
        "loadavg_before": load_before,
        "proxy": traffic,
        "machine": machine(),
        "source": source_before,
        "source_changed_during_run": source_fingerprint() != source_before,
        "http_settings": {**http_defaults(), **(http or {})},
        "favor": favor,
        "fast": fast,
        **scores,
    }
    if with_baseline:
        result["baseline_extraction"] = baseline(world, favor, fast)
    (folder / "result.json").write_text(json.dumps(result, indent=1, ensure_ascii=False), "utf-8")
    return result


def _short(d: dict[str, Any]) -> str:
    extra = f" reason={d.get('reason')}" if d.get("reason") else ""
    if d.get("similarity") is not None:
        extra += f" sim={d['similarity']}({d.get('measure')})"
    return (
        f"{d['url']} [{d['pattern']}, {d['role']}, cluster {d['cluster']}, "
        f"{d.get('text_source')}, {d.get('words')} words]{extra}"
    )


def report(result: dict[str, Any]) -> str:
    w = result["world"]
    lines = [
        f"world: {w['originals']} originals + {w['copies']} copies {w['patterns']} in "
        f"{w['feeds']} feeds ({w['copies_listed_before_original']} copies listed before their "
        f"original, {w['copies_without_pubdate']} without pubDate); data in {result['out']}",
        f"ingest: {result['ingest_summary']}",
        f"ingestd source {result['source']} (changed during the run: "
        f"{result['source_changed_during_run']}); [http] {result['http_settings']}",
        f"wall {result['wall_s']} s; {result['proxy']['page_gets_ok']} pages fetched → "
        f"{result['throughput_pages_per_s']} pages/s, {result['throughput_items_per_s']} items/s "
        f"(world build {result['build_s']} s, not counted)",
        f"ingest CPU {result['ingest_cpu_s']} s over {result['wall_s']} s wall on "
        f"{result['machine']['nproc']} cores (utilisation {result['cpu_utilisation']:.0%}; main "
        f"process {result['ingest_cpu'].get('main_process_s')} s, workers "
        f"{result['ingest_cpu'].get('other_processes_s')} s; {result['cpu_ms_per_page']} ms CPU "
        f"per page, i.e. {result['cpu_bound_pages_per_s']} pages/s if CPU-bound on an idle "
        f"machine); proxy {result['proxy_cpu_s']} s; "
        f"load average before {result['loadavg_before']}",
        f"proxy: {result['proxy']['by_method_status']}; timeline {result['proxy']['timeline_s']}",
        f"items {result['items']} (missing pages {len(result['missing_pages'])}, unknown "
        f"{len(result['unknown_items'])}, duplicates {len(result['duplicate_items'])}); "
        f"feed-fallback text: {result['feed_fallback_items']}; copies stored before original: "
        f"{result['copies_stored_before_original']}",
        f"pairs tp={result['pairs']['tp']} fp={result['pairs']['fp']} "
        f"fn={result['pairs']['fn']}: precision {result['precision']:.4f}  "
        f"recall {result['recall']:.4f}  F1 {result['f1']:.4f}",
        f"canonical accuracy {result['canonical_accuracy']:.4f} over "
        f"{result['multi_item_stories']} multi-item stories: {result['canonical_outcomes']}",
    ]
    lines.append(
        f"canonical chosen by: {result['canonical_reasons']}; copies linked by "
        f"(pattern: reason): {result['copy_link_reasons']}"
    )
    lines.append(
        f"explicit signals recognised (pattern: linked by its signal/copies): "
        f"{result['signals_detected']}"
    )
    if "baseline_extraction" in result:
        b = result["baseline_extraction"]
        lines.append(
            f"baseline: trafilatura alone on the {b['pages']} pages: {b['wall_s']} s, "
            f"{b['pages_per_s']} pages/s"
        )
    if result["missed_by_pattern"]:
        lines.append(f"missed pairs by copy pattern: {result['missed_by_pattern']}")
    for pair in result["false_pairs"]:
        lines.append(f"  FALSE PAIR  {_short(pair['a'])}\n          and {_short(pair['b'])}")
    for pair in result["missed_pairs"]:
        lines.append(
            f"  MISSED PAIR {_short(pair['original'])}\n          and {_short(pair['copy'])}"
        )
    for wrong in result["wrong_canonicals"]:
        lines.append(
            f"  WRONG CANONICAL {wrong['story']} ({wrong['kind']}): original "
            f"{_short(wrong['original'])}; chosen {wrong['canonical_chosen']}"
        )
    for miss in result["signal_misses"]:
        lines.append(
            f"  SIGNAL MISSED (expected {miss['expected_signal']}) {_short(miss)}; "
            f"ingestd read its attribution as {miss.get('attribution')!r}, "
            f"last line {miss.get('last_line')!r}"
        )
    for url in result["missing_pages"]:
        lines.append(f"  MISSING {url}")
    for url in result["feed_fallback_urls"]:
        lines.append(f"  FEED FALLBACK {url}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=None, help="N originals (default: all usable)")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder for the world, database and logs (default bench/out/replay-<N>-s<seed>)",
    )
    parser.add_argument(
        "--workers", type=int, default=0, help="[extract] workers for ingestd (0 = one per core)"
    )
    parser.add_argument(
        "--min-host-gap",
        type=float,
        default=None,
        metavar="S",
        help="write [http] min_host_gap_s = S (default: ingestd's default)",
    )
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also time trafilatura alone on the same pages (the CPU ceiling)",
    )
    parser.add_argument(
        "--favor",
        choices=("precision", "balanced", "recall"),
        default="balanced",
        help="write [extract] favor (default: balanced)",
    )
    parser.add_argument(
        "--fast", action="store_true", help="write [extract] fast = true (no fallback extractors)"
    )
    replay.add_copies_option(parser)
    parser.add_argument("--json", action="store_true", help="print the result as one JSON object")
    args = parser.parse_args(argv)
    http = {"min_host_gap_s": args.min_host_gap} if args.min_host_gap is not None else None
    result = run(
        args.pages,
        args.seed,
        args.out,
        args.workers,
        args.baseline,
        http,
        args.favor,
        args.fast,
        args.copies,
    )
    print(json.dumps(result, ensure_ascii=False) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
