"""When ``ingest --once`` starts the pool's forkserver before its own imports: only when the
pass will poll a feed for the first time (a pass of 304s must not pay for it)."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from ingestd.config import FeedConfig
from ingestd.pipeline.work import warm_up
from ingestd.pipeline.workers.poolstart import WORKER_MODULES
from ingestd.store import Store
from ingestd.store.peek import first_polls_pending

REPO = Path(__file__).resolve().parents[2]
FEEDS = ["http://a.example/feed.xml", "http://b.example/feed.xml"]


def _store_with_feeds(path: Path) -> str:
    url = f"sqlite:///{path}"
    store = Store.open(url)
    with store.transaction() as tx:
        tx.sync_feeds([FeedConfig(feed) for feed in FEEDS], datetime.now(UTC))
    store.close()
    return url


def _mark_polled(url: str, feed_url: str, **values: object) -> None:
    store = Store.open(url)
    with store.transaction() as tx:
        feed_id = tx.feed_id_for_url(feed_url)
        assert feed_id is not None
        tx.update_feed(feed_id, last_polled_at=datetime.now(UTC), **values)
    store.close()


def test_a_database_not_created_yet_means_first_polls(tmp_path: Path) -> None:
    assert first_polls_pending(f"sqlite:///{tmp_path}/new.sqlite3", FEEDS)
    assert not (tmp_path / "new.sqlite3").exists()  # the check created nothing


def test_feeds_never_polled_mean_first_polls_and_polled_ones_do_not(tmp_path: Path) -> None:
    url = _store_with_feeds(tmp_path / "s.sqlite3")
    assert first_polls_pending(url, FEEDS)
    _mark_polled(url, FEEDS[0])
    assert first_polls_pending(url, FEEDS)  # b is still new
    _mark_polled(url, FEEDS[1], aliases="http://b-old.example/rss")
    assert not first_polls_pending(url, FEEDS)
    assert not first_polls_pending(url, [*FEEDS, "http://b-old.example/rss"])  # an alias
    assert first_polls_pending(url, [*FEEDS, "http://c.example/feed.xml"])  # added to config


def test_other_or_unreadable_databases_leave_the_pool_to_its_first_job(tmp_path: Path) -> None:
    assert not first_polls_pending("postgresql://postgres@127.0.0.1:5432/test", FEEDS)
    garbage = tmp_path / "garbage.sqlite3"
    garbage.write_bytes(b"this is not a database" * 100)
    assert not first_polls_pending(f"sqlite:///{garbage}", FEEDS)
    assert garbage.read_bytes() == b"this is not a database" * 100


def test_the_forkserver_warms_up_and_freezes_its_heap_before_forking() -> None:
    """``ingestd.pipeline.workers.forkserver_ready`` is the forkserver's last preload: once
    imported, every kind of job has run (trafilatura's fallback extractor among them, whose stop
    lists each worker would otherwise build) and the heap is frozen, so workers' collections and the
    forkserver's final ones skip what was loaded."""
    assert WORKER_MODULES[-1] == "ingestd.pipeline.workers.forkserver_ready"
    probe = (
        "import gc\n"
        "import trafilatura.external as fallback\n"
        "assert fallback.JT_STOPLIST is None\n"
        "import ingestd.pipeline.workers.forkserver_ready\n"
        "print(gc.get_freeze_count(), fallback.JT_STOPLIST is not None)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    frozen, stop_lists_built = done.stdout.split()
    assert int(frozen) > 10_000
    assert stop_lists_built == "True"


def test_the_warm_up_samples_go_through_every_job() -> None:
    """Each sample gives a result: a warm-up whose page failed to extract would skip the very
    code it is there to run."""
    assert warm_up()
