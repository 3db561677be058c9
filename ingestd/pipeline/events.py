"""What the pipeline tells observers (metrics, progress bars) as it works.

The pipeline calls these methods on the event loop; they must be quick and must not raise.
"""

from __future__ import annotations

from typing import Protocol


class PipelineEvents(Protocol):
    """Observer of a pipeline. Implement the methods you need; :class:`NoEvents` is a base."""

    def pass_started(self, due_feeds: int) -> None:
        """A pass over ``due_feeds`` feeds begins."""

    def poll_finished(
        self, feed_url: str, outcome: str, new_items: int, republications: int, duration_s: float
    ) -> None:
        """One feed poll ended (outcome: new, unchanged, not_modified, failed)."""

    def fetch_finished(self, kind: str, outcome: str, duration_s: float) -> None:
        """One HTTP/file fetch ended; kind is "feed" or "page", outcome ok/not_modified/failed."""

    def extraction_failed(self, reason: str) -> None:
        """A page gave no usable text (the feed's content is used instead)."""

    def poll_late(self, lateness_s: float) -> None:
        """A feed's poll starts ``lateness_s`` seconds after the feed was due (0 or more)."""


class NoEvents:
    """Ignores everything; subclass and override what you observe."""

    def pass_started(self, due_feeds: int) -> None:
        return None

    def poll_finished(
        self, feed_url: str, outcome: str, new_items: int, republications: int, duration_s: float
    ) -> None:
        return None

    def fetch_finished(self, kind: str, outcome: str, duration_s: float) -> None:
        return None

    def poll_late(self, lateness_s: float) -> None:
        return None

    def extraction_failed(self, reason: str) -> None:
        return None


class FanOut(NoEvents):
    """Passes every event to several observers."""

    def __init__(self, *observers: PipelineEvents) -> None:
        self.observers = observers

    def pass_started(self, due_feeds: int) -> None:
        for observer in self.observers:
            observer.pass_started(due_feeds)

    def poll_finished(
        self, feed_url: str, outcome: str, new_items: int, republications: int, duration_s: float
    ) -> None:
        for observer in self.observers:
            observer.poll_finished(feed_url, outcome, new_items, republications, duration_s)

    def fetch_finished(self, kind: str, outcome: str, duration_s: float) -> None:
        for observer in self.observers:
            observer.fetch_finished(kind, outcome, duration_s)

    def extraction_failed(self, reason: str) -> None:
        for observer in self.observers:
            observer.extraction_failed(reason)

    def poll_late(self, lateness_s: float) -> None:
        for observer in self.observers:
            observer.poll_late(lateness_s)
