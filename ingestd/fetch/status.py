"""What an answer means: a redirect, a 304, a failure of some class, or a body to read.

Pure functions over an aiohttp response's status and headers (the body is read by
:mod:`ingestd.fetch.body`), and the failure values for transport problems. Classes:

* 429, or 503 with a usable ``Retry-After``: RATE_LIMITED (with the wait, capped at 24 h);
* 5xx, 408, timeouts and connection problems: TRANSIENT;
* anything else (404, 410, 403, a refused address, a bad URL): PERMANENT.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
from yarl import URL

from ingestd.fetch import netguard
from ingestd.model import FailureKind, FetchFailed

MAX_RETRY_AFTER_S = 86_400.0  # Retry-After values are capped at 24 h
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


@dataclass(frozen=True)
class Redirect:
    """A hop answered with a redirect to ``location`` (absolute)."""

    location: URL
    permanent: bool  # 301 or 308
    cookies: tuple[tuple[str, str], ...] = ()  # what the redirect set (name, value)


def failed(url: str, reason: str, status: int | None = None) -> FetchFailed:
    """A PERMANENT failure."""
    return FetchFailed(url, FailureKind.PERMANENT, reason, status)


def redirect(url: URL, response: aiohttp.ClientResponse) -> Redirect | FetchFailed:
    """The absolute target of a redirect response."""
    status = response.status
    location = readable(response.headers.get("location", "")).strip()
    if not location:
        return failed(str(url), f"HTTP {status} without Location from {url}", status)
    try:
        target = url.join(parse_url(location))
    except ValueError:
        return failed(str(url), f"HTTP {status} with bad Location from {url}", status)
    cookies = tuple((name, morsel.value) for name, morsel in response.cookies.items())
    return Redirect(target, permanent=status in (301, 308), cookies=cookies)


def status_failure(url: str, response: aiohttp.ClientResponse) -> FetchFailed:
    """Classify a non-2xx, non-redirect, non-304 status (see the module's docstring)."""
    status = response.status
    reason = f"HTTP {status} from {url}"
    retry_after = parse_retry_after(response.headers.get("retry-after"))
    if status == 429 or (status == 503 and retry_after is not None):
        if retry_after is not None:
            reason += f" (retry in {retry_after:.0f} s)"
        return FetchFailed(url, FailureKind.RATE_LIMITED, reason, status, retry_after)
    if status >= 500 or status == 408:
        return FetchFailed(url, FailureKind.TRANSIENT, reason, status)
    return failed(url, reason, status)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After value (delta-seconds or HTTP-date), capped at 24 h.

    Past dates give 0, a missing or unreadable value None; ``now`` defaults to the UTC time.
    """
    text = (value or "").strip()
    if not text:
        return None
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - (now or datetime.now(UTC))).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


def parse_url(text: str) -> URL:
    """``text`` as a URL; ValueError if it cannot be one (a bad IPv6 literal or port), or if its
    host holds characters no host name has (spaces, controls), which yarl would pass on."""
    url = URL(text)
    host = url.raw_host
    if host is not None and (not host.isprintable() or " " in host):
        raise ValueError(f"invalid host {host!r}")
    return url


def header_dict(headers: Mapping[str, str]) -> dict[str, str]:
    """Response headers with lower-cased names, the values of a repeated header joined by ", ".

    A value that is not UTF-8 reads as ISO-8859-1 (aiohttp leaves such bytes as lone
    surrogates, which no database or log can encode)."""
    joined: dict[str, str] = {}
    for name, raw in headers.items():
        key = name.lower()
        value = readable(raw)
        joined[key] = f"{joined[key]}, {value}" if key in joined else value
    return joined


def readable(value: str) -> str:
    """A header value from aiohttp as text: bytes that were not UTF-8 (left as lone surrogates)
    read as ISO-8859-1."""
    if value.isascii() or not any("\udc80" <= char <= "\udcff" for char in value):
        return value
    return value.encode("utf-8", "surrogateescape").decode("latin-1")


def tunnel_failure(exc: aiohttp.ClientError) -> str | None:
    """Why a tunnelled https request through the proxy failed, if a plain proxy explains it.

    "refused": the proxy answered CONNECT with a 4xx other than 407, or 501. "broken": it hung
    up, or the TLS inside the tunnel failed. None: anything else (timeouts, 407, 502, no
    connection to the proxy at all, ...).
    """
    if isinstance(exc, aiohttp.ClientHttpProxyError):
        status = exc.status
        return "refused" if (400 <= status < 500 and status != 407) or status == 501 else None
    if isinstance(exc, aiohttp.ClientSSLError):
        return "broken"
    if isinstance(exc, aiohttp.ClientConnectorError | TimeoutError):
        return None
    if isinstance(exc, aiohttp.ServerDisconnectedError | aiohttp.ClientOSError):
        return "broken"
    return None


def transport_failure(
    url: str, exc: aiohttp.ClientError | OSError, timeout_s: float
) -> FetchFailed:
    """A TRANSIENT failure for a timeout, connection or proxy problem."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        reason = f"no connection within {timeout_s:g} s (timeout_s) to {url}"
    elif isinstance(exc, TimeoutError):
        reason = f"no data for {timeout_s:g} s (timeout_s) from {url}"
    elif isinstance(exc, aiohttp.ClientHttpProxyError):
        reason = f"proxy answered CONNECT with {exc.status} {exc.message} for {url}"
    else:
        reason = f"connection failed for {url}: {str(exc) or type(exc).__name__}"
    return FetchFailed(url, FailureKind.TRANSIENT, reason)


def connector_failure(url: URL, exc: aiohttp.ClientConnectorError, timeout_s: float) -> FetchFailed:
    """A refused address (PERMANENT), a name that does not resolve, or no connection."""
    cause = exc.os_error
    if isinstance(cause, netguard.ForbiddenAddressError):
        return failed(str(url), f"blocked private address {cause.address} for {url}")
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        reason = f"cannot resolve {url.raw_host} for {url}: {cause.strerror or cause}"
        return FetchFailed(str(url), FailureKind.TRANSIENT, reason)
    return transport_failure(str(url), exc, timeout_s)
