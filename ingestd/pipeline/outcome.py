"""What a poll and a pass did: the values the CLI, the daemon and the progress bar read."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one feed did.

    ``outcome`` is one of: ``new`` (new items stored), ``unchanged`` (a 200 whose body, or
    whose entries, brought nothing new), ``not_modified`` (a 304), ``failed`` (recorded on the
    feed, ``error`` says why), ``skipped`` (``ingest feeds poll`` only: another worker was
    polling it, or the server's Retry-After has not passed; ``error`` says which).
    """

    feed_url: str
    outcome: str
    entries: int = 0
    new_items: int = 0
    republications: int = 0
    error: str | None = None


@dataclass
class RunSummary:
    """Totals of one pass over the due feeds."""

    feeds_polled: int = 0
    new_items: int = 0
    republications: int = 0
    failures: int = 0
    outcomes: list[PollOutcome] = field(default_factory=list)

    def add(self, outcome: PollOutcome) -> None:
        self.feeds_polled += 1
        self.new_items += outcome.new_items
        self.republications += outcome.republications
        self.failures += outcome.outcome == "failed"
        self.outcomes.append(outcome)

    def line(self) -> str:
        feeds = "feed" if self.feeds_polled == 1 else "feeds"
        return (
            f"polled {self.feeds_polled} {feeds}: {self.new_items} new items, "
            f"{self.republications} republications linked, {self.failures} failures"
        )
