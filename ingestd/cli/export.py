"""``ingest export``: the deduplicated feed as Atom, JSON Feed or JSON Lines."""

from __future__ import annotations

import click

from ingestd.cli.common import (
    Context,
    handle_errors,
    limit_option,
    read_store,
)


@click.command(
    "export", epilog="Example: ingest export --format jsonfeed --since 7d > stories.json"
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["atom", "jsonfeed", "jsonl"]),
    default="atom",
    show_default=True,
    help="Atom 1.0, JSON Feed 1.1, or JSON Lines (one JSON Feed item per line).",
)
@click.option(
    "--since", metavar="WHEN", help="Stories published since a date (2026-11-01) or for 7d, 12h."
)
@click.option("--feed", "feed_url", metavar="URL", help="Only stories this feed carried.")
@limit_option("stories")
@click.option(
    "--public-url",
    metavar="URL",
    help='Where the file will be published: Atom rel="self", JSON Feed feed_url.',
)
@click.pass_obj
@handle_errors
def export_command(
    context: Context,
    fmt: str,
    since: str | None,
    feed_url: str | None,
    limit: int | None,
    public_url: str | None,
) -> None:
    """Deduplicated stories, newest first, each with its republications (URL, outlet, time)."""
    from datetime import UTC, datetime

    from ingestd.feedout import export

    when = export.parse_since(since, datetime.now(UTC)) if since else None
    selection = export.Selection(when, feed_url, limit)
    served = export.served_at(public_url) if public_url else None
    found = read_store(context, lambda tx: export.export_bytes(tx, fmt, selection, served))
    click.echo(found, nl=False)
