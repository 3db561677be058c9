"""A progress bar for ``ingest --once`` on a terminal: a
:class:`~ingestd.pipeline.events.PipelineEvents` observer drawn with rich on stderr.

The bar shows feeds polled of those due, new items, republications linked and failures; a feed
that fails is named above it. When stderr is not a terminal there is no bar and logs stay JSON
lines, as in the daemon.

Logs while the bar is up: the per-feed ``poll`` lines (info) would scroll the bar away and say
what the bar already says, so they are dropped; warnings and errors (and everything with
``-v``) are printed above the bar through rich's console, never across it. Loggers first used
during the pass keep that set-up afterwards (the process ends right after the pass).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO, cast

import structlog
from rich.console import Console
from rich.file_proxy import FileProxy
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

from ingestd.pipeline.events import NoEvents, PipelineEvents
from ingestd.safetext import visible

_COUNTS = (
    "{task.fields[items]} new items, {task.fields[republications]} republications, "
    "{task.fields[failures]} failed"
)


class ProgressBar(NoEvents):
    """Draws one bar for a pass over the due feeds; use ``with bar.progress:`` around it."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("feeds"),
            BarColumn(bar_width=None),
            MofNCompleteColumn(),
            TextColumn(_COUNTS),
            TimeElapsedColumn(),
            console=console,
            redirect_stdout=False,
            redirect_stderr=False,
            expand=False,
        )
        self.items = self.republications = self.failures = 0
        self.task = self.progress.add_task(
            "feeds", total=None, items=0, republications=0, failures=0
        )

    def pass_started(self, due_feeds: int) -> None:
        self.progress.update(self.task, total=due_feeds)

    def poll_finished(
        self, feed_url: str, outcome: str, new_items: int, republications: int, duration_s: float
    ) -> None:
        self.items += new_items
        self.republications += republications
        if outcome == "failed":
            self.failures += 1
            self.console.print(
                f"[red]failed[/red] {escape(visible(feed_url))} (see `ingest feeds list`)"
            )
        self.progress.update(
            self.task,
            advance=1,
            items=self.items,
            republications=self.republications,
            failures=self.failures,
        )


@contextmanager
def progress_for_pass(
    verbose: bool = False, stream: TextIO | None = None
) -> Iterator[PipelineEvents | None]:
    """A progress bar on ``stream`` (default stderr) while the block runs, when it is a terminal;
    None (and nothing drawn, logs untouched) otherwise."""
    stream = stream if stream is not None else sys.stderr
    if not stream.isatty():
        yield None
        return
    console = Console(file=stream, force_terminal=True)
    bar = ProgressBar(console)
    with bar.progress, logs_above(console, verbose):
        yield bar


@contextmanager
def logs_above(console: Console, verbose: bool) -> Iterator[None]:
    """Route structlog through ``console`` (lines printed above a live display), warnings and
    up only unless ``verbose``; the previous configuration is restored afterwards."""
    saved = structlog.get_config()
    above = FileProxy(console, console.file)  # whole lines, printed above the live display
    level = logging.DEBUG if verbose else logging.WARNING
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=cast(TextIO, above)),
    )
    try:
        yield
    finally:
        structlog.configure(**saved)
