"""``ingest items``: stored items, newest first."""

from __future__ import annotations

import click

from ingestd.cli.common import (
    Context,
    handle_errors,
    json_option,
    limit_option,
    read_store,
)


@click.group(epilog="Example: ingest items list --json")
def items() -> None:
    """Inspect stored items."""


@items.command(
    "list", epilog="Example: ingest items list --feed https://example.com/feed.xml --json"
)
@json_option
@click.option("--feed", "feed_url", metavar="URL", help="Only items of this feed.")
@limit_option("items")
@click.pass_obj
@handle_errors
def items_list(context: Context, as_json: bool, feed_url: str | None, limit: int | None) -> None:
    """Every stored item, newest first."""
    from ingestd.cli import render
    from ingestd.feedout import views

    found = read_store(context, lambda tx: views.list_items(tx, feed_url, limit))
    if as_json:
        render.json_lines(found)
    else:
        render.items_table(found)
