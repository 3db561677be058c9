"""A feed's own settings as stored: two JSON columns of ``feeds``.

``options`` holds what may be shown (user agent, page fetching, extraction mode, private
networks); ``request_headers`` holds the extra request headers apart, so that no listing or
log line that reads ``options`` can carry a cookie.
"""

from __future__ import annotations

import json
from typing import Any

from ingestd.model import FeedOptions


def option_columns(options: FeedOptions) -> dict[str, str | None]:
    """The ``options`` and ``request_headers`` column values of these settings (NULL when
    nothing is set)."""
    public = options.public()
    return {
        "options": json.dumps(public, sort_keys=True) if public else None,
        "request_headers": json.dumps([list(pair) for pair in options.headers])
        if options.headers
        else None,
    }


def options_from(options: str | None, request_headers: str | None) -> FeedOptions:
    """The settings stored in these two columns (unreadable JSON reads as nothing set)."""
    public = _load(options)
    headers = _load(request_headers)
    values: dict[str, Any] = public if isinstance(public, dict) else {}
    pairs = headers if isinstance(headers, list) else []
    return FeedOptions(
        user_agent=_text(values.get("user_agent")),
        fetch_pages=_flag(values.get("fetch_pages")),
        favor=_text(values.get("favor")),
        allow_private_networks=_flag(values.get("allow_private_networks")),
        headers=tuple(
            (str(pair[0]), str(pair[1]))
            for pair in pairs
            if isinstance(pair, list) and len(pair) == 2
        ),
    )


def _load(text: str | None) -> object:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _flag(value: object) -> bool | None:
    return value if isinstance(value, bool) else None
