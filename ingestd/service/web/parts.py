"""Pieces several pages share: times, an item's facts, laid-out text, signal badges."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ingestd.service.web.highlight import Compared, Paragraph
from ingestd.service.web.markup import Html, esc, join, link, local
from ingestd.store import ItemRecord

# How a member was linked, in words (ingestd.model.Reason values).
SIGNALS = {
    "url": "same URL",
    "guid": "same GUID",
    "body_hash": "identical text",
    "canonical_link": "canonical link",
    "attribution": "attribution line",
    "minhash": "similar text",
}
_RUN_TAGS = {"shared": ("mark", "shared"), "added": ("ins", "added")}


def when(moment: datetime | None) -> Html:
    """A ``<time>`` element (UTC, to the minute); empty for None."""
    if moment is None:
        return Html("")
    iso = moment.isoformat(timespec="seconds")
    return Html(f'<time datetime="{esc(iso)}">{esc(moment.strftime("%Y-%m-%d %H:%M"))} UTC</time>')


def item_link(item: ItemRecord) -> Html:
    """The item's title linking to its page (``item N`` when it has no title)."""
    return local(f"/items/{item.id}", item.title.strip() or f"item {item.id}")


def signal_badges(signals: dict[str, int] | Iterable[str]) -> Html:
    """One badge per link reason (with a count when given a mapping)."""
    counted = signals if isinstance(signals, dict) else dict.fromkeys(signals, 0)
    badges = [
        Html(
            f'<span class="badge" data-signal="{esc(reason)}">{esc(SIGNALS.get(reason, reason))}'
            f"{f' ×{count}' if count > 1 else ''}</span>"
        )
        for reason, count in sorted(counted.items())
    ]
    return join(badges, " ")


def facts(rows: list[tuple[str, Html]]) -> Html:
    """A ``<dl>`` of label → value, leaving out empty values."""
    shown = [Html(f"<dt>{esc(label)}</dt><dd>{value}</dd>") for label, value in rows if value]
    return Html(f'<dl class="meta">{join(shown)}</dl>')


def item_facts(item: ItemRecord, role: bool = True) -> list[tuple[str, Html]]:
    """The facts every page shows about an item."""
    rows: list[tuple[str, Html]] = [
        ("site", esc(item.site_name or item.site_host)),
        ("published", when(item.published_at)),
        ("fetched", when(item.fetched_at)),
        ("feed", link(item.feed_url)),
        ("page", link(item.url)),
        ("quality", _quality(item)),
    ]
    if role:
        rows.insert(1, ("role", esc(item.role)))
    return rows


def _quality(item: ItemRecord) -> Html:
    note = f" ({item.quality_note})" if item.quality_note else ""
    return esc(f"{item.quality}{note}")


def similarity(item: ItemRecord) -> Html:
    """``0.93 (jaccard)``; empty when not measured."""
    if item.similarity is None:
        return Html("")
    measure = f" ({item.similarity_measure})" if item.similarity_measure else ""
    return esc(f"{item.similarity:.2f}{measure}")


def text_block(laid_out: Compared) -> Html:
    """The laid-out text: shared runs in ``<mark>``, additions in ``<ins>``, attribution lines
    outlined with what they credit."""
    return Html(f'<div class="text">{join([_paragraph(p) for p in laid_out.paragraphs])}</div>')


def _paragraph(paragraph: Paragraph) -> Html:
    parts = []
    for run in paragraph.runs:
        tag = _RUN_TAGS.get(run.kind)
        text = esc(run.text)
        parts.append(Html(f'<{tag[0]} class="{tag[1]}">{text}</{tag[0]}>') if tag else text)
    if paragraph.credits:
        credited = esc(", ".join(paragraph.credits))
        return Html(f'<p class="evidence" title="credits {credited}">{join(parts)}</p>')
    return Html(f"<p>{join(parts)}</p>")
