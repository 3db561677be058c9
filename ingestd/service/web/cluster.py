"""``/clusters/ID``: the canonical item and every republication side by side.

Each copy shows its title, site, time, role, the reason it was linked and its similarity to
the canonical item; its text with the passages it shares with the canonical highlighted and
what it adds marked, then what it drops. The evidence that decided the canonical item (an
attribution line, a declared canonical link, else the earliest publication or the longest text)
is shown in place: attribution lines are outlined in the copy that wrote them, a declared
canonical link in the facts of the copy that declared it. ``?from=N`` pages through a very
large cluster, ``COPIES_PER_PAGE`` copies at a time.
"""

from __future__ import annotations

import json
from typing import Any

from ingestd.service.web.highlight import Compared, compare, plain
from ingestd.service.web.markup import Html, esc, join, link, local, page
from ingestd.service.web.parts import (
    SIGNALS,
    facts,
    item_facts,
    item_link,
    signal_badges,
    similarity,
    text_block,
    when,
)
from ingestd.store import ClusterRecord, ItemRecord

COPIES_PER_PAGE = 40  # republications laid out per page (a story can have hundreds)


def canonical_of(cluster: ClusterRecord, members: list[ItemRecord]) -> ItemRecord:
    """The canonical member (the first one when the row names none present)."""
    return next((m for m in members if m.id == cluster.canonical_item_id), members[0])


def render(
    cluster: ClusterRecord, members: list[ItemRecord], texts: dict[int, str], start: int = 0
) -> bytes:
    """The page of a cluster with at least one member."""
    head = canonical_of(cluster, members)
    copies = sorted((m for m in members if m.id != head.id), key=lambda m: (m.when, m.id))
    shown = copies[start : start + COPIES_PER_PAGE]
    canonical_text = texts.get(head.id, "")
    panels = [_panel(head, plain(canonical_text), None, head)]
    for item in shown:
        laid = compare(canonical_text, texts.get(item.id, ""))
        panels.append(_panel(item, laid, _drops(laid), head))
    body = [
        Html(f"<h1>Cluster {cluster.id}: {esc(head.title or f'item {head.id}')}</h1>"),
        _evidence(cluster, len(members)),
        Html(
            '<p class="legend"><mark class="shared">shared with the canonical</mark>'
            '<ins class="added">added by this copy</ins><del class="dropped">dropped</del>'
            '<span class="muted">j / k: next / previous copy</span></p>'
        ),
        Html(f'<div class="copies">{join(panels)}</div>'),
        _pager(cluster.id, start, len(copies)),
    ]
    return page(f"Cluster {cluster.id}", join(body))


def _evidence(cluster: ClusterRecord, size: int) -> Html:
    """Why this canonical item: the reason, the evidence in words, and the explicit signals."""
    found = _parsed(cluster.evidence)
    signals = found.get("signals")
    signals = signals if isinstance(signals, list) else []
    listed = [
        _signal(s)
        for s in signals
        if isinstance(s, dict) and str(s.get("from", "")).isdigit() and str(s.get("to")).isdigit()
    ]
    rows = [
        ("copies", esc(size)),
        ("canonical chosen by", esc(cluster.canonical_reason)),
        ("because", esc(found.get("evidence", ""))),
        ("pinned", esc("yes, by an operator" if cluster.pinned_item_id else "")),
        ("changed", when(cluster.updated_at)),
    ]
    signal_list = Html(f'<ul class="signals">{join(listed)}</ul>') if listed else Html("")
    return Html(f'<section class="why" aria-label="evidence">{facts(rows)}{signal_list}</section>')


def _signal(found: dict[str, Any]) -> Html:
    """One explicit signal: its kind, the item that gave it, the item it names, in words."""
    voter, target = str(found["from"]), str(found["to"])
    return Html(
        f"<li>{signal_badges([str(found.get('kind', ''))])} item "
        f"{local('/items/' + voter, voter)} → item {local('/items/' + target, target)}: "
        f"{esc(found.get('evidence', ''))}</li>"
    )


def _parsed(raw: str) -> dict[str, Any]:
    try:
        value = json.loads(raw) if raw else {}
    except json.JSONDecodeError:
        return {"evidence": raw}
    return value if isinstance(value, dict) else {}


def _panel(item: ItemRecord, laid: Compared, drops: Html | None, head: ItemRecord) -> Html:
    canonical = item.id == head.id
    rows = item_facts(item)
    if not canonical:
        reason = item.link_reason or item.match_reason or ""
        rows[2:2] = [
            ("linked by", signal_badges([reason]) if reason in SIGNALS else esc(reason)),
            ("similarity", similarity(item)),
            ("shares", esc(_share(laid))),
        ]
    if item.canonical_url and item.canonical_url != item.url:
        marked = ' class="evidence"' if item.link_reason == "canonical_link" else ""
        rows.append(
            ("declares canonical", Html(f"<span{marked}>{link(item.canonical_url)}</span>"))
        )
    explain = (
        Html("")
        if canonical
        else Html(
            f"<p>{local('/explain', 'Why is this a copy?', {'a': str(head.id), 'b': str(item.id)})}"
            "</p>"
        )
    )
    kind = "copy canonical" if canonical else "copy"
    label = "canonical" if canonical else "republication"
    return Html(
        f'<article class="{kind}" id="item-{item.id}" data-item="{item.id}" tabindex="0" '
        f'data-nav aria-label="{label} {item.id}"><p class="muted">{esc(label)}</p>'
        f"<h2>{item_link(item)}</h2>{facts(rows)}{explain}{text_block(laid)}"
        f"{drops or ''}</article>"
    )


def _share(laid: Compared) -> str:
    if not laid.words:
        return "no text stored"
    return (
        f"{laid.shared_words} of {laid.words} words shared; "
        f"{laid.words - laid.shared_words} added, {laid.dropped_words} dropped"
    )


def _drops(laid: Compared) -> Html:
    if not laid.dropped:
        return Html('<p class="muted">Drops nothing of the canonical text.</p>')
    items = join([Html(f'<li><del class="dropped">{esc(p)}</del></li>') for p in laid.dropped])
    return Html(
        f'<details class="drops" open><summary>Dropped from the canonical '
        f"({laid.dropped_words} words)</summary><ul>{items}</ul></details>"
    )


def _pager(cluster_id: int, start: int, total: int) -> Html:
    links = []
    if start > 0:
        back = max(0, start - COPIES_PER_PAGE)
        links.append(local(f"/clusters/{cluster_id}", "← previous copies", {"from": str(back)}))
    if start + COPIES_PER_PAGE < total:
        ahead = str(start + COPIES_PER_PAGE)
        links.append(local(f"/clusters/{cluster_id}", "more copies →", {"from": ahead}))
    if not links:
        return Html("")
    shown = f"copies {start + 1}-{min(total, start + COPIES_PER_PAGE)} of {total}"
    return Html(f'<p class="pager">{esc(shown)} {join(links, " ")}</p>')
