"""``ingest stats`` and ``ingest eval``: what the store holds, and dedup measured against labels."""

from __future__ import annotations

from pathlib import Path

import click

from ingestd.cli.common import (
    Context,
    handle_errors,
    json_option,
    read_store,
)


@click.command("stats", epilog="Example: ingest stats --json")
@json_option
@click.pass_obj
@handle_errors
def stats_command(context: Context, as_json: bool) -> None:
    """Feeds by status, queue depth, items, clusters and the last day's polls, from the
    database (the numbers /metrics serves)."""
    from datetime import UTC, datetime

    from ingestd.cli import render
    from ingestd.service import metrics
    from ingestd.store.upkeep import stats

    found = read_store(context, lambda tx: stats(tx, datetime.now(UTC)))
    if as_json:
        render.json_lines([metrics.stats_object(found)])
    else:
        click.echo("\n".join(metrics.stats_lines(found)))


@click.command(
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
@handle_errors
def eval_command(context: Context, articles_path: Path, labels_path: Path, as_json: bool) -> None:
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
