"""``ingest clusters``: list, show and explain clusters; the operator's pin, split, merge and
unsplit."""

from __future__ import annotations

import click

from ingestd.cli.common import (
    MAX_NUMBER,
    Context,
    handle_errors,
    item_ref,
    json_option,
    limit_option,
    read_store,
    write_store,
)


@click.group(epilog="Example: ingest clusters list --limit 10")
def clusters() -> None:
    """Inspect clusters of republished copies."""


@clusters.command("list", epilog="Example: ingest clusters list --limit 20 --json")
@json_option
@limit_option("clusters")
@click.pass_obj
@handle_errors
def clusters_list(context: Context, as_json: bool, limit: int | None) -> None:
    """Clusters of two or more items, newest first."""
    from ingestd.cli import render
    from ingestd.feedout import views

    found = read_store(context, lambda tx: views.list_clusters(tx, limit))
    if as_json:
        render.json_lines(found)
    else:
        render.clusters_table(found)


@clusters.command("show", epilog="Example: ingest clusters show 12")
@click.argument("cluster_id", type=click.IntRange(min=1, max=MAX_NUMBER))
@json_option
@click.pass_obj
@handle_errors
def clusters_show(context: Context, cluster_id: int, as_json: bool) -> None:
    """The canonical item of a cluster and every republication, with similarity and reason."""
    from ingestd.cli import render
    from ingestd.feedout import views

    found = read_store(context, lambda tx: views.show_cluster(tx, cluster_id))
    if as_json:
        render.json_lines([found])
    else:
        render.cluster_detail(found)


@clusters.command("explain", epilog="Example: ingest clusters explain 12 https://example.com/story")
@click.argument("item_a")
@click.argument("item_b")
@json_option
@click.pass_obj
@handle_errors
def clusters_explain(context: Context, item_a: str, item_b: str, as_json: bool) -> None:
    """Why two items (ids or URLs) are, or are not, the same article."""
    from ingestd.cli import render
    from ingestd.dedup import explain

    settings = context.settings().dedup
    item_a, item_b = item_ref(item_a), item_ref(item_b)
    found = read_store(context, lambda tx: explain.explain(tx, item_a, item_b, settings))
    if as_json:
        render.json_lines([found])
    else:
        render.explanation(found)


@clusters.command("pin", epilog="Example: ingest clusters pin https://example.com/original-story")
@click.argument("item")
@click.pass_obj
@handle_errors
def clusters_pin(context: Context, item: str) -> None:
    """Make ITEM (id or URL) the canonical item of its cluster, for good."""
    from ingestd.dedup import curation

    settings = context.settings().dedup
    item = item_ref(item)
    pinned = write_store(context, lambda tx: curation.pin(tx, item, settings))
    click.echo(f"item {pinned.id} is now the canonical item of cluster {pinned.cluster_id}")


@clusters.command("split", epilog="Example: ingest clusters split 57")
@click.argument("item")
@click.pass_obj
@handle_errors
def clusters_split(context: Context, item: str) -> None:
    """Take ITEM (id or URL) out of its cluster; later polls never match it again."""
    from ingestd.dedup import curation

    settings = context.settings().dedup
    item = item_ref(item)
    done = write_store(context, lambda tx: curation.split(tx, item, settings))
    where = f"split out of cluster {done.cluster_id}" if done.cluster_id else "was in no cluster"
    click.echo(f"item {done.id} {where}; it stays on its own")


@clusters.command(
    "merge", epilog="Example: ingest clusters merge 57 https://example.com/the-original"
)
@click.argument("item_a")
@click.argument("item_b")
@click.pass_obj
@handle_errors
def clusters_merge(context: Context, item_a: str, item_b: str) -> None:
    """Keep ITEM_A and ITEM_B (ids or URLs) in one cluster: they are one article, whatever
    their texts say; later polls keep them together (`clusters split` undoes it)."""
    from ingestd.dedup import curation

    settings = context.settings().dedup
    item_a, item_b = item_ref(item_a), item_ref(item_b)
    done = write_store(context, lambda tx: curation.merge(tx, item_a, item_b, settings))
    click.echo(f"item {done.id} and {item_b} are now together in cluster {done.cluster_id}")


@clusters.command("unsplit", epilog="Example: ingest clusters unsplit 57")
@click.argument("item")
@click.pass_obj
@handle_errors
def clusters_unsplit(context: Context, item: str) -> None:
    """Let dedup match ITEM (id or URL) again: its links are verified again at once."""
    from ingestd.dedup import curation

    settings = context.settings().dedup
    item = item_ref(item)
    done = write_store(context, lambda tx: curation.unsplit(tx, item, settings))
    click.echo(f"item {done.id} can be matched again")
