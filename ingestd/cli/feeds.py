"""``ingest feeds``: subscriptions (list, add, remove, import, poll, export)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ingestd.cli.common import (
    Context,
    config_note,
    handle_errors,
    json_option,
    write_store,
)
from ingestd.safetext import visible


@click.group(epilog="Example: ingest feeds add https://example.com/blog/")
def feeds() -> None:
    """Manage subscriptions: the configuration file's [[feeds]] plus feeds added here.

    The database holds the list; [[feeds]] are synced into it by every command and start.
    """


@feeds.command(
    "list",
    short_help="Subscribed feeds and their state.",
    epilog="Example: ingest feeds list --json",
)
@json_option
@click.option("--all", "everything", is_flag=True, help="Include removed feeds.")
@click.option("--folder", metavar="NAME", help='Only feeds in this folder ("News/Local").')
@click.pass_obj
@handle_errors
def feeds_list(context: Context, as_json: bool, everything: bool, folder: str | None) -> None:
    """Subscribed feeds: URL, name, folder, source (config or cli), status, last and next poll,
    failures, items, last error."""
    from ingestd.cli import render
    from ingestd.polling import feeds as manage

    settings = context.settings()

    limit = None if as_json else render.TABLE_FEEDS  # a table shows its first rows only

    def listing(tx: Any) -> tuple[list[dict[str, Any]], int]:
        feeds, total = manage.list_feeds(tx, settings, everything, folder, limit)
        counts = tx.item_counts([feed.id for feed in feeds])
        return [manage.feed_object(feed, counts.get(feed.id, 0)) for feed in feeds], total

    objects, total = write_store(context, listing)
    if as_json:
        render.json_lines(objects)
    else:
        render.feeds_table(objects, total)
    config_note(settings)


@feeds.command(
    "add",
    short_help="Subscribe to a feed, or to the feed a page links to.",
    epilog="Example: ingest feeds add https://example.com/blog/ --name 'A blog' --interval 1h",
)
@click.argument("url")
@click.option("--name", help="A label for the feed.")
@click.option("--interval", metavar="DURATION", help='Polling interval: seconds, "30m", "2h".')
@click.option("--no-check", is_flag=True, help="Add URL as given, without fetching it.")
@click.option("--user-agent", metavar="TEXT", help="This feed's User-Agent header.")
@click.option(
    "--fetch-pages/--no-fetch-pages",
    default=None,
    help="Fetch each entry's page (default: [extract] fetch_pages).",
)
@click.option(
    "--favor",
    type=click.Choice(["precision", "balanced", "recall"]),
    help="Extraction mode for this feed's pages.",
)
@click.option(
    "--allow-private-networks/--no-allow-private-networks",
    "allow_private",
    default=None,
    help="Allow loopback and private addresses for this feed.",
)
@click.option(
    "--header",
    "headers",
    multiple=True,
    metavar='"NAME: VALUE"',
    help="A request header for this feed (e.g. a cookie); repeatable; never shown.",
)
@click.pass_obj
@handle_errors
def feeds_add(
    context: Context,
    url: str,
    name: str | None,
    interval: str | None,
    no_check: bool,
    user_agent: str | None,
    fetch_pages: bool | None,
    favor: str | None,
    allow_private: bool | None,
    headers: tuple[str, ...],
) -> None:
    """Subscribe to URL: a feed, or a web page whose <link rel="alternate"> names one."""
    from ingestd.polling import feeds as manage

    settings = context.settings()
    url = manage.command_line_url(url)
    every_s = manage.interval_s(interval)
    options = manage.feed_options(user_agent, fetch_pages, favor, allow_private, headers)
    write_store(context, lambda tx: manage.refuse_duplicate(tx, settings, url))
    checked = manage.Checked(url) if no_check else manage.check_feed(url, settings.http, options)
    added = write_store(
        context, lambda tx: manage.add(tx, settings, checked, name, every_s, options)
    )
    label = added.name or added.title
    title = f' "{label}"' if label else ""
    found = f", found on {checked.found_on}" if checked.found_on else ""
    click.echo(visible(f"added {added.url}{title}{found}"))
    config_note(settings)


@feeds.command(
    "remove",
    short_help="Stop polling a feed added here; its items stay.",
    epilog="Example: ingest feeds remove https://example.com/feed.xml",
)
@click.argument("url")
@click.pass_obj
@handle_errors
def feeds_remove(context: Context, url: str) -> None:
    """Stop polling URL (added with feeds add or import); its items stay."""
    from ingestd.polling import feeds as manage

    settings = context.settings()
    removed = write_store(context, lambda tx: manage.remove(tx, settings, url.strip()))
    click.echo(visible(f"removed {removed.url}; its items stay"))
    config_note(settings)


@feeds.command(
    "import",
    short_help="Subscribe to every feed of an OPML file.",
    epilog="Example: ingest feeds import subscriptions.opml",
)
@click.argument("path", metavar="FILE.opml", type=click.Path(path_type=Path))
@click.pass_obj
@handle_errors
def feeds_import(context: Context, path: Path) -> None:
    """Subscribe to every feed of an OPML file (folders too); duplicates are skipped, invalid
    entries reported with their line."""
    from ingestd.polling import feeds as manage
    from ingestd.polling.feedimport import import_document
    from ingestd.store import Store

    settings = context.settings()
    document = manage.read_opml_file(path)
    for problem in (*document.not_feeds, *document.problems):
        click.echo(visible(f"ingest: {path}:{problem.line}: {problem.message}"), err=True)
    shown = sys.stderr.isatty()

    def progress(done: int, total: int) -> None:
        if shown:
            click.echo(f"\rimporting feeds: {done} of {total}", err=True, nl=done == total)

    store = Store.open(settings.database_url)
    try:
        report = import_document(
            store, document, lambda tx: manage.sync_config(tx, settings), progress
        )
    finally:
        store.close()
    click.echo(report.line())
    config_note(settings)


@feeds.command("poll", epilog="Example: ingest feeds poll https://example.com/feed.xml")
@click.argument("url")
@click.pass_obj
@handle_errors
def feeds_poll(context: Context, url: str) -> None:
    """Poll one feed now, whatever its schedule (but not before a server's Retry-After)."""
    from ingestd.pipeline.runner import poll_one

    settings = context.settings()
    outcome = poll_one(settings, url)
    detail = f": {outcome.error}" if outcome.error else ""
    click.echo(
        visible(
            f"{outcome.feed_url}: {outcome.outcome}, {outcome.entries} entries, "
            f"{outcome.new_items} new items, {outcome.republications} republications linked"
            f"{detail}"
        )
    )
    config_note(settings)
    if outcome.outcome == "failed":
        sys.exit(1)


@feeds.command("export", epilog="Example: ingest feeds export > feeds.opml")
@click.pass_obj
@handle_errors
def feeds_export(context: Context) -> None:
    """Print every subscribed feed as OPML 2.0."""
    from datetime import UTC, datetime

    from ingestd.parse.opml import write_opml
    from ingestd.polling import feeds as manage

    settings = context.settings()
    found, _ = write_store(context, lambda tx: manage.list_feeds(tx, settings))
    now = datetime.now(UTC)
    click.echo(write_opml("ingestd subscriptions", manage.outlines(found), now), nl=False)
    config_note(settings)
