"""``/metrics`` as Prometheus users expect it, read by ``prometheus_client``'s own text parser:
types right (``process_cpu_seconds_total`` a counter), labelled counters at zero from the
start, ``ingestd_build_info{version}``, the CPU pool's processes, histograms of poll duration
and feed lateness; ``/healthz`` says why it is unhealthy."""

from __future__ import annotations

import multiprocessing
import time
from typing import Any

import pytest

from ingestd import __version__
from ingestd.service.endpoints import OVERDUE_TICKS, Liveness
from ingestd.service.metrics import POLL_OUTCOMES, Metrics
from ingestd.service.procstat import PROC

parser = pytest.importorskip("prometheus_client.parser", reason="prometheus_client not installed")


def families(text: str) -> dict[str, Any]:
    return {family.name: family for family in parser.text_string_to_metric_families(text)}


def test_a_fresh_daemons_metrics_parse_and_have_the_expected_types() -> None:
    found = families(Metrics().render(None))

    assert found["process_cpu_seconds"].type == "counter"  # the parser drops "_total"
    assert found["process_resident_memory_bytes"].type == "gauge"
    assert found["ingestd_polls"].type == "counter"
    assert found["ingestd_poll_duration_seconds"].type == "histogram"
    assert found["ingestd_feed_lateness_seconds"].type == "histogram"
    (info,) = found["ingestd_build_info"].samples
    assert info.labels == {"version": __version__} and info.value == 1


def test_poll_outcomes_are_there_at_zero_before_any_poll() -> None:
    found = families(Metrics().render(None))

    polls = {s.labels["outcome"]: s.value for s in found["ingestd_polls"].samples}
    assert polls == dict.fromkeys(POLL_OUTCOMES, 0.0)
    counts = [
        s for s in found["ingestd_poll_duration_seconds"].samples if s.name.endswith("_count")
    ]
    assert {s.labels["outcome"] for s in counts} == set(POLL_OUTCOMES)


def test_lateness_is_a_histogram_of_due_to_polled() -> None:
    metrics = Metrics()
    for late_s in (0.5, 20.0, 4000.0):
        metrics.poll_late(late_s)

    found = families(metrics.render(None))

    samples = {
        (s.name, s.labels.get("le")): s.value
        for s in found["ingestd_feed_lateness_seconds"].samples
    }
    assert samples[("ingestd_feed_lateness_seconds_bucket", "1")] == 1
    assert samples[("ingestd_feed_lateness_seconds_bucket", "30")] == 2
    assert samples[("ingestd_feed_lateness_seconds_bucket", "+Inf")] == 3
    assert samples[("ingestd_feed_lateness_seconds_count", None)] == 3
    assert samples[("ingestd_feed_lateness_seconds_sum", None)] == 4020.5


def _spin(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def test_worker_processes_cpu_and_memory_are_reported() -> None:
    """A child process that burns CPU shows in the worker series (read from /proc)."""
    if not PROC.is_dir():
        pytest.skip("no /proc on this system")
    context = multiprocessing.get_context("fork")
    child = context.Process(target=_spin, args=(0.5,))
    child.start()
    try:
        time.sleep(0.8)
        found = families(Metrics().render(None))
    finally:
        child.join()
    assert found["ingestd_worker_processes"].samples[0].value >= 1
    assert found["ingestd_worker_cpu_seconds"].type == "counter"
    assert found["ingestd_worker_cpu_seconds"].samples[0].value >= 0.3
    assert found["ingestd_worker_resident_memory_bytes"].samples[0].value > 1_000_000


def test_healthz_says_a_pass_is_overdue() -> None:
    live = Liveness(tick_s=0.01)
    live.ticked()
    assert live.problem() is None

    time.sleep(OVERDUE_TICKS * 0.01 + 0.05)
    live.ticked()

    problem = live.problem()
    assert problem is not None and problem.startswith("pass overdue: none has started for")
    live.pass_started(0)
    assert live.problem() is None
