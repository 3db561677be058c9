"""Human output: rich tables for clusters and items, JSON Lines for machines."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable
from typing import Any

from rich.console import Console
from rich.table import Table


def json_lines(objects: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line on stdout."""
    for obj in objects:
        sys.stdout.write(json.dumps(obj, ensure_ascii=False) + "\n")


PIPE_WIDTH = 160  # columns used when stdout is not a terminal (rich would assume 80)


def _console() -> Console:
    """A console as wide as the terminal, or ``PIPE_WIDTH`` when output is piped."""
    return Console(soft_wrap=False, width=None if sys.stdout.isatty() else PIPE_WIDTH)


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "-"


def clusters_table(clusters: list[dict[str, Any]]) -> None:
    """A table of clusters: id, size, canonical title and site, why it is canonical."""
    console = _console()
    if not clusters:
        console.print("No clusters yet: no story has been seen more than once.")
        return
    table = Table(title=f"{len(clusters)} clusters", expand=False)
    for name in ("id", "size", "canonical item", "site", "published", "why canonical"):
        table.add_column(name, overflow="fold")
    for c in clusters:
        canon = c["canonical"]
        table.add_row(
            str(c["id"]),
            str(c["size"]),
            canon["title"] or canon["url"] or "",
            canon["site"] or "",
            _when(canon["published"]),
            c["canonical_reason"],
        )
    console.print(table)


def cluster_detail(cluster: dict[str, Any]) -> None:
    """The canonical item and every republication with similarity and reason."""
    console = _console()
    canon = cluster["canonical"]
    console.print(f"[bold]Cluster {cluster['id']}[/bold]: {cluster['size']} items")
    console.print(f"Canonical: [bold]{canon['title']}[/bold]")
    console.print(
        f"  {canon['url']}  (feed {canon['feed_url']}, published {_when(canon['published'])})"
    )
    console.print(
        f"  chosen because: {cluster['canonical_reason']}: {cluster['canonical_evidence']}"
    )
    table = Table(title="Republications", expand=False)
    for name in ("item", "url", "feed", "published", "similarity", "reason"):
        table.add_column(name, overflow="fold")
    for rep in cluster["republications"]:
        similarity = (
            f"{rep['similarity']:.2f} {rep['similarity_measure'] or ''}"
            if rep["similarity"] is not None
            else "-"
        )
        table.add_row(
            str(rep["id"]),
            rep["url"] or "",
            rep["feed_url"],
            _when(rep["published"]),
            similarity,
            rep["reason"] or "",
        )
    console.print(table)


def items_table(items: list[dict[str, Any]]) -> None:
    """A table of items."""
    console = _console()
    if not items:
        console.print("No items stored yet.")
        return
    table = Table(title=f"{len(items)} items", expand=False)
    for name in ("id", "title", "site", "published", "role", "cluster"):
        table.add_column(name, overflow="fold")
    for item in items:
        table.add_row(
            str(item["id"]),
            item["title"] or item["url"] or "",
            item["site"] or "",
            _when(item["published"]),
            item["role"],
            str(item["cluster_id"] or "-"),
        )
    console.print(table)


def eval_report(scores: dict[str, Any], wrong: list[dict[str, Any]]) -> None:
    """The scores of ``ingest eval`` and the pairs it got wrong, with reasons."""
    console = _console()
    console.print(
        f"pairwise precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  "
        f"F1 {scores['f1']:.3f}  ARI {scores['ari']:.3f}  "
        f"({scores['correct_pairs']} of {scores['true_pairs']} true pairs found, "
        f"{scores['predicted_pairs']} pairs predicted)"
    )
    for pair in wrong:
        console.print(
            f"{pair['kind']}: {pair['a']} ~ {pair['b']}  Jaccard {pair['jaccard']:.2f}, "
            f"containment {pair['containment_a']:.2f}/{pair['containment_b']:.2f}; "
            f"direct verdict: {pair['direct_verdict']} ({pair['why']})"
        )


def explanation(found: dict[str, Any]) -> None:
    """``clusters explain`` in words, then the numbers."""
    console = _console()
    for side in ("a", "b"):
        item = found[side]
        console.print(f"[bold]{side.upper()}[/bold] item {item['id']}: {item['title'] or '-'}")
        console.print(
            f"   {item['url']}  ({item['site'] or '-'}, {item['words']} words, {item['role']})"
        )
    console.print()
    console.print(found["summary"])
    console.print()
    estimate = found["estimated_jaccard"]
    limits = found["thresholds"]
    rows = [
        ("MinHash estimate of Jaccard", "-" if estimate is None else f"{estimate:.2f}"),
        ("exact Jaccard", f"{found['jaccard']:.2f} (copy at ≥ {limits['jaccard']:.2f})"),
        ("share of A found in B", f"{found['containment_a_in_b']:.2f}"),
        ("share of B found in A", f"{found['containment_b_in_a']:.2f}"),
        (
            "containment of the shorter, outside quotations",
            f"{found['narrative_containment']:.2f} (needs ≥ {limits['narrative_containment']:.2f})",
        ),
        ("containment threshold", f"{limits['containment']:.2f}"),
        ("shingles A / B / shared", "{a} / {b} / {shared}".format(**found["shingles"])),
    ]
    table = Table(show_header=False, expand=False)
    table.add_column("measure")
    table.add_column("value")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
