"""``ingest db``: the schema's version and its upgrade."""

from __future__ import annotations

import click

from ingestd.cli.common import (
    Context,
    handle_errors,
)


@click.group(epilog="Example: ingest db status")
def db() -> None:
    """Database schema management."""


@db.command(
    "upgrade",
    epilog="Example: INGESTD_DATABASE_URL=postgresql://localhost/ingestd ingest db upgrade",
)
@click.pass_obj
@handle_errors
def db_upgrade(context: Context) -> None:
    """Apply pending migrations (also done at every start)."""
    from ingestd.store import Store
    from ingestd.store.migrations import HEAD

    store = Store.open(context.settings().database_url)
    store.close()
    click.echo(f"schema at version {HEAD}")


@db.command("status", epilog="Example: ingest db status")
@click.pass_obj
@handle_errors
def db_status(context: Context) -> None:
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
