"""What every ``ingest`` command shares: the context (settings read once), the one place that
turns ingestd's errors into a line on stderr and an exit code, shared options, and store access."""

from __future__ import annotations

import sys
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

import click

from ingestd.config import Settings, load_settings
from ingestd.errors import IngestdError, NotFoundError, UserError
from ingestd.safetext import visible

F = TypeVar("F", bound=Callable[..., Any])
EXIT_FEEDS_FAILED = 3  # `--once`: every due feed failed (with --strict: any feed failed)
MAX_NUMBER = 2**63 - 1  # the largest id or --limit a database can hold


class Context:
    def __init__(self, config_path: str | None, verbose: bool) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        """The configuration, read once."""
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings


def handle_errors(fn: F) -> F:
    """Turn ingestd errors into one line on stderr and the documented exit code."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as exc:
            click.echo(f"ingest: {visible(str(exc))}", err=True)
            sys.exit(2)
        except IngestdError as exc:
            click.echo(f"ingest: {visible(str(exc))}", err=True)
            sys.exit(1)

    return wrapper  # type: ignore[return-value]


json_option = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON Lines: one object per line."
)


def limit_option(what: str) -> Callable[[F], F]:
    """``--limit N``: at most N of ``what`` (1 to the largest number a database holds)."""
    return click.option(
        "--limit",
        type=click.IntRange(min=1, max=MAX_NUMBER),
        default=None,
        help=f"At most N {what}.",
    )


def item_ref(ref: str) -> str:
    """An item named on the command line (an id or a URL), refused as naming nothing stored
    when it is a number no database holds (too large, or digits that are not 0-9)."""
    if ref.isdigit() and not (ref.isascii() and int(ref) <= MAX_NUMBER):
        raise NotFoundError(f"no item with id or URL {ref!r}")
    return ref


def config_note(settings: Settings) -> None:
    """Say on stderr which configuration file the command used: feed commands sync its
    [[feeds]] into the database, and leave the configured feeds alone when there is none."""
    if settings.owns_feeds:
        note = f"configuration file {settings.source} (its [[feeds]] are synced)"
    else:
        note = (
            "no configuration file found (--config, $INGESTD_CONFIG or a default location); "
            "configured feeds left as they are"
        )
    click.echo(visible(f"ingest: {note}"), err=True)


def read_store(context: Context, fn: Callable[[Any], Any], write: bool = False) -> Any:
    """Run ``fn`` in one transaction on the configured database; a read on a SQLite file this
    user may not write opens it read-only."""
    from ingestd.store import Store
    from ingestd.store.engine import cannot_write

    url = context.settings().database_url
    store = Store.open(url, read_only=not write and cannot_write(url))
    try:
        with store.transaction(write=write) as tx:
            return fn(tx)
    finally:
        store.close()


def write_store(context: Context, fn: Callable[[Any], Any]) -> Any:
    return read_store(context, fn, write=True)
