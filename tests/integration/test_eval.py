"""``ingest eval`` on invented labelled articles: scores, text verdicts, and bad input refused
with one line and exit 2 (scores over nothing would read as perfect)."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner, Result

from ingestd.cli.main import main

Prose = Callable[..., list[str]]
pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.fixture(autouse=True)
def _forget_logging_setup() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def write_articles(path: Path, rows: list[tuple[str, str, str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["id", "publisher", "scrape_time", "text"])
        for article_id, publisher, text in rows:
            writer.writerow([article_id, publisher, "2026-03-10 06:00:00", text])
    return path


def write_labels(path: Path, clusters: dict[str, str]) -> Path:
    articles = {key: {"cluster": value, "junk": False} for key, value in clusters.items()}
    path.write_text(json.dumps({"articles": articles}), encoding="utf-8")
    return path


def evaluate(articles: Path, labels: Path, *extra: str) -> Result:
    return CliRunner().invoke(
        main, ["eval", "--articles", str(articles), "--labels", str(labels), *extra]
    )


def test_eval_scores_the_pairs_and_gives_every_articles_verdict(
    tmp_path: Path, prose: Prose
) -> None:
    story = " ### ".join(prose(1, 10))
    rows = [("1", "a.example", story), ("2", "b.example", story), ("3", "c.example", "Too short.")]
    articles = write_articles(tmp_path / "a.csv", rows)
    labels = write_labels(tmp_path / "l.json", {"1": "c1", "2": "c1", "3": "c2"})

    result = evaluate(articles, labels, "--json")

    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    scores = next(line for line in lines if line["type"] == "scores")
    verdicts = {line["id"]: line["quality"] for line in lines if line["type"] == "quality"}
    assert scores["precision"] == scores["recall"] == 1.0
    assert verdicts == {"1": "article", "2": "article", "3": "short"}


def test_an_empty_article_file_is_refused(tmp_path: Path) -> None:
    articles = write_articles(tmp_path / "a.csv", [])
    labels = write_labels(tmp_path / "l.json", {"1": "c1"})

    result = evaluate(articles, labels)

    assert result.exit_code == 2
    assert "no articles" in result.stderr and str(articles) in result.stderr
    assert "Traceback" not in result.stderr and "precision" not in result.stdout


def test_labels_that_name_none_of_the_articles_are_refused(tmp_path: Path, prose: Prose) -> None:
    articles = write_articles(tmp_path / "a.csv", [("1", "a.example", " ### ".join(prose(2)))])
    labels = write_labels(tmp_path / "l.json", {"x": "c1", "y": "c1"})

    result = evaluate(articles, labels)

    assert result.exit_code == 2
    assert "labels none of the 1 articles" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("content", ["", "[]", '{"articles": {}}', '{"articles": []}'])
def test_empty_or_malformed_labels_are_refused(tmp_path: Path, prose: Prose, content: str) -> None:
    articles = write_articles(tmp_path / "a.csv", [("1", "a.example", " ### ".join(prose(3)))])
    labels = tmp_path / "l.json"
    labels.write_text(content, encoding="utf-8")

    result = evaluate(articles, labels)

    assert result.exit_code == 2
    assert str(labels) in result.stderr and "Traceback" not in result.stderr


def test_a_partial_match_is_scored_with_a_warning(tmp_path: Path, prose: Prose) -> None:
    rows = [("1", "a.example", " ### ".join(prose(4))), ("2", "b.example", " ### ".join(prose(5)))]
    articles = write_articles(tmp_path / "a.csv", rows)
    labels = write_labels(tmp_path / "l.json", {"1": "c1", "9": "c2"})

    result = evaluate(articles, labels)

    assert result.exit_code == 0
    assert "1 labelled articles are not in" in result.stderr
    assert "1 articles have no label" in result.stderr
