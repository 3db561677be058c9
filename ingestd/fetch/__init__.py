"""The fetch stage (HTTP and ``file:``), in layers: :mod:`.client` (redirects, the address
guard), :mod:`.frontier` (politeness: which request goes next), :mod:`.transport` (aiohttp,
the proxy), :mod:`.body` (the body within its limit), :mod:`.status` (what an answer means),
:mod:`.files` (``file:`` URLs), :mod:`.netguard` (the addresses a feed may make us fetch).

The names below load on first use (PEP 562): importing the package costs nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ingestd.lazy import lazy_names

if TYPE_CHECKING:
    from ingestd.fetch.client import Fetcher
    from ingestd.fetch.frontier import HostTurns
    from ingestd.fetch.status import MAX_RETRY_AFTER_S, parse_retry_after

__all__ = ["MAX_RETRY_AFTER_S", "Fetcher", "HostTurns", "parse_retry_after"]
_HOMES = {
    "Fetcher": "ingestd.fetch.client",
    "HostTurns": "ingestd.fetch.frontier",
    "MAX_RETRY_AFTER_S": "ingestd.fetch.status",
    "parse_retry_after": "ingestd.fetch.status",
}

__getattr__ = lazy_names(__name__, _HOMES)
