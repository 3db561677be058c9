"""HTTP caching for the served feeds: validators, conditional requests and compression.

A feed reader polls ``/feed.atom`` every few minutes; most polls find nothing new. Each answer
carries an ``ETag`` (a hash of the document) and, when the feed has stories, a
``Last-Modified`` (its newest story's update), so the next poll can ask ``If-None-Match`` /
``If-Modified-Since`` and get a bodyless ``304``; ``Cache-Control: max-age`` lets readers and
caches skip polls meanwhile. A body is gzipped when the request accepts gzip (the ETag then
names the gzipped form; either form's ETag matches a later request).
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime

from ingestd.service.listener import Response

FEED_MAX_AGE_S = 300  # how long a reader may use a served feed without asking again
GZIP_MIN_BYTES = 1024  # smaller bodies are sent as they are


def conditional(
    headers: Mapping[str, str],
    body: bytes,
    updated: datetime | None,
    content_type: str,
    max_age_s: int = FEED_MAX_AGE_S,
) -> Response:
    """The answer to a GET whose document is ``body`` (last changed at ``updated``), given the
    request's ``headers`` (names lower-cased): 304 when the client's copy is current, else 200
    with ``body``, gzipped when the client accepts it."""
    tag = hashlib.blake2b(body, digest_size=12).hexdigest()
    zipped = _accepts_gzip(headers.get("accept-encoding", "")) and len(body) >= GZIP_MIN_BYTES
    etag = f'"{tag}-gz"' if zipped else f'"{tag}"'
    common = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={max_age_s}",
        "Vary": "Accept-Encoding",
    }
    if updated is not None:
        common["Last-Modified"] = email.utils.format_datetime(
            updated.astimezone(UTC).replace(microsecond=0), usegmt=True
        )
    if _fresh(headers, tag, updated):
        return Response(304, b"", content_type, common)
    if zipped:
        return Response(200, gzip.compress(body, mtime=0), content_type, common | _GZIP)
    return Response(200, body, content_type, common)


_GZIP = {"Content-Encoding": "gzip"}


def _fresh(headers: Mapping[str, str], tag: str, updated: datetime | None) -> bool:
    """Whether the client's copy is current: ``If-None-Match`` names this document (in either
    form), else (without it) ``If-Modified-Since`` is no older than ``updated``."""
    if "if-none-match" in headers:
        offered = {t.strip().removeprefix("W/") for t in headers["if-none-match"].split(",")}
        return "*" in offered or bool(offered & {f'"{tag}"', f'"{tag}-gz"'})
    since = headers.get("if-modified-since")
    if since is None or updated is None:
        return False
    try:
        when = email.utils.parsedate_to_datetime(since)
    except (TypeError, ValueError):
        return False
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return updated.replace(microsecond=0) <= when


def _accepts_gzip(accept_encoding: str) -> bool:
    """Whether ``Accept-Encoding`` allows gzip (listed without ``q=0``)."""
    for part in accept_encoding.lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "x-gzip", "*"):
            q = params.strip().removeprefix("q=")
            return not (params.strip().startswith("q=") and _zero(q))
    return False


def _zero(q: str) -> bool:
    try:
        return float(q) == 0
    except ValueError:
        return False
