"""Attribution lines: who a text says it was first published by.

Finds lines such as "This article was originally published at www.example.com", "It first
appeared in The Example Times", "Republished with permission from Example News", "Read the full
article at example.com" or "This article is republished from The Conversation", and returns the
hosts and outlet names they credit, normalised by :func:`source_key` so they can be compared
with another item's host or site name.
"""

from __future__ import annotations

import re

_LEAD = (
    r"(?:originally|first)\s+(?:published|appeared|posted|ran)\s+(?:at|on|in|by|with)"
    r"|republished\s+(?:here\s+)?(?:with\s+permission\s+)?(?:from|by)"
    r"|reprinted\s+(?:with\s+permission\s+)?(?:from|by)"
    r"|reposted\s+(?:with\s+permission\s+)?(?:from|by)"
    r"|(?:published|appears)\s+(?:here\s+)?(?:courtesy\s+of|with\s+permission\s+(?:of|from))"
    r"|read\s+(?:the\s+)?(?:full|original|complete|whole|rest\s+of\s+the)\s+"
    r"(?:article|story|post|piece)(?:\s+here)?\s+(?:at|on|in)"
    r"|(?:article|story|piece|content)\s+(?:courtesy\s+of|via|source)\s*:?"
    r"|^\s*(?:via|source)\s*:"
)
_ATTRIBUTION = re.compile(
    rf"(?:{_LEAD})\s+(?P<source>[^\n]{{2,120}})", re.IGNORECASE | re.MULTILINE
)
# Every alternative of _LEAD contains one of these; a line without any cannot credit a source.
_TRIGGERS = (
    "originally",
    "first",
    "published",
    "reprinted",
    "reposted",
    "appears",
    "read",
    "courtesy",
    "via",
    "source",
)
_URL_OR_HOST = re.compile(
    r"(?:https?://)?(?P<host>(?:[a-z0-9-]+\.)+[a-z]{2,}(?::\d+)?)(?:/\S*)?", re.IGNORECASE
)
_NAME_END = re.compile(r"[.,;:!?()\[\]]|\s+(?:on|under|and|in|as|with|from)\s+", re.IGNORECASE)
_IP_ADDRESS = re.compile(r"^\d+(?:\.\d+){3}(?::\d+)?$")  # 1337kultur.de is a host, 10.0.0.1 not
_BY = re.compile(r"^[^.]{0,40}?\bby\s+", re.IGNORECASE)
_NON_WORD = re.compile(r"[^\w]+", re.UNICODE)
_LEADING_THE = re.compile(r"^(?:the|www)\s+", re.IGNORECASE)


def source_key(name_or_host: str) -> str:
    """A comparable key for a host ("www.Example.com" → "example.com") or an outlet name
    ("The Example Times" → "example times")."""
    text = name_or_host.strip().lower()
    host = _URL_OR_HOST.fullmatch(text)
    if host and "." in host.group("host"):
        value = host.group("host").split(":")[0]
        return value[4:] if value.startswith("www.") else value
    words = _NON_WORD.sub(" ", text).strip()
    return _LEADING_THE.sub("", words)


def credited_sources(
    text: str, last_paragraphs: int = 4, first_paragraphs: int = 2
) -> tuple[str, ...]:
    """Source keys credited by attribution lines near the start or end of ``text``."""
    lines = [line for line in text.splitlines() if line.strip()]
    window = lines[:first_paragraphs] + lines[-last_paragraphs:] if len(lines) > 6 else lines
    found: list[str] = []
    for line in window:
        lowered = line.lower()
        if not any(word in lowered for word in _TRIGGERS):
            continue  # the pattern cannot match: skip its many alternatives at every position
        for match in _ATTRIBUTION.finditer(line):
            key = _source_of(match.group("source"))
            if key and key not in found:
                found.append(key)
    return tuple(found)


def _source_of(fragment: str) -> str | None:
    """The host in the fragment if there is one, else the outlet name before punctuation."""
    host = _URL_OR_HOST.search(fragment)
    if host and "." in host.group("host") and not _IP_ADDRESS.match(host.group("host")):
        return source_key(host.group("host"))
    by = _BY.search(fragment)
    if by:  # "first published in 2019 by Example Press": the outlet follows "by"
        fragment = fragment[by.end() :]
    name = _NAME_END.split(fragment, maxsplit=1)[0].strip()
    words = name.split()
    if not words or len(words) > 6:
        return None
    return source_key(name) or None
