"""Operator decisions and explanations on the offline demo: `clusters explain`, `pin`,
`split`, `unsplit`; a pin and a split survive later polls."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestd.cli.main import main
from ingestd.store import Store

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def demo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    """The demo ingested into a fresh state directory; a runner bound to it."""
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    config = tmp_path / "demo.toml"
    config.write_text(text.replace('"file:../demo/', f'"file://{ROOT}/demo/'), encoding="utf-8")
    monkeypatch.setenv("INGESTD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("INGESTD_CONFIG", str(config))
    monkeypatch.delenv("INGESTD_DATABASE_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(main, ["--once"]).exit_code == 0
    return runner


def _json(runner: CliRunner, *args: str) -> list[dict[str, object]]:
    result = runner.invoke(main, [*args, "--json"])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


def _dock_strike(runner: CliRunner) -> dict[str, object]:
    clusters = _json(runner, "clusters", "list")
    return next(c for c in clusters if "dock-strike" in str(c["canonical"]["url"]))  # type: ignore[index]


def _poll_again(tmp_path: Path, runner: CliRunner) -> None:
    """Make every feed due and changed (forget validators and body hashes), then poll."""
    store = Store.open(f"sqlite:///{tmp_path}/state/ingestd.sqlite3")
    with store.transaction() as tx:
        for feed in tx.feeds():
            tx.update_feed(
                feed.id, next_poll_at=None, body_hash=None, etag=None, last_modified=None
            )
    store.close()
    assert runner.invoke(main, ["--once"]).exit_code == 0


def test_explain_gives_numbers_signals_and_a_sentence(demo: CliRunner) -> None:
    cluster = _dock_strike(demo)
    canonical = cluster["canonical"]["id"]  # type: ignore[index]
    excerpt = next(r for r in cluster["republications"] if "roundup" in r["url"])  # type: ignore[union-attr]
    [found] = _json(demo, "clusters", "explain", str(canonical), str(excerpt["url"]))
    assert found["text_verdict"] == "copy" and found["same_cluster"] is True
    assert found["containment_b_in_a"] >= 0.9 > found["jaccard"]
    assert any("credits" in signal for signal in found["signals"])
    assert "the same article" in found["summary"]
    human = demo.invoke(main, ["clusters", "explain", str(canonical), str(excerpt["id"])])
    assert human.exit_code == 0 and "share of B found in A" in human.output
    unrelated = demo.invoke(main, ["clusters", "explain", str(canonical), "999999"])
    assert unrelated.exit_code == 2


def test_a_pin_survives_later_polls(demo: CliRunner, tmp_path: Path) -> None:
    cluster = _dock_strike(demo)
    copy = cluster["republications"][0]  # type: ignore[index]
    assert demo.invoke(main, ["clusters", "pin", str(copy["id"])]).exit_code == 0
    _poll_again(tmp_path, demo)
    after = next(c for c in _json(demo, "clusters", "list") if c["id"] == cluster["id"])
    assert after["canonical"]["id"] == copy["id"] and after["canonical_reason"] == "pinned"  # type: ignore[index]


def test_a_split_item_stays_out_of_its_cluster(demo: CliRunner, tmp_path: Path) -> None:
    cluster = _dock_strike(demo)
    excerpt = next(r for r in cluster["republications"] if "roundup" in r["url"])  # type: ignore[union-attr]
    assert demo.invoke(main, ["clusters", "split", str(excerpt["url"])]).exit_code == 0
    _poll_again(tmp_path, demo)
    items = {item["id"]: item for item in _json(demo, "items", "list")}
    assert items[excerpt["id"]]["role"] == "single" and items[excerpt["id"]]["cluster_id"] is None
    after = next(c for c in _json(demo, "clusters", "list") if c["id"] == cluster["id"])
    assert after["size"] == 2
    assert demo.invoke(main, ["clusters", "unsplit", str(excerpt["id"])]).exit_code == 0


def _singles(runner: CliRunner) -> list[dict[str, object]]:
    return [item for item in _json(runner, "items", "list") if item["cluster_id"] is None]


def test_a_merge_keeps_two_items_together_through_later_polls(
    demo: CliRunner, tmp_path: Path
) -> None:
    """`clusters merge` is the inverse of `split`: two items the texts keep apart become one
    story, later polls keep it, `explain` says an operator merged them, `split` undoes it."""
    first, second = _singles(demo)[:2]

    merged = demo.invoke(main, ["clusters", "merge", str(first["id"]), str(second["url"])])

    assert merged.exit_code == 0, merged.output
    assert merged.stdout.startswith(f"item {first['id']} and {second['url']} are now together")
    _poll_again(tmp_path, demo)
    items = {item["id"]: item for item in _json(demo, "items", "list")}
    assert items[first["id"]]["cluster_id"] is not None
    assert items[first["id"]]["cluster_id"] == items[second["id"]]["cluster_id"]
    [found] = _json(demo, "clusters", "explain", str(first["id"]), str(second["id"]))
    assert found["merged_by_operator"] is True
    assert found["stored_link"]["reason"] == "operator"  # type: ignore[index]
    assert "An operator merged them" in str(found["summary"])
    assert found["same_cluster"] is True

    split = demo.invoke(main, ["clusters", "split", str(second["id"])])

    assert split.exit_code == 0 and "None" not in split.stdout
    items = {item["id"]: item for item in _json(demo, "items", "list")}
    assert items[first["id"]]["cluster_id"] is None
    assert items[second["id"]]["cluster_id"] is None


def test_merging_an_item_with_itself_is_exit_2(demo: CliRunner) -> None:
    item = _singles(demo)[0]

    result = demo.invoke(main, ["clusters", "merge", str(item["id"]), str(item["url"])])

    assert result.exit_code == 2
    assert "are the same item" in result.stderr


def test_export_carries_rel_self_when_told_its_public_url(demo: CliRunner) -> None:
    import xml.etree.ElementTree as ET

    url = "https://news.example.org/ingestd/stories.atom"
    result = demo.invoke(main, ["export", "--public-url", url])

    assert result.exit_code == 0, result.output
    root = ET.fromstring(result.stdout_bytes)
    links = {link.get("rel"): link.get("href") for link in root.findall("{*}link")}
    assert links == {"self": url, "alternate": "https://news.example.org/ingestd/"}
    plain = ET.fromstring(demo.invoke(main, ["export"]).stdout_bytes)
    assert plain.findall("{*}link") == []
    wrong = demo.invoke(main, ["export", "--public-url", "stories.atom"])
    assert wrong.exit_code == 2 and "not an absolute http(s) URL" in wrong.stderr
