"""What differs between two configurations, in words (logged when SIGHUP reloads one)."""

from __future__ import annotations

from dataclasses import fields, is_dataclass
from typing import Any

from ingestd.config import FeedConfig, Settings

SECTIONS = ("http", "dedup", "schedule", "extract", "service", "metrics", "web", "retention")
SECRETS = {"password_hash"}  # said to have changed, never shown


def describe_changes(old: Settings, new: Settings) -> list[str]:
    """One line per difference: ``feed added: URL``, ``http.timeout_s: 20.0 → 30.0``, ..."""
    lines: list[str] = []
    if old.database_url != new.database_url:
        lines.append(f"database.url: {_safe(old.database_url)} → {_safe(new.database_url)}")
    for name in SECTIONS:
        before, after = getattr(old, name), getattr(new, name)
        if before == after or not is_dataclass(before):
            continue
        for item in fields(before):
            was, now = getattr(before, item.name), getattr(after, item.name)
            if was != now and item.name in SECRETS:
                lines.append(f"{name}.{item.name}: changed")
            elif was != now:
                lines.append(f"{name}.{item.name}: {was!r} → {now!r}")
    lines += _feed_changes(old.feeds, new.feeds)
    return lines


def _feed_changes(old: tuple[FeedConfig, ...], new: tuple[FeedConfig, ...]) -> list[str]:
    before = {feed.url: feed for feed in old}
    after = {feed.url: feed for feed in new}
    lines = [f"feed added: {url}" for url in after if url not in before]
    lines += [f"feed removed: {url}" for url in before if url not in after]
    for url, feed in after.items():
        if url in before and before[url] != feed:
            lines.append(f"feed changed: {url} ({_feed_diff(before[url], feed)})")
    return lines


def _feed_diff(old: FeedConfig, new: FeedConfig) -> str:
    parts: list[str] = []
    for item in fields(old):
        was: Any = getattr(old, item.name)
        now: Any = getattr(new, item.name)
        if was != now and not item.repr:  # request headers (cookies): never written out
            parts.append(f"{item.name}: changed")
        elif was != now:
            parts.append(f"{item.name}: {was!r} → {now!r}")
    return ", ".join(parts)


def _safe(url: str) -> str:
    from ingestd.store.engine import display_url

    return display_url(url)
