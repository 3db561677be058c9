"""The ``ingest`` command line (click). Commands are thin: load settings, call one function,
print. A user's mistake prints one line and exits 2; a runtime failure exits 1."""

from __future__ import annotations

import atexit
import contextlib
import gc
import sys
from collections.abc import Callable, Iterator
from functools import cache, wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from ingestd import __version__
from ingestd.config import Settings, load_settings
from ingestd.errors import IngestdError, NotFoundError, UserError
from ingestd.safetext import visible

F = TypeVar("F", bound=Callable[..., Any])
EXIT_FEEDS_FAILED = 3  # `--once`: every due feed failed (with --strict: any feed failed)
MAX_NUMBER = 2**63 - 1  # the largest id or --limit a database can hold


class _Context:
    def __init__(self, config_path: str | None, verbose: bool) -> None:
        self.config_path = config_path
        self.verbose = verbose
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        """The configuration, read once."""
        if self._settings is None:
            self._settings = load_settings(self.config_path)
        return self._settings


def _errors(fn: F) -> F:
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


class _Ingest(click.Group):
    """The ``ingest`` group: a usage mistake (an unknown option, a value out of range) is one
    line on stderr, like every other mistake, and exit 2; output streams never fail on a
    character their encoding lacks (it is written as a backslash escape)."""

    def main(
        self,
        args: Any = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        _tolerant_streams()
        args = _config_first(list(sys.argv[1:] if args is None else args))
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, False, **extra)
        try:
            code = super().main(args, prog_name, complete_var, False, **extra)
        except click.UsageError as exc:
            click.echo(_usage_line(exc), err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            exc.show()
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        sys.exit(code if isinstance(code, int) else 0)


def _config_first(args: list[str]) -> list[str]:
    """``--config PATH`` (or ``--config=PATH``) moved to the front, so that it may also be
    written after the command (``ingest feeds list --config x.toml``), as people do."""
    for index, arg in enumerate(args):
        if arg == "--":
            break
        if index == 0:
            continue
        if arg == "--config" and index + 1 < len(args):
            return [arg, args[index + 1], *args[:index], *args[index + 2 :]]
        if arg.startswith("--config="):
            return [arg, *args[:index], *args[index + 1 :]]
    return args


def _usage_line(exc: click.UsageError) -> str:
    """``ingest: clusters show: Invalid value ... (see `ingest clusters show --help`)``."""
    message = visible(exc.format_message())
    if exc.ctx is None:
        return f"ingest: {message}"
    where = exc.ctx.command_path.partition(" ")[2]  # the command, without the program's name
    helper = f"ingest {where} --help" if where else "ingest --help"
    return f"ingest: {where + ': ' if where else ''}{message} (see `{helper}`)"


def _tolerant_streams() -> None:
    """stdout and stderr write what their encoding cannot carry as backslash escapes (say
    ``PYTHONIOENCODING=ascii`` or a C locale) instead of failing half-way through a table."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(Exception):
                reconfigure(errors="backslashreplace")


@contextlib.contextmanager
def _imports_without_collections() -> Iterator[None]:
    """The heavy imports (SQLAlchemy, aiohttp) with the garbage collector paused, then their
    objects set aside for good (``gc.freeze``): the collections during the import found almost
    nothing to free, and later ones need not look at module-level objects again."""
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        gc.enable()


@cache  # once per process: tests call main() many times
def _leave_objects_to_the_os_at_exit() -> None:
    """At exit, skip the interpreter's final garbage collections: with SQLAlchemy, aiohttp and
    structlog loaded they took 0.17-0.29 s (measured; 0.02 s without), a tenth of a pass that
    finds nothing new. Everything that needs closing is closed before; the OS frees the rest."""
    atexit.register(gc.freeze)


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


@click.group(
    cls=_Ingest,
    invoke_without_command=True,
    epilog="Example: ingest --config config/demo.toml --once",
)
@click.option(
    "--config",
    "config_path",
    metavar="PATH",
    envvar="INGESTD_CONFIG",
    help="Configuration file (TOML). Also $INGESTD_CONFIG.",
)
@click.option("--once", is_flag=True, help="Poll every due feed once, then exit.")
@click.option(
    "--strict",
    is_flag=True,
    help=f"With --once: exit {EXIT_FEEDS_FAILED} when any feed failed (not only when all did).",
)
@click.option("-v", "--verbose", is_flag=True, help="Debug logging.")
@click.version_option(__version__, prog_name="ingest")
@click.pass_context
def main(
    ctx: click.Context, config_path: str | None, once: bool, strict: bool, verbose: bool
) -> None:
    """Poll RSS/Atom feeds, extract articles, and keep one canonical item per story.

    Without a command, runs the daemon (as `ingest run` does). `--once` exits 0 when its pass
    ran, 3 when every due feed failed (with --strict, when any did).
    """
    from ingestd.service.logs import configure

    _leave_objects_to_the_os_at_exit()
    ctx.obj = _Context(config_path, verbose)
    if once and ctx.invoked_subcommand is None:
        _start_pool_early(ctx.obj)  # before the imports below, which it overlaps
    configure(verbose)
    if strict and not once:
        raise click.UsageError("--strict applies to --once passes only")
    if ctx.invoked_subcommand is not None:
        if once:
            raise click.UsageError("--once runs a pass by itself; do not combine it with a command")
        return
    if once:
        _run_once(ctx.obj, strict)
    else:
        _run_daemon(ctx.obj)


def _start_pool_early(context: _Context) -> None:
    """Start the pool's forkserver now when this pass will surely need it: a feed is polled
    for the first time (see :mod:`ingestd.pipeline.workers.poolstart`). Only a head start:
    whatever goes wrong here (a configuration error, an unreadable database, no room for the
    forkserver's socket) is left for the pass itself to meet and report."""
    from ingestd.pipeline.workers import poolstart
    from ingestd.store.peek import first_polls_pending

    try:
        settings = context.settings()
        feed_urls = [feed.url for feed in settings.feeds]
        if first_polls_pending(settings.database_url, feed_urls):
            poolstart.start_forkserver()
    except Exception:  # a head start only: see the docstring
        return


@_errors
def _run_once(context: _Context, strict: bool = False) -> None:
    with _imports_without_collections():
        from ingestd.cli.progress import progress_for_pass
        from ingestd.pipeline.runner import run_once
        from ingestd.store.subscriptions import CLI, count_active

    settings = context.settings()
    # Without a file, the configured feeds stored by earlier runs stay (and are polled).
    source = CLI if settings.owns_feeds else None
    if not settings.feeds and not _read(context, lambda tx: count_active(tx, source)):
        where = settings.source or "the default configuration"
        raise UserError(
            f"{where}: no [[feeds]] configured and none added with `ingest feeds add`; "
            "nothing to poll"
        )
    with progress_for_pass(context.verbose) as events:  # a bar only when stderr is a terminal
        summary = run_once(settings, events)
    click.echo(summary.line())
    if summary.failures and (strict or summary.failures == summary.feeds_polled):
        sys.exit(EXIT_FEEDS_FAILED)


@_errors
def _run_daemon(context: _Context) -> None:
    from ingestd.config import no_config_message
    from ingestd.pipeline.workers import poolstart

    settings = context.settings()
    if settings.source is None:  # a bare `ingest` on a new machine must not sit there silently
        raise UserError(no_config_message())
    poolstart.start_forkserver()  # the daemon always needs the pool: its start overlaps imports
    with _imports_without_collections():
        from ingestd.service.daemon import run_daemon

    run_daemon(settings)


@main.command(epilog="Example: ingest --config /etc/ingestd/ingestd.toml run")
@click.pass_obj
def run(context: _Context) -> None:
    """Run the daemon: poll due feeds on schedule until SIGTERM or SIGINT."""
    _run_daemon(context)


@main.group(epilog="Example: ingest clusters list --limit 10")
def clusters() -> None:
    """Inspect clusters of republished copies."""


@clusters.command("list", epilog="Example: ingest clusters list --limit 20 --json")
@json_option
@limit_option("clusters")
@click.pass_obj
@_errors
def clusters_list(context: _Context, as_json: bool, limit: int | None) -> None:
    """Clusters of two or more items, newest first."""
    from ingestd.cli import render
    from ingestd.feedout import views

    found = _read(context, lambda tx: views.list_clusters(tx, limit))
    if as_json:
        render.json_lines(found)
    else:
        render.clusters_table(found)


@clusters.command("show", epilog="Example: ingest clusters show 12")
@click.argument("cluster_id", type=click.IntRange(min=1, max=MAX_NUMBER))
@json_option
@click.pass_obj
@_errors
def clusters_show(context: _Context, cluster_id: int, as_json: bool) -> None:
    """The canonical item of a cluster and every republication, with similarity and reason."""
    from ingestd.cli import render
    from ingestd.feedout import views

    found = _read(context, lambda tx: views.show_cluster(tx, cluster_id))
    if as_json:
        render.json_lines([found])
    else:
        render.cluster_detail(found)


@clusters.command("explain", epilog="Example: ingest clusters explain 12 https://example.com/story")
@click.argument("item_a")
@click.argument("item_b")
@json_option
@click.pass_obj
@_errors
def clusters_explain(context: _Context, item_a: str, item_b: str, as_json: bool) -> None:
    """Why two items (ids or URLs) are, or are not, the same article."""
    from ingestd.cli import render
    from ingestd.dedup import explain

    settings = context.settings().dedup
    item_a, item_b = _item_ref(item_a), _item_ref(item_b)
    found = _read(context, lambda tx: explain.explain(tx, item_a, item_b, settings))
    if as_json:
        render.json_lines([found])
    else:
        render.explanation(found)


@clusters.command("pin", epilog="Example: ingest clusters pin https://example.com/original-story")
@click.argument("item")
@click.pass_obj
@_errors
def clusters_pin(context: _Context, item: str) -> None:
    """Make ITEM (id or URL) the canonical item of its cluster, for good."""
    from ingestd.dedup import curation

    settings = context.settings().dedup
    item = _item_ref(item)
    pinned = _write(context, lambda tx: curation.pin(tx, item, settings))
    click.echo(f"item {pinned.id} is now the canonical item of cluster {pinned.cluster_id}")


@clusters.command("split", epilog="Example: ingest clusters split 57")
@click.argument("item")
@click.pass_obj
@_errors
def clusters_split(context: _Context, item: str) -> None:
    """Take ITEM (id or URL) out of its cluster; later polls never match it again."""
    from ingestd.dedup import curation

    settings = context.settings().dedup
    item = _item_ref(item)
    done = _write(context, lambda tx: curation.split(tx, item, settings))
    where = f"split out of cluster {done.cluster_id}" if done.cluster_id else "was in no cluster"
    click.echo(f"item {done.id} {where}; it stays on its own")


@clusters.command(
    "merge", epilog="Example: ingest clusters merge 57 https://example.com/the-original"
)
@click.argument("item_a")
@click.argument("item_b")
@click.pass_obj
@_errors
def clusters_merge(context: _Context, item_a: str, item_b: str) -> None:
    """Keep ITEM_A and ITEM_B (ids or URLs) in one cluster: they are one article, whatever
    their texts say; later polls keep them together (`clusters split` undoes it)."""
    from ingestd.dedup import curation

    settings = context.settings().dedup
    item_a, item_b = _item_ref(item_a), _item_ref(item_b)
    done = _write(context, lambda tx: curation.merge(tx, item_a, item_b, settings))
    click.echo(f"item {done.id} and {item_b} are now together in cluster {done.cluster_id}")


@clusters.command("unsplit", epilog="Example: ingest clusters unsplit 57")
@click.argument("item")
@click.pass_obj
@_errors
def clusters_unsplit(context: _Context, item: str) -> None:
    """Let dedup match ITEM (id or URL) again: its links are verified again at once."""
    from ingestd.dedup import curation

    settings = context.settings().dedup
    item = _item_ref(item)
    done = _write(context, lambda tx: curation.unsplit(tx, item, settings))
    click.echo(f"item {done.id} can be matched again")


@main.group(epilog="Example: ingest items list --json")
def items() -> None:
    """Inspect stored items."""


@items.command(
    "list", epilog="Example: ingest items list --feed https://example.com/feed.xml --json"
)
@json_option
@click.option("--feed", "feed_url", metavar="URL", help="Only items of this feed.")
@limit_option("items")
@click.pass_obj
@_errors
def items_list(context: _Context, as_json: bool, feed_url: str | None, limit: int | None) -> None:
    """Every stored item, newest first."""
    from ingestd.cli import render
    from ingestd.feedout import views

    found = _read(context, lambda tx: views.list_items(tx, feed_url, limit))
    if as_json:
        render.json_lines(found)
    else:
        render.items_table(found)


@main.group(epilog="Example: ingest feeds add https://example.com/blog/")
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
@_errors
def feeds_list(context: _Context, as_json: bool, everything: bool, folder: str | None) -> None:
    """Subscribed feeds: URL, name, folder, source (config or cli), status, last and next poll,
    failures, items, last error."""
    from ingestd.cli import render
    from ingestd.polling import feeds as manage

    settings = context.settings()

    def listing(tx: Any) -> list[dict[str, Any]]:
        counts = tx.item_counts()
        feeds = manage.list_feeds(tx, settings, everything, folder)
        return [manage.feed_object(feed, counts.get(feed.id, 0)) for feed in feeds]

    objects = _write(context, listing)
    if as_json:
        render.json_lines(objects)
    else:
        render.feeds_table(objects)
    _config_note(settings)


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
@_errors
def feeds_add(
    context: _Context,
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
    _write(context, lambda tx: manage.refuse_duplicate(tx, settings, url))
    checked = manage.Checked(url) if no_check else manage.check_feed(url, settings.http, options)
    added = _write(context, lambda tx: manage.add(tx, settings, checked, name, every_s, options))
    label = added.name or added.title
    title = f' "{label}"' if label else ""
    found = f", found on {checked.found_on}" if checked.found_on else ""
    click.echo(visible(f"added {added.url}{title}{found}"))
    _config_note(settings)


@feeds.command(
    "remove",
    short_help="Stop polling a feed added here; its items stay.",
    epilog="Example: ingest feeds remove https://example.com/feed.xml",
)
@click.argument("url")
@click.pass_obj
@_errors
def feeds_remove(context: _Context, url: str) -> None:
    """Stop polling URL (added with feeds add or import); its items stay."""
    from ingestd.polling import feeds as manage

    settings = context.settings()
    removed = _write(context, lambda tx: manage.remove(tx, settings, url.strip()))
    click.echo(visible(f"removed {removed.url}; its items stay"))
    _config_note(settings)


@feeds.command(
    "import",
    short_help="Subscribe to every feed of an OPML file.",
    epilog="Example: ingest feeds import subscriptions.opml",
)
@click.argument("path", metavar="FILE.opml", type=click.Path(path_type=Path))
@click.pass_obj
@_errors
def feeds_import(context: _Context, path: Path) -> None:
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
    _config_note(settings)


@feeds.command("poll", epilog="Example: ingest feeds poll https://example.com/feed.xml")
@click.argument("url")
@click.pass_obj
@_errors
def feeds_poll(context: _Context, url: str) -> None:
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
    _config_note(settings)
    if outcome.outcome == "failed":
        sys.exit(1)


@feeds.command("export", epilog="Example: ingest feeds export > feeds.opml")
@click.pass_obj
@_errors
def feeds_export(context: _Context) -> None:
    """Print every subscribed feed as OPML 2.0."""
    from datetime import UTC, datetime

    from ingestd.parse.opml import write_opml
    from ingestd.polling import feeds as manage

    settings = context.settings()
    found = _write(context, lambda tx: manage.list_feeds(tx, settings))
    now = datetime.now(UTC)
    click.echo(write_opml("ingestd subscriptions", manage.outlines(found), now), nl=False)
    _config_note(settings)


def _item_ref(ref: str) -> str:
    """An item named on the command line (an id or a URL), refused as naming nothing stored
    when it is a number no database holds (too large, or digits that are not 0-9)."""
    if ref.isdigit() and not (ref.isascii() and int(ref) <= MAX_NUMBER):
        raise NotFoundError(f"no item with id or URL {ref!r}")
    return ref


def _config_note(settings: Settings) -> None:
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


@main.command("export", epilog="Example: ingest export --format jsonfeed --since 7d > stories.json")
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
@_errors
def export_command(
    context: _Context,
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
    found = _read(context, lambda tx: export.export_bytes(tx, fmt, selection, served))
    click.echo(found, nl=False)


@main.command("stats", epilog="Example: ingest stats --json")
@json_option
@click.pass_obj
@_errors
def stats_command(context: _Context, as_json: bool) -> None:
    """Feeds by status, queue depth, items, clusters and the last day's polls, from the
    database (the numbers /metrics serves)."""
    from datetime import UTC, datetime

    from ingestd.cli import render
    from ingestd.service import metrics
    from ingestd.store.upkeep import stats

    found = _read(context, lambda tx: stats(tx, datetime.now(UTC)))
    if as_json:
        render.json_lines([metrics.stats_object(found)])
    else:
        click.echo("\n".join(metrics.stats_lines(found)))


@main.command("serve", epilog="Example: ingest serve --listen 127.0.0.1:8464")
@click.option(
    "--listen",
    "address",
    metavar="HOST:PORT",
    help="Where to listen (default: [web] listen, else 127.0.0.1:8464: this machine only).",
)
@click.pass_obj
@_errors
def serve_command(context: _Context, address: str | None) -> None:
    """Serve the read-only web pages (clusters side by side, items, explain) and the
    deduplicated feeds until Ctrl-C, without polling anything."""
    import asyncio

    from ingestd.config import listen_address
    from ingestd.service.web.serve import DEFAULT_ADDRESS, serve
    from ingestd.store import Store
    from ingestd.store.engine import cannot_write

    settings = context.settings()
    try:
        chosen = listen_address(address) if address else None
    except ValueError as exc:
        raise UserError(f"serve: --listen: {exc}") from None
    chosen = chosen or settings.web.listen or DEFAULT_ADDRESS
    url = settings.database_url
    store = Store.open(url, read_only=cannot_write(url))
    try:
        asyncio.run(serve(store, settings, chosen, lambda line: click.echo(line, err=True)))
    except OSError as exc:
        raise UserError(f"serve: cannot listen on {chosen}: {exc.strerror or exc}") from None
    finally:
        store.close()


@main.group(epilog="Example: ingest web hash-password")
def web() -> None:
    """The read-only web pages' settings."""


@web.command("hash-password", epilog="Example: ingest web hash-password")
@click.password_option(
    "--password", prompt="Password for the web pages", envvar="INGEST_WEB_PASSWORD"
)
def web_hash_password(password: str) -> None:
    """Print a scrypt hash of a password for [web] password_hash (asked twice, not echoed;
    or --password, or $INGEST_WEB_PASSWORD)."""
    from ingestd.service.web.auth import hash_password

    if not password:
        raise click.UsageError("the password is empty")
    click.echo(hash_password(password))


@main.group(epilog="Example: ingest db status")
def db() -> None:
    """Database schema management."""


@db.command(
    "upgrade",
    epilog="Example: INGESTD_DATABASE_URL=postgresql://localhost/ingestd ingest db upgrade",
)
@click.pass_obj
@_errors
def db_upgrade(context: _Context) -> None:
    """Apply pending migrations (also done at every start)."""
    from ingestd.store import Store
    from ingestd.store.migrations import HEAD

    store = Store.open(context.settings().database_url)
    store.close()
    click.echo(f"schema at version {HEAD}")


@db.command("status", epilog="Example: ingest db status")
@click.pass_obj
@_errors
def db_status(context: _Context) -> None:
    """Show the schema version of the database and of this ingestd."""
    from ingestd.store import Store
    from ingestd.store.migrations import HEAD

    store = Store.open(context.settings().database_url, migrate=False)
    try:
        version = store.schema_version()
    finally:
        store.close()
    state = "up to date" if version == HEAD else f"behind: run `ingest db upgrade` to reach {HEAD}"
    click.echo(f"schema version {version} ({state})")


def _read(context: _Context, fn: Callable[[Any], Any], write: bool = False) -> Any:
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


def _write(context: _Context, fn: Callable[[Any], Any]) -> Any:
    return _read(context, fn, write=True)


@main.command(
    "eval",
    epilog=(
        "Example: ingest eval --articles ../shared/corpus/real-dev/census.csv "
        "--labels ../shared/corpus/real-dev/labels-census.json"
    ),
)
@click.option(
    "--articles",
    "articles_path",
    required=True,
    type=click.Path(path_type=Path),
    help="CSV with id, publisher, scrape_time, text (paragraphs joined by ' ### ').",
)
@click.option(
    "--labels",
    "labels_path",
    required=True,
    type=click.Path(path_type=Path),
    help='JSON: {"articles": {id: {"cluster": name}}}.',
)
@json_option
@click.pass_obj
@_errors
def eval_command(context: _Context, articles_path: Path, labels_path: Path, as_json: bool) -> None:
    """Score dedup on a labelled set: pairwise precision, recall, F1, ARI and the wrong pairs."""
    from ingestd.cli import render
    from ingestd.dedup import evaluate

    settings = context.settings().dedup
    articles = evaluate.read_articles(articles_path)
    gold = evaluate.read_labels(labels_path)
    for warning in evaluate.check_matching(articles, gold, articles_path, labels_path):
        click.echo(f"eval: {warning}", err=True)
    predicted = evaluate.predict(articles, settings)
    scores = evaluate.score(gold, predicted.clusters)
    wrong = evaluate.wrong_pairs(articles, gold, predicted.clusters, settings)
    verdicts = [
        {"id": article_id, "quality": kind, "note": note}
        for article_id, (kind, note) in sorted(predicted.quality.items())
        if article_id in gold
    ]
    if as_json:
        render.json_lines(
            [{"type": "scores", **scores.__dict__}]
            + [{"type": "pair", **w} for w in wrong]
            + [{"type": "quality", **v} for v in verdicts]
        )
        return
    render.eval_report(scores.__dict__, wrong, verdicts)
