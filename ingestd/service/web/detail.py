"""``/items/ID`` (one item as stored) and ``/explain?a=&b=`` (the ``clusters explain``
verdict), and the page of a request that cannot be answered."""

from __future__ import annotations

from typing import Any

from ingestd.service.web.highlight import plain
from ingestd.service.web.markup import Html, esc, join, local, page
from ingestd.service.web.parts import facts, item_facts, item_link, similarity, text_block
from ingestd.store import ItemRecord


def item_page(item: ItemRecord, text: str, members: list[ItemRecord]) -> bytes:
    """An item: its facts and verdict, its text as stored, and its cluster's members."""
    rows = item_facts(item)
    rows += [
        ("words", esc(item.n_words)),
        ("text from", esc(_source(item))),
        ("GUID", esc(item.guid)),
        ("similarity", similarity(item)),
        ("linked by", esc(item.link_reason or item.match_reason)),
        ("split out", esc("yes, by an operator" if item.split else "")),
    ]
    if item.cluster_id is not None:
        rows.insert(0, ("cluster", local(f"/clusters/{item.cluster_id}", f"#{item.cluster_id}")))
    others = [m for m in members if m.id != item.id]
    listed = join([_member(m) for m in others])
    cluster = Html(f"<h2>Other copies</h2><ul>{listed}</ul>") if others else Html("")
    body = Html(
        f"<h1>{esc(item.title or f'item {item.id}')}</h1>"
        f'<article class="copy" data-item="{item.id}">{facts(rows)}'
        f"<h2>Text as stored</h2>{text_block(plain(text))}</article>{cluster}"
    )
    return page(item.title or f"item {item.id}", body)


def _source(item: ItemRecord) -> str:
    return f"{item.text_source} ({item.extract_note})" if item.extract_note else item.text_source


def _member(item: ItemRecord) -> Html:
    where = esc(f"{item.role}, {item.site_host or 'no site'}")
    return Html(f'<li>{item_link(item)} <span class="muted">{where}</span></li>')


def explain_page(a: str, b: str, found: dict[str, Any] | None, problem: str | None) -> bytes:
    """The form, and the verdict on the pair when one was asked for and found."""
    form = Html(
        '<form class="filters" method="get" action="/explain">'
        f'<label>Item A (id or URL) <input name="a" value="{esc(a)}" required></label>'
        f'<label>Item B (id or URL) <input name="b" value="{esc(b)}" required></label>'
        '<button type="submit">Explain</button></form>'
    )
    parts = [Html("<h1>Are these the same article?</h1>"), form]
    if problem:
        parts.append(Html(f'<p class="problem" role="alert">{esc(problem)}</p>'))
    elif found is not None:
        parts.append(_verdict(found))
    return page("Explain a pair", join(parts))


def _verdict(found: dict[str, Any]) -> Html:
    link = found.get("link") or {}
    stored = found.get("stored_link") or {}
    measures = [
        ("verdict by text", esc(found["text_verdict"])),
        ("why", esc(found["why"])),
        ("same cluster", esc("yes" if found["same_cluster"] else "no")),
        ("same site", esc("yes" if found["same_site"] else "no")),
        ("estimated Jaccard (MinHash)", esc(_number(found["estimated_jaccard"]))),
        ("Jaccard", esc(_number(found["jaccard"]))),
        ("A contained in B", esc(_number(found["containment_a_in_b"]))),
        ("B contained in A", esc(_number(found["containment_b_in_a"]))),
        ("narrative containment", esc(_number(found["narrative_containment"]))),
        ("shingles A / B / shared", esc("{a} / {b} / {shared}".format(**found["shingles"]))),
        ("thresholds", esc(", ".join(f"{k} {v}" for k, v in found["thresholds"].items()))),
        ("linking would decide", esc(_link_words(link))),
        ("the store holds", esc(_link_words(stored))),
    ]
    signals = join([Html(f"<li>{esc(s)}</li>") for s in found["signals"]])
    notes = join([Html(f"<li>item {esc(k)} {esc(v)}</li>") for k, v in found["notes"].items()])
    summary = esc(found["summary"])
    return Html(
        f'<section class="verdict" aria-label="verdict"><p class="summary">{summary}</p>'
        f'<div class="copies">{_brief("A", found["a"])}{_brief("B", found["b"])}</div>'
        f"{facts(measures)}<h2>Signals</h2><ul class='signals'>{signals or '<li>none</li>'}</ul>"
        f"{'<h2>Notes</h2><ul>' + notes + '</ul>' if notes else ''}</section>"
    )


def _brief(label: str, item: dict[str, Any]) -> Html:
    rows = [
        ("site", esc(item["site"])),
        ("words", esc(item["words"])),
        ("role", esc(item["role"])),
        ("quality", esc(f"{item['quality']} {item['quality_note'] or ''}".strip())),
    ]
    if item["cluster_id"] is not None:
        cluster_id = str(item["cluster_id"])
        rows.insert(0, ("cluster", local(f"/clusters/{cluster_id}", f"#{cluster_id}")))
    title = item["title"] or f"item {item['id']}"
    heading = local("/items/" + str(int(item["id"])), title)
    return Html(
        f'<article class="copy"><p class="muted">{label}</p>'
        f"<h2>{heading}</h2>{facts(rows)}</article>"
    )


def _number(value: object) -> str:
    return "n/a" if value is None else f"{value:.3f}" if isinstance(value, float) else str(value)


def _link_words(link: dict[str, Any]) -> str:
    if not link:
        return "no link"
    contained = f", {link['contained']} contained" if link.get("contained") else ""
    return f"{link['strength']} ({link['reason']}, {link['measure']} {link['score']}{contained})"


def problem_page(status_title: str, message: str) -> bytes:
    """A page that says why a request was not answered (404, 400)."""
    return page(status_title, Html(f"<h1>{esc(status_title)}</h1><p>{esc(message)}</p>"))
