"""Reading a 2xx answer's body within ``max_bytes``, measured after decoding.

gzip and deflate are inflated here chunk by chunk, never beyond the bytes still allowed, so a
compression bomb costs no memory; a body announced (``Content-Length``) or found larger than
the limit is a PERMANENT failure, a corrupt one TRANSIENT.
"""

from __future__ import annotations

import zlib

import aiohttp
from yarl import URL

from ingestd.fetch.status import failed, header_dict
from ingestd.model import FailureKind, Fetched, FetchFailed, FetchResult, Validators

ACCEPT_ENCODING = "gzip, deflate"  # the codings Inflater decodes within max_bytes


class Inflater:
    """Decodes gzip or deflate chunk by chunk without producing more than asked for."""

    def __init__(self, coding: str) -> None:
        self._passthrough = coding not in ("gzip", "x-gzip", "deflate")
        self._raw_fallback = coding == "deflate"  # some servers send raw deflate, no zlib header
        self._zlib = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header

    def feed(self, data: bytes, max_out: int) -> bytes:
        """Decode ``data``; at most ``max_out`` bytes, truncated (input left over) if more."""
        if self._passthrough:
            return data[:max_out]
        try:
            out = self._zlib.decompress(data, max_out)
        except zlib.error:
            if not self._raw_fallback:
                raise
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._zlib.decompress(data, max_out)
        self._raw_fallback = False
        return out

    def flush(self) -> bytes:
        """Whatever output is still buffered at the end of the body."""
        return b"" if self._passthrough else self._zlib.flush()


async def read_limited(response: aiohttp.ClientResponse, coding: str, limit: int) -> bytes | None:
    """The decoded body, or None as soon as it is known to exceed ``limit`` bytes.

    Raises :class:`zlib.error` for a corrupt gzip/deflate body.
    """
    inflater = Inflater(coding)
    chunks: list[bytes] = []
    size = 0
    async for raw in response.content.iter_any():
        piece = inflater.feed(raw, limit - size + 1)
        size += len(piece)
        if size > limit:
            return None
        chunks.append(piece)
    tail = inflater.flush()
    if size + len(tail) > limit:
        return None
    chunks.append(tail)
    return b"".join(chunks)


async def read_body(url: URL, response: aiohttp.ClientResponse, limit: int) -> FetchResult:
    """The answer as :class:`~ingestd.model.Fetched`, failing as soon as it exceeds ``limit``
    decoded bytes."""
    status = response.status
    too_large = failed(str(url), f"body larger than {limit} bytes from {url}")
    coding = response.headers.get("content-encoding", "identity").strip().lower()
    length = response.headers.get("content-length", "")
    if coding == "identity" and length.isdigit() and int(length) > limit:
        return too_large
    try:
        body = await read_limited(response, coding, limit)
    except zlib.error:
        reason = f"undecodable {coding} body from {url}"
        return FetchFailed(str(url), FailureKind.TRANSIENT, reason, status)
    if body is None:
        return too_large
    headers = header_dict(response.headers)
    validators = Validators(headers.get("etag"), headers.get("last-modified"))
    return Fetched(str(url), status, body, headers.get("content-type"), validators, headers)
