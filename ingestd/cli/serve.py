"""``ingest serve`` and ``ingest web``: the read-only web pages and the password hash for them."""

from __future__ import annotations

import click

from ingestd.cli.common import (
    Context,
    handle_errors,
)
from ingestd.errors import UserError


@click.command("serve", epilog="Example: ingest serve --listen 127.0.0.1:8464")
@click.option(
    "--listen",
    "address",
    metavar="HOST:PORT",
    help="Where to listen (default: [web] listen, else 127.0.0.1:8464: this machine only).",
)
@click.pass_obj
@handle_errors
def serve_command(context: Context, address: str | None) -> None:
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


@click.group(epilog="Example: ingest web hash-password")
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
