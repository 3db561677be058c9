"""A pass claims its due feeds in batches; what it claimed and did not poll is given back."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingestd.config import FeedConfig, HttpSettings, Settings
from ingestd.pipeline import Pipeline, passes
from ingestd.pipeline.events import NoEvents
from ingestd.pipeline.runner import make_pool
from ingestd.store import Store
from tests.support.httpserver import LoopbackServer, Reply
from tests.support.passes import run_pass

EMPTY_FEED = (
    '<?xml version="1.0"?><rss version="2.0"><channel><title>{name}</title>'
    "<link>http://example.org/</link></channel></rss>"
)


class StopAfterPolls(NoEvents):
    """Tells the pipeline to stop (as SIGTERM does) once ``count`` polls have finished."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.pipeline: Pipeline | None = None
        self.polled: list[str] = []

    def poll_finished(
        self, feed_url: str, outcome: str, new_items: int, republications: int, duration_s: float
    ) -> None:
        self.polled.append(feed_url)
        if len(self.polled) >= self.count and self.pipeline is not None:
            self.pipeline.stopping = True


def _feeds(folder: Path, count: int) -> tuple[FeedConfig, ...]:
    configs = []
    for n in range(count):
        path = folder / f"feed-{n}.xml"
        path.write_text(EMPTY_FEED.format(name=f"feed {n}"), "utf-8")
        configs.append(FeedConfig(path.as_uri(), name=f"feed {n}"))
    return tuple(configs)


def test_a_stopped_pass_gives_back_the_feeds_it_claimed_but_did_not_poll(
    tmp_path: Path, store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two pollers (the pass keeps at most two polls going here) claim two feeds at a time.
    The first feed is slow; the other poller polls the second, claims the third and fourth,
    polls the third, and the pass is stopped: the fourth was claimed but not polled, and must
    not stay leased (nor the ones never claimed)."""
    monkeypatch.setattr(passes, "POLLS_IN_FLIGHT", 2)
    with LoopbackServer() as server:
        server.route(
            "/slow",
            lambda _request: Reply(200, body=EMPTY_FEED.format(name="slow").encode(), delay_s=2.0),
        )
        file_feeds = _feeds(tmp_path, 5)
        settings = Settings(
            database_url="",
            http=HttpSettings(max_concurrency=2, allow_private_networks=True, min_host_gap_s=0.0),
            feeds=(FeedConfig(server.url("/slow"), name="slow"), *file_feeds),
        )
        events = StopAfterPolls(2)
        pipeline = Pipeline(settings, store, make_pool(1), events)
        events.pipeline = pipeline
        run_pass(pipeline)
    with store.transaction(write=False) as tx:
        feeds = {feed.url: feed for feed in tx.feeds()}
    polled = [url for url, feed in feeds.items() if feed.last_polled_at is not None]
    assert sorted(events.polled) == sorted(polled)
    assert sorted(polled) == sorted([server.url("/slow"), file_feeds[0].url, file_feeds[1].url])
    assert [url for url, feed in feeds.items() if feed.lease_owner is not None] == []
    assert all(feed.lease_until is None for feed in feeds.values())
