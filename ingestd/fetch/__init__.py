"""The fetch stage (HTTP and ``file:``), in layers: :mod:`.client` (redirects, the address
guard), :mod:`.frontier` (politeness: which request goes next), :mod:`.transport` (aiohttp,
the proxy), :mod:`.body` (the body within its limit), :mod:`.status` (what an answer means),
:mod:`.files` (``file:`` URLs)."""

from __future__ import annotations

from ingestd.fetch.client import Fetcher
from ingestd.fetch.frontier import HostTurns
from ingestd.fetch.status import MAX_RETRY_AFTER_S, parse_retry_after

__all__ = ["MAX_RETRY_AFTER_S", "Fetcher", "HostTurns", "parse_retry_after"]
