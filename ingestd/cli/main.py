"""The ``ingest`` command line (click). Commands are thin: load settings, call one function,
print. A user's mistake prints one line and exits 2; a runtime failure exits 1."""

from __future__ import annotations

import atexit
import contextlib
import gc
import sys
from collections.abc import Iterator
from functools import cache
from typing import Any

import click

from ingestd import __version__
from ingestd.cli import clusters, db, export, feeds, items, serve, stats
from ingestd.cli.common import (
    EXIT_FEEDS_FAILED,
    Context,
    handle_errors,
    read_store,
)
from ingestd.errors import UserError
from ingestd.safetext import visible


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
    ctx.obj = Context(config_path, verbose)
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


def _start_pool_early(context: Context) -> None:
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


@handle_errors
def _run_once(context: Context, strict: bool = False) -> None:
    with _imports_without_collections():
        from ingestd.cli.progress import progress_for_pass
        from ingestd.pipeline.runner import run_once
        from ingestd.store.subscriptions import CLI, count_active

    settings = context.settings()
    # Without a file, the configured feeds stored by earlier runs stay (and are polled).
    source = CLI if settings.owns_feeds else None
    if not settings.feeds and not read_store(context, lambda tx: count_active(tx, source)):
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


@handle_errors
def _run_daemon(context: Context) -> None:
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
def run(context: Context) -> None:
    """Run the daemon: poll due feeds on schedule until SIGTERM or SIGINT."""
    _run_daemon(context)


for _group in (
    clusters.clusters,
    items.items,
    feeds.feeds,
    export.export_command,
    stats.stats_command,
    stats.eval_command,
    serve.serve_command,
    serve.web,
    db.db,
):
    main.add_command(_group)
