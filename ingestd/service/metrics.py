"""Numbers about a running ingestd: Prometheus text for ``/metrics``, and ``ingest stats``.

:class:`Metrics` is a :class:`~ingestd.pipeline.events.PipelineEvents` observer that counts polls,
items, fetch durations and extraction failures since the process started (counters and
histograms, as Prometheus expects). Gauges (feeds by status, queue depth, items, clusters) are
read from the store at each scrape, so they agree with ``ingest stats``, which reads the same
numbers (and a few that need a scan) from the database alone.

The exposition format is small enough to write by hand (text format 0.0.4), so there is no
``prometheus_client`` dependency, no global registry, and nothing to set up in worker processes.
"""

from __future__ import annotations

import math
import os
import re
import time
from bisect import bisect_left
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ingestd import __version__
from ingestd.pipeline.events import NoEvents
from ingestd.service.procstat import descendants
from ingestd.store.upkeep import Gauges, Stats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
FETCH_BUCKETS_S = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
POLL_BUCKETS_S = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
LATENESS_BUCKETS_S = (1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 21600.0)
POLL_OUTCOMES = ("new", "unchanged", "not_modified", "failed")
MAX_REASONS = 20  # distinct extraction-failure reasons kept as labels; the rest are "other"
Labels = tuple[str, ...]


@dataclass
class Counter:
    name: str
    help: str
    label_names: Labels = ()
    values: dict[Labels, float] = field(default_factory=dict)

    def inc(self, *labels: str, by: float = 1.0) -> None:
        self.values[labels] = self.values.get(labels, 0.0) + by

    def lines(self) -> list[str]:
        out = _header(self.name, self.help, "counter")
        if not self.values and not self.label_names:
            return [*out, f"{self.name} 0"]
        for labels, value in sorted(self.values.items()):
            out.append(f"{self.name}{_labels(self.label_names, labels)} {_number(value)}")
        return out


@dataclass
class Histogram:
    name: str
    help: str
    label_names: Labels
    buckets: Sequence[float]
    series: dict[Labels, list[float]] = field(default_factory=dict)  # counts..., sum

    def observe(self, value: float, *labels: str) -> None:
        row = self.series.setdefault(labels, [0.0] * (len(self.buckets) + 2))
        row[bisect_left(self.buckets, value)] += 1  # the first bucket whose bound is >= value
        row[-1] += value

    def lines(self) -> list[str]:
        out = _header(self.name, self.help, "histogram")
        for labels, row in sorted(self.series.items()):
            running = 0.0
            bounds = [*map(_number, self.buckets), "+Inf"]
            for bound, count in zip(bounds, row[:-1], strict=True):
                running += count
                names, values = (*self.label_names, "le"), (*labels, bound)
                out.append(f"{self.name}_bucket{_labels(names, values)} {_number(running)}")
            tags = _labels(self.label_names, labels)
            out.append(f"{self.name}_sum{tags} {_number(row[-1])}")
            out.append(f"{self.name}_count{tags} {_number(running)}")
        return out


class Metrics(NoEvents):
    """Counts what the pipeline reports; renders them with the store's gauges. Labelled series
    whose labels are known in advance (poll outcomes) are there at zero from the start, so an
    alert on the first failure has a series to fire on."""

    def __init__(self) -> None:
        self.polls = Counter("ingestd_polls_total", "Feed polls by outcome.", ("outcome",))
        for outcome in POLL_OUTCOMES:
            self.polls.inc(outcome, by=0.0)
        self.passes = Counter("ingestd_passes_total", "Passes over the due feeds.")
        self.new_items = Counter("ingestd_items_new_total", "Items stored (new entries).")
        self.republications = Counter(
            "ingestd_items_republication_total",
            "New items linked as a republication of a story already stored.",
        )
        self.extraction_failures = Counter(
            "ingestd_extraction_failures_total",
            "Pages without usable text (the feed's own content was stored).",
            ("reason",),
        )
        self.fetch_seconds = Histogram(
            "ingestd_fetch_duration_seconds",
            "Duration of feed and page fetches.",
            ("kind", "outcome"),
            FETCH_BUCKETS_S,
        )
        self.poll_seconds = Histogram(
            "ingestd_poll_duration_seconds",
            "Duration of a feed poll, pages and writes included.",
            ("outcome",),
            POLL_BUCKETS_S,
        )
        self.lateness_seconds = Histogram(
            "ingestd_feed_lateness_seconds",
            "How long after a feed was due its poll started.",
            (),
            LATENESS_BUCKETS_S,
        )
        self.lateness_seconds.series[()] = [0.0] * (len(LATENESS_BUCKETS_S) + 2)
        for outcome in POLL_OUTCOMES:
            self.poll_seconds.series[(outcome,)] = [0.0] * (len(POLL_BUCKETS_S) + 2)

    def poll_late(self, lateness_s: float) -> None:
        self.lateness_seconds.observe(lateness_s)

    def pass_started(self, due_feeds: int) -> None:
        self.passes.inc()

    def poll_finished(
        self, feed_url: str, outcome: str, new_items: int, republications: int, duration_s: float
    ) -> None:
        self.polls.inc(outcome)
        self.new_items.inc(by=new_items)
        self.republications.inc(by=republications)
        self.poll_seconds.observe(duration_s, outcome)

    def fetch_finished(self, kind: str, outcome: str, duration_s: float) -> None:
        self.fetch_seconds.observe(duration_s, kind, outcome)

    def extraction_failed(self, reason: str) -> None:
        label = _reason_label(reason)
        known = {labels[0] for labels in self.extraction_failures.values}
        if label not in known and len(known) >= MAX_REASONS:
            label = "other"
        self.extraction_failures.inc(label)

    def render(self, gauges: Gauges | None, extra: Mapping[str, tuple[str, float]] = {}) -> str:
        """The exposition text: counters, histograms, store gauges, ``extra`` gauges
        (name → (help, value)) and the process's own numbers."""
        lines: list[str] = []
        for metric in (
            self.polls,
            self.passes,
            self.new_items,
            self.republications,
            self.extraction_failures,
            self.fetch_seconds,
            self.poll_seconds,
            self.lateness_seconds,
        ):
            lines += metric.lines()
        if gauges is not None:
            lines += store_lines(gauges)
        lines += [
            *_header("ingestd_build_info", "The running ingestd's version (always 1).", "gauge"),
            f"ingestd_build_info{_labels(('version',), (__version__,))} 1",
        ]
        for name, (text, value) in {**extra, **process_gauges()}.items():
            kind = "counter" if name.endswith("_total") else "gauge"
            lines += [*_header(name, text, kind), f"{name} {_number(value)}"]
        return "\n".join(lines) + "\n"


def store_lines(gauges: Gauges) -> list[str]:
    lines = _header("ingestd_feeds", "Active feeds by status.", "gauge")
    for status, count in sorted(gauges.feeds_by_status.items()):
        lines.append(f"ingestd_feeds{_labels(('status',), (status,))} {count}")
    for name, text, value in (
        (
            "ingestd_feeds_inactive",
            "Feeds no longer configured (kept with their items).",
            gauges.feeds_inactive,
        ),
        (
            "ingestd_queue_depth",
            "Active feeds due for a poll and not yet polled.",
            gauges.queue_depth,
        ),
        ("ingestd_items", "Items stored.", gauges.items),
        ("ingestd_clusters", "Clusters of two or more items.", gauges.clusters),
    ):
        lines += [*_header(name, text, "gauge"), f"{name} {value}"]
    return lines


def process_gauges() -> dict[str, tuple[str, float]]:
    """Resident memory, open file descriptors, CPU time, start time (Linux ``/proc``)."""
    found: dict[str, tuple[str, float]] = {}
    try:
        pages = int(Path("/proc/self/statm").read_text(encoding="ascii").split()[1])
        found["process_resident_memory_bytes"] = (
            "Resident memory size in bytes.",
            float(pages * os.sysconf("SC_PAGE_SIZE")),
        )
        found["process_open_fds"] = (
            "Number of open file descriptors.",
            float(sum(1 for _ in Path("/proc/self/fd").iterdir())),
        )
    except (OSError, ValueError, IndexError):
        pass
    times = os.times()
    found["process_cpu_seconds_total"] = (
        "Total user and system CPU time spent in seconds.",
        times.user + times.system,
    )
    found["process_start_time_seconds"] = ("Start time of the process (Unix seconds).", STARTED)
    workers = descendants()
    found["ingestd_worker_processes"] = (
        "Processes of the CPU pool (its forkserver and workers) alive now.",
        float(workers.processes),
    )
    found["ingestd_worker_cpu_seconds_total"] = (
        "User and system CPU seconds of the CPU pool's processes alive now.",
        workers.cpu_s,
    )
    found["ingestd_worker_resident_memory_bytes"] = (
        "Resident memory of the CPU pool's processes, summed (shared pages counted in each).",
        float(workers.resident_bytes),
    )
    return found


STARTED = time.time()


def _reason_label(reason: str) -> str:
    """A short, bounded label from a failure reason ("extracted text too short (12 ...)")."""
    head = re.split(r"[(:]", reason, maxsplit=1)[0].strip().lower()
    return head[:60] or "unknown"


def _header(name: str, text: str, kind: str) -> list[str]:
    return [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]


def _labels(names: Iterable[str], values: Iterable[str]) -> str:
    pairs = [f'{n}="{_escape(v)}"' for n, v in zip(names, values, strict=True)]
    return "{" + ",".join(pairs) + "}" if pairs else ""


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


# --- ingest stats ----------------------------------------------------------------------------


def stats_object(stats: Stats) -> dict[str, Any]:
    """``ingest stats --json``: one object."""
    g = stats.gauges
    return {
        "feeds": {"by_status": g.feeds_by_status, "inactive": g.feeds_inactive},
        "queue_depth": g.queue_depth,
        "items": g.items,
        "items_by_role": stats.items_by_role,
        "clusters": g.clusters,
        "extraction_failures": stats.extraction_failures,
        "pruned_entries": stats.pruned_entries,
        "polls": {
            "since": stats.since.isoformat(),
            "by_outcome": stats.polls_by_outcome,
            "new_items": stats.new_items,
            "republications": stats.republications,
            "duration_s_p50": _rounded(stats.poll_seconds_p50),
            "duration_s_p95": _rounded(stats.poll_seconds_p95),
        },
    }


def stats_lines(stats: Stats) -> list[str]:
    """``ingest stats``: aligned lines for a terminal."""
    g = stats.gauges
    statuses = ", ".join(f"{k} {v}" for k, v in sorted(g.feeds_by_status.items())) or "none"
    roles = ", ".join(f"{k} {v}" for k, v in sorted(stats.items_by_role.items())) or "none"
    outcomes = ", ".join(f"{k} {v}" for k, v in sorted(stats.polls_by_outcome.items())) or "none"
    p50, p95 = _rounded(stats.poll_seconds_p50), _rounded(stats.poll_seconds_p95)
    rows = [
        (
            "feeds",
            f"{sum(g.feeds_by_status.values())} active ({statuses}), {g.feeds_inactive} inactive",
        ),
        ("queue depth", f"{g.queue_depth} feeds due now"),
        ("items", f"{g.items} ({roles})"),
        ("clusters", f"{g.clusters} of two or more items"),
        ("extraction failures", f"{stats.extraction_failures} items stored from the feed's text"),
        ("polls (24 h)", f"{sum(stats.polls_by_outcome.values())} ({outcomes})"),
        ("stored (24 h)", f"{stats.new_items} new items, {stats.republications} republications"),
        ("poll duration (24 h)", f"p50 {p50} s, p95 {p95} s" if p50 is not None else "no polls"),
    ]
    width = max(len(name) for name, _ in rows)
    return [f"{name:<{width}}  {value}" for name, value in rows]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)
