"""Human output: rich tables for clusters and items, JSON Lines for machines.

Stored text (titles, URLs, sites, errors) is hostile: it reaches rich only as :class:`Text`
(never parsed as markup or emoji codes) and through :func:`ingestd.safetext.visible` (control
characters spelled out, never obeyed by the terminal).
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.table import Table
from rich.text import Text

from ingestd.safetext import json_line, visible_or_empty


def json_lines(objects: Iterable[dict[str, Any]]) -> None:
    """One JSON object per line on stdout (see :func:`ingestd.safetext.json_line`)."""
    for obj in objects:
        sys.stdout.write(json_line(obj) + "\n")


def _text(value: object, style: str = "") -> Text:
    """Stored ``value`` as plain text for rich: no markup, controls spelled out."""
    return Text(visible_or_empty(value), style=style)


PIPE_WIDTH = 160  # columns used when stdout is not a terminal (rich would assume 80)


def _console() -> Console:
    """A console as wide as the terminal, or ``PIPE_WIDTH`` when output is piped. Markup,
    emoji codes and highlighting are off: what it prints is data."""
    return Console(
        soft_wrap=False,
        width=None if sys.stdout.isatty() else PIPE_WIDTH,
        markup=False,
        emoji=False,
        highlight=False,
    )


def _when(value: str | None) -> str:
    return value[:16].replace("T", " ") if value else "-"


# How tables share the terminal: short values (ids, times, roles) never wrap; URLs are cut with
# an ellipsis (``--json`` has them whole); titles and errors wrap in the width left. Terminals
# narrower than ``NARROW`` columns get compact tables: the site under the title, a feed's name
# and last error under its URL.
NARROW = 110
Column = tuple[str, str]  # (header, kind): "short", "text" or "url"
Cell = Text | RenderableType


def _narrow(console: Console) -> bool:
    return console.width < NARROW


def _stacked(main: object, *notes: tuple[object, str], cut: bool = False) -> Cell:
    """``main`` (cut with an ellipsis when ``cut``) and styled notes on the lines below it;
    dim notes (sites, feeds) are cut too, others (errors) wrap."""
    first = _text(main)
    if cut:
        first.overflow, first.no_wrap = "ellipsis", True
    lines = [first]
    for note, style in notes:
        if note:
            line = _text(note, style)
            line.overflow, line.no_wrap = "ellipsis", style == "dim"
            lines.append(line)
    return Group(*lines) if len(lines) > 1 else lines[0]


def _table(title: str | None, columns: list[Column], rows: list[list[Cell]]) -> Table:
    """A table whose columns share the terminal's width as described above."""
    table = Table(title=title, expand=False)
    for index, (header, kind) in enumerate(columns):
        if kind == "short":
            cells = [cell.cell_len for row in rows if isinstance(cell := row[index], Text)]
            table.add_column(header, no_wrap=True, min_width=max([len(header), *cells]))
        elif kind == "url":
            table.add_column(header, overflow="ellipsis", max_width=60, min_width=12)
        else:
            table.add_column(header, overflow="fold", min_width=12)
    for row in rows:
        table.add_row(*row)
    return table


def clusters_table(clusters: list[dict[str, Any]]) -> None:
    """A table of clusters: id, size, canonical title and site, why it is canonical."""
    console = _console()
    if not clusters:
        console.print("No clusters yet: no story has been seen more than once.")
        return
    narrow = _narrow(console)
    rows: list[list[Cell]] = []
    for c in clusters:
        canon = c["canonical"]
        title, site = canon["title"] or canon["url"] or "", canon["site"] or ""
        first = [_stacked(title, (site, "dim"))] if narrow else [_text(title), _text(site)]
        rows.append(
            [
                _text(c["id"]),
                _text(c["size"]),
                *first,
                _text(_when(canon["published"])),
                _text(c["canonical_reason"]),
            ]
        )
    columns: list[Column] = [("id", "short"), ("size", "short"), ("canonical item", "text")]
    columns += [] if narrow else [("site", "url")]
    columns += [("published", "short"), ("why canonical", "short")]
    console.print(_table(plural(len(clusters), "cluster"), columns, rows))


def cluster_detail(cluster: dict[str, Any]) -> None:
    """The canonical item and every republication with similarity and reason."""
    console = _console()
    canon = cluster["canonical"]
    console.print(
        Text.assemble(("Cluster " + str(cluster["id"]), "bold"), f": {cluster['size']} items")
    )
    console.print(Text.assemble("Canonical: ", _text(canon["title"], "bold")))
    console.print(
        Text.assemble(
            "  ",
            _text(canon["url"]),
            "  (feed ",
            _text(canon["feed_url"]),
            f", published {_when(canon['published'])})",
        )
    )
    console.print(
        Text.assemble(
            "  chosen because: ",
            _text(cluster["canonical_reason"]),
            ": ",
            _text(cluster["canonical_evidence"]),
        )
    )
    narrow = _narrow(console)
    rows: list[list[Cell]] = []
    for rep in cluster["republications"]:
        url, feed = rep["url"] or "", rep["feed_url"]
        first = (
            [_stacked(url, (f"feed {feed}", "dim"), cut=True)]
            if narrow
            else [_text(url), _text(feed)]
        )
        rows.append(
            [
                _text(rep["id"]),
                *first,
                _text(_when(rep["published"])),
                _text(_similarity(rep)),
                _text(rep["reason"]),
            ]
        )
    columns: list[Column] = [("item", "short"), ("url", "url")]
    columns += [] if narrow else [("feed", "url")]
    columns += [("published", "short"), ("similarity", "short"), ("reason", "short")]
    console.print(_table("Republications", columns, rows))


def _similarity(rep: dict[str, Any]) -> str:
    if rep["similarity"] is None:
        return "-"
    return f"{rep['similarity']:.2f} {rep['similarity_measure'] or ''}".strip()


def items_table(items: list[dict[str, Any]]) -> None:
    """A table of items."""
    console = _console()
    if not items:
        console.print("No items stored yet.")
        return
    narrow = _narrow(console)
    rows: list[list[Cell]] = []
    for item in items:
        title, site = item["title"] or item["url"] or "", item["site"] or ""
        first = [_stacked(title, (site, "dim"))] if narrow else [_text(title), _text(site)]
        cluster = item["cluster_id"] or "-"
        rows.append(
            [
                _text(item["id"]),
                *first,
                _text(_when(item["published"])),
                _text(item["role"]),
                _text(cluster),
            ]
        )
    columns: list[Column] = [("id", "short"), ("title", "text")]
    columns += [] if narrow else [("site", "url")]
    columns += [("published", "short"), ("role", "short"), ("cluster", "short")]
    console.print(_table(plural(len(items), "item"), columns, rows))


TABLE_FEEDS = 500  # rows of a feeds table (a terminal is no place for 100,000; --json has all)


def feeds_table(feeds: list[dict[str, Any]], total: int | None = None) -> None:
    """A table of feeds: URL, name, folder, source, status (``removed`` for a removed feed),
    last and next poll, consecutive failures, items stored and the last error. The first
    :data:`TABLE_FEEDS` only, saying so, when there are more (``total``: how many in all)."""
    total = len(feeds) if total is None else total
    console = _console()
    if not feeds:
        console.print("No feeds: add [[feeds]] to the configuration file or `ingest feeds add`.")
        return
    narrow = _narrow(console)
    rows: list[list[Cell]] = []
    for feed in feeds[:TABLE_FEEDS]:
        name, error = feed["name"] or feed["title"] or "", feed["last_error"] or ""
        status = feed["status"] if feed["active"] else "removed"
        when = _when(feed["next_poll"]) if feed["next_poll"] else "due"
        short = [_text(feed["source"]), _text(status), _text(_when(feed["last_polled"]))]
        short += [_text(when), _text(str(feed["failures"])), _text(str(feed["items"] or 0))]
        if narrow:
            cell = _stacked(feed["url"], (name, "dim"), (error, "red"), cut=True)
            rows.append([cell, *short])
        else:
            folder = _text(feed.get("folder") or "")
            rows.append([_text(feed["url"]), _text(name), folder, *short, _text(error)])
    columns: list[Column] = [("feed" if narrow else "url", "url")]
    columns += [] if narrow else [("name", "text"), ("folder", "text")]
    columns += [("source", "short"), ("status", "short"), ("last poll", "short")]
    columns += [("next poll", "short"), ("failures", "short"), ("items", "short")]
    columns += [] if narrow else [("last error", "text")]
    title = plural(total, "feed")
    if total > TABLE_FEEDS:
        title += f" (the first {TABLE_FEEDS} shown: --json lists all, --folder narrows)"
    console.print(_table(title, columns, rows))


def plural(n: int, one: str, many: str | None = None) -> str:
    """``"1 cluster"``, ``"2 clusters"``."""
    return f"{n} {one if n == 1 else many or one + 's'}"


def eval_report(
    scores: dict[str, Any], wrong: list[dict[str, Any]], verdicts: list[dict[str, Any]]
) -> None:
    """The scores of ``ingest eval``, the pairs it got wrong with reasons, and the articles
    whose text was judged not to be an article."""
    console = _console()
    console.print(
        f"pairwise precision {scores['precision']:.3f}  recall {scores['recall']:.3f}  "
        f"F1 {scores['f1']:.3f}  ARI {scores['ari']:.3f}  "
        f"({scores['correct_pairs']} of {scores['true_pairs']} true pairs found, "
        f"{scores['predicted_pairs']} pairs predicted)"
    )
    for pair in wrong:
        console.print(
            _text(
                f"{pair['kind']}: {pair['a']} ~ {pair['b']}  Jaccard {pair['jaccard']:.2f}, "
                f"containment {pair['containment_a']:.2f}/{pair['containment_b']:.2f}; "
                f"direct verdict: {pair['direct_verdict']} ({pair['why']})"
            )
        )
    kinds = Counter(v["quality"] for v in verdicts)
    console.print("text verdicts: " + ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items())))
    for found in verdicts:
        if found["quality"] != "article":
            console.print(_text(f"  {found['id']}: {found['note']}"))


def _link_words(link: dict[str, Any] | None) -> str:
    """A link of ``clusters explain`` in a few words."""
    if link is None:
        return "none"
    contained = f", {link['contained'].upper()} contained" if link["contained"] else ""
    return (
        f"{link['strength']} ({link['reason']}, {link['measure']} {link['score']:.2f}{contained})"
    )


def explanation(found: dict[str, Any]) -> None:
    """``clusters explain`` in words, then the numbers."""
    console = _console()
    for side in ("a", "b"):
        item = found[side]
        console.print(
            Text.assemble(
                (side.upper(), "bold"), f" item {item['id']}: ", _text(item["title"] or "-")
            )
        )
        console.print(
            Text.assemble(
                "   ",
                _text(item["url"]),
                "  (",
                _text(item["site"] or "-"),
                f", {item['words']} words, {item['role']})",
            )
        )
        console.print(_text(f"   text: {item['quality_note'] or item['quality']}"))
    console.print()
    console.print(_text(found["summary"]))
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
        ("link now", _link_words(found["link"])),
        ("link stored", _link_words(found["stored_link"])),
        ("shingles A / B / shared", "{a} / {b} / {shared}".format(**found["shingles"])),
    ]
    table = Table(show_header=False, expand=False)
    table.add_column("measure")
    table.add_column("value")
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
