"""Scoring dedup against hand-made labels (``ingest eval``).

Articles (CSV: ``id, publisher, scrape_time, text``, optionally ``title`` and ``url``;
paragraphs joined by `` ### ``) are run through the real dedup path, in scrape order, into a
throw-away SQLite store; the resulting clusters are compared with the labels (JSON:
``{"articles": {id: {"cluster": ...}}}``) by pairwise precision, recall, F1 and the adjusted
Rand index. Wrong pairs come with the verdict's reasons, and every article with its
article-ness verdict, so settings can be tuned on one's own data. An empty article file, or
labels that name none of its articles, is refused: scores over nothing would read as perfect.
"""

from __future__ import annotations

import csv
import itertools
import json
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from math import comb
from pathlib import Path
from typing import Any

from ingestd.config import DedupSettings
from ingestd.dedup.compare import overlap, thresholds, verdict
from ingestd.dedup.link import link_new_item
from ingestd.dedup.params import SignatureParams, signature_params
from ingestd.dedup.signature import make_signature
from ingestd.errors import UserError
from ingestd.model import Signature
from ingestd.pipeline.entries import text_item
from ingestd.store import NewItem, Store
from ingestd.store.subscriptions import add_feed


@dataclass(frozen=True)
class LabelledArticle:
    """One article of a labelled set."""

    id: str
    publisher: str
    when: datetime | None
    text: str
    title: str = ""
    url: str | None = None


@dataclass(frozen=True)
class Prediction:
    """Each article's predicted cluster (a negative number: alone) and text verdict."""

    clusters: dict[str, int]
    quality: dict[str, tuple[str, str]]  # article id -> (kind, note)


@dataclass(frozen=True)
class Scores:
    """Pairwise scores of a predicted partition against the gold one."""

    precision: float
    recall: float
    f1: float
    ari: float
    true_pairs: int
    predicted_pairs: int
    correct_pairs: int


def read_articles(path: Path) -> list[LabelledArticle]:
    """Read the articles CSV; UserError naming the file and row on bad input."""
    csv.field_size_limit(sys.maxsize)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise UserError(f"eval: cannot read {path}: {exc}") from None
    articles = []
    for number, row in enumerate(rows, start=2):
        if not row.get("id") or row.get("text") is None:
            raise UserError(f"eval: {path}:{number}: each row needs 'id' and 'text' columns")
        articles.append(
            LabelledArticle(
                row["id"],
                row.get("publisher") or "unknown",
                _when(row.get("scrape_time")),
                row["text"].replace(" ### ", "\n"),
                row.get("title") or "",
                row.get("url") or None,
            )
        )
    if not articles:
        raise UserError(f"eval: {path}: no articles (a CSV with id, publisher, scrape_time, text)")
    return articles


def read_labels(path: Path) -> dict[str, str]:
    """Article id → gold cluster from the labels JSON."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        labels = {str(key): str(value["cluster"]) for key, value in data["articles"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise UserError(
            f'eval: {path}: expected {{"articles": {{id: {{"cluster": ...}}}}}}: {exc}'
        ) from None
    if not labels:
        raise UserError(f"eval: {path}: no labelled articles")
    return labels


def check_matching(
    articles: list[LabelledArticle], gold: dict[str, str], articles_path: Path, labels_path: Path
) -> list[str]:
    """Refuse labels that name none of the articles; warnings (in words) for a partial match."""
    ids = {article.id for article in articles}
    common = ids & set(gold)
    if not common:
        raise UserError(
            f"eval: {labels_path} labels none of the {len(ids)} articles of {articles_path}"
            " (their ids differ)"
        )
    warnings = []
    if len(common) < len(gold):
        missing = sorted(set(gold) - ids)
        warnings.append(
            f"{len(missing)} labelled articles are not in {articles_path} (e.g. {missing[0]});"
            " they are not scored"
        )
    if len(common) < len(ids):
        warnings.append(f"{len(ids) - len(common)} articles have no label; they are not scored")
    return warnings


def _when(value: str | None) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value) if value else None
    except ValueError:
        return None
    if parsed is None:
        return None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def predict(articles: list[LabelledArticle], settings: DedupSettings) -> Prediction:
    """Run the dedup stage over the articles: each one's cluster and text verdict."""
    params = signature_params(settings)
    with tempfile.TemporaryDirectory(prefix="ingestd-eval-") as folder:
        store = Store.open(f"sqlite:///{folder}/eval.sqlite3")
        try:
            return _predict(store, articles, settings, params)
        finally:
            store.close()


def _predict(
    store: Store, articles: list[LabelledArticle], settings: DedupSettings, params: SignatureParams
) -> Prediction:
    now = datetime.now(UTC)
    ids: dict[int, str] = {}
    ordered = sorted(articles, key=lambda a: (a.when or now, a.id))
    with store.transaction() as tx:
        feed_ids: dict[str, int] = {}
        for article in ordered:
            if article.publisher not in feed_ids:
                feed_ids[article.publisher] = add_feed(tx, f"eval:{article.publisher}", now)
            item, sig = _item(article, feed_ids[article.publisher], params, now)
            item_id = tx.insert_item(item)
            link_new_item(tx, item_id, item, sig, settings, now)
            ids[item_id] = article.id
        stored = tx.items(ids)
    return Prediction(
        {ids[r.id]: (r.cluster_id if r.cluster_id is not None else -r.id) for r in stored},
        {ids[r.id]: (r.quality, r.quality_note or "") for r in stored},
    )


def _item(
    article: LabelledArticle, feed_id: int, params: SignatureParams, now: datetime
) -> tuple[NewItem, Signature]:
    url = article.url or f"https://{article.publisher.strip('/')}/eval/{article.id}"
    return text_item(
        feed_id, article.id, url, article.title, article.text, article.when, now, params
    )


def score(gold: dict[str, str], predicted: dict[str, Any]) -> Scores:
    """Pairwise precision/recall/F1 and ARI over the articles present in both."""
    ids = sorted(set(gold) & set(predicted))
    true_pairs = predicted_pairs = correct = 0
    for a, b in itertools.combinations(ids, 2):
        same_gold, same_pred = gold[a] == gold[b], predicted[a] == predicted[b]
        true_pairs += same_gold
        predicted_pairs += same_pred
        correct += same_gold and same_pred
    precision = correct / predicted_pairs if predicted_pairs else 1.0
    recall = correct / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Scores(
        precision, recall, f1, _ari(ids, gold, predicted), true_pairs, predicted_pairs, correct
    )


def _ari(ids: list[str], gold: dict[str, str], predicted: dict[str, Any]) -> float:
    n = len(ids)
    if n < 2:
        return 1.0
    joint = Counter((gold[i], predicted[i]) for i in ids)
    sum_joint = sum(comb(v, 2) for v in joint.values())
    sum_gold = sum(comb(v, 2) for v in Counter(gold[i] for i in ids).values())
    sum_pred = sum(comb(v, 2) for v in Counter(predicted[i] for i in ids).values())
    expected = sum_gold * sum_pred / comb(n, 2)
    maximum = (sum_gold + sum_pred) / 2
    return 1.0 if maximum == expected else (sum_joint - expected) / (maximum - expected)


def wrong_pairs(
    articles: list[LabelledArticle],
    gold: dict[str, str],
    predicted: dict[str, Any],
    settings: DedupSettings,
) -> list[dict[str, Any]]:
    """Every pair the prediction got wrong, with the direct verdict and its reasons."""
    params = signature_params(settings)
    by_id = {a.id: a for a in articles if a.id in gold and a.id in predicted}
    sigs = {i: make_signature(a.text, a.title, params) for i, a in by_id.items()}
    wrong = []
    for a, b in itertools.combinations(sorted(by_id), 2):
        same_gold, same_pred = gold[a] == gold[b], predicted[a] == predicted[b]
        if same_gold == same_pred:
            continue
        found = overlap(sigs[a].shingles, sigs[b].shingles, sigs[a].narrative, sigs[b].narrative)
        decision = verdict(found, thresholds(settings))
        wrong.append(
            {
                "a": a,
                "b": b,
                "kind": "missed" if same_gold else "false merge",
                "jaccard": round(found.jaccard, 3),
                "containment_a": round(found.containment_a, 3),
                "containment_b": round(found.containment_b, 3),
                "direct_verdict": "copy" if decision.copy else "not a copy",
                "why": decision.why,
            }
        )
    return wrong
