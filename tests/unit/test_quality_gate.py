"""Dedup quality gate on real labelled news (``../shared/corpus/real-dev``).

Runs the real ``ingest eval`` (the product's dedup path, through a SQLite store) and fails when
pairwise precision or recall fall below floors pinned just under the scores measured when they
were set. Skipped, with the reason, when the corpus is not beside the repository.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestd.cli.main import main

CORPUS = Path(
    os.environ.get(
        "INGESTD_CORPUS", Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
    )
)
REAL_DEV = CORPUS / "real-dev"

# Measured 2026-11-28: census P 1.000 R 1.000; spotify P 1.000 R 0.853 (five misses, all the
# borderline Daily Mail carry 7271). Floors sit just under.
FLOORS = {
    "census": {"precision": 0.99, "recall": 0.99, "ari": 0.99},
    "spotify": {"precision": 0.99, "recall": 0.85, "ari": 0.91},
}


@pytest.mark.corpus
@pytest.mark.parametrize("name", sorted(FLOORS))
def test_dedup_scores_stay_above_pinned_floors(name: str, tmp_path: Path) -> None:
    """Pairwise precision, recall and ARI on a real-dev corpus stay above their floors."""
    articles, labels = REAL_DEV / f"{name}.csv", REAL_DEV / f"labels-{name}.json"
    if not articles.exists() or not labels.exists():
        pytest.skip(f"real-dev corpus not found at {REAL_DEV} (set INGESTD_CORPUS to its folder)")
    result = CliRunner().invoke(
        main,
        ["eval", "--articles", str(articles), "--labels", str(labels), "--json"],
        env={"INGESTD_STATE_DIR": str(tmp_path), "INGESTD_CONFIG": ""},
    )
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    scores = next(line for line in lines if line["type"] == "scores")
    wrong = [line for line in lines if line["type"] == "pair"]
    print(
        f"\n{name}: precision {scores['precision']:.3f} recall {scores['recall']:.3f} "
        f"F1 {scores['f1']:.3f} ARI {scores['ari']:.3f}; wrong pairs: "
        + ", ".join(f"{w['kind']} {w['a']}~{w['b']}" for w in wrong)
    )
    for measure, floor in FLOORS[name].items():
        assert scores[measure] >= floor, f"{name} {measure} {scores[measure]:.3f} < {floor}"
    assert not [w for w in wrong if w["kind"] == "false merge"], "false merges on real news"
