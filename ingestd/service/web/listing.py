"""``/``: clusters most recently changed first, a page at a time, with filters.

The query is ``?feed=URL&site=HOST&signal=REASON&since=7d&after=CURSOR`` (each optional). The
cursor names the last cluster shown (``<change time in µs>.<id>``), so the next page starts
right after it whatever changed meanwhile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from ingestd.errors import UserError
from ingestd.feedout.export import parse_since
from ingestd.service.web.markup import Html, esc, join, local, page
from ingestd.service.web.parts import SIGNALS, item_link, signal_badges, when
from ingestd.store.clusterpages import Cursor, ListedCluster

PAGE_SIZE = 50  # clusters per page
FILTERS = ("feed", "site", "signal", "since")
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Asked:
    """What a request to ``/`` asks for, as typed (empty strings: not asked)."""

    feed: str = ""
    site: str = ""
    signal: str = ""
    since: str = ""
    after: str = ""

    @classmethod
    def from_query(cls, query: Mapping[str, list[str]]) -> Asked:
        """The first value of each known parameter, stripped."""
        values = {name: (query.get(name) or [""])[0].strip() for name in (*FILTERS, "after")}
        return cls(**values)

    def filters(self) -> dict[str, str]:
        """The filters asked for (for links that keep them)."""
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name)}


def since_time(asked: Asked, now: datetime) -> datetime | None:
    """The ``since`` filter as a time; UserError (a 400 page) when unreadable."""
    if not asked.since:
        return None
    try:
        return parse_since(asked.since, now)
    except UserError as exc:  # its words name the command line's option
        raise UserError(str(exc).replace("export: --since", "since", 1)) from None


def signal_value(asked: Asked) -> str | None:
    """The ``signal`` filter, checked against the link reasons; UserError otherwise."""
    if not asked.signal:
        return None
    if asked.signal not in SIGNALS:
        raise UserError(f"signal: expected one of {', '.join(SIGNALS)}, got {asked.signal!r}")
    return asked.signal


def parse_cursor(text: str) -> Cursor | None:
    """``<µs since 1970>.<cluster id>`` → a cursor; UserError when malformed."""
    if not text:
        return None
    micros, dot, cluster_id = text.partition(".")
    if not (dot and micros.isdigit() and cluster_id.isdigit()) or len(micros) > 18:
        raise UserError(f"after: expected a cursor from a 'next page' link, got {text!r}")
    return Cursor(_EPOCH + timedelta(microseconds=int(micros)), int(cluster_id))


def cursor_text(cursor: Cursor) -> str:
    """A cursor as the ``after`` parameter."""
    delta = cursor.updated_at - _EPOCH
    micros = (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
    return f"{micros}.{cursor.cluster_id}"


def render(asked: Asked, rows: list[ListedCluster], problem: str | None = None) -> bytes:
    """The page: the filter form, the clusters, and a link to the next page when full."""
    parts = [Html("<h1>Clusters, most recently changed first</h1>"), _form(asked)]
    if problem:
        parts.append(Html(f'<p class="problem" role="alert">{esc(problem)}</p>'))
    elif not rows:
        parts.append(Html("<p>No cluster matches.</p>"))
    else:
        parts.append(_table(rows))
    if len(rows) >= PAGE_SIZE:
        last = rows[-1].cluster
        params = {**asked.filters(), "after": cursor_text(Cursor(last.updated_at, last.id))}
        parts.append(Html(f'<p class="pager">{local("/", "Next page →", params)}</p>'))
    if asked.after:
        parts.append(Html(f'<p class="pager">{local("/", "← Newest", asked.filters())}</p>'))
    return page("Clusters", join(parts))


def _form(asked: Asked) -> Html:
    options = [Html('<option value="">any</option>')]
    for value, words in SIGNALS.items():
        chosen = " selected" if value == asked.signal else ""
        options.append(Html(f'<option value="{esc(value)}"{chosen}>{esc(words)}</option>'))
    fields = [
        _field("feed", "Feed URL", asked.feed, "https://example.com/feed.xml"),
        _field("site", "Site", asked.site, "example.com"),
        Html(f'<label>Signal <select name="signal">{join(options)}</select></label>'),
        _field("since", "Changed since", asked.since, "7d or 2026-11-01"),
    ]
    return Html(
        f'<form class="filters" method="get" action="/" role="search">{join(fields)}'
        '<button type="submit">Filter</button> <a href="/">Clear</a></form>'
    )


def _field(name: str, label: str, value: str, hint: str) -> Html:
    return Html(
        f'<label>{esc(label)} <input name="{name}" value="{esc(value)}" '
        f'placeholder="{esc(hint)}" autocomplete="off"></label>'
    )


def _table(rows: list[ListedCluster]) -> Html:
    body = join([_row(row) for row in rows])
    return Html(
        '<table class="clusters"><thead><tr><th>Cluster</th><th>Size</th><th>Canonical</th>'
        f"<th>Site</th><th>Signals</th><th>Changed</th></tr></thead><tbody>{body}</tbody></table>"
    )


def _row(row: ListedCluster) -> Html:
    cluster, head = row.cluster, row.canonical
    title = item_link(head) if head is not None else Html("<em>no canonical item</em>")
    site = esc(head.site_host) if head is not None else Html("")
    reason = Html(f'<span class="muted">canonical: {esc(cluster.canonical_reason)}</span>')
    return Html(
        f'<tr data-cluster="{cluster.id}">'
        f'<td><a data-nav href="/clusters/{cluster.id}">#{cluster.id}</a></td>'
        f"<td>{cluster.size}</td><td>{title}</td><td>{site}</td>"
        f"<td>{signal_badges(row.signals)} {reason}</td><td>{when(cluster.updated_at)}</td></tr>"
    )
