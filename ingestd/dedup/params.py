"""The signature settings, apart from :mod:`ingestd.dedup.signature` so that the main process can
name them without importing numpy (it signs no text; the pool's workers do)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SignatureParams:
    """The signature settings (a subset of ``[dedup]``)."""

    shingle_words: int = 5
    num_perm: int = 128
    bands: int = 32
    anchor_every: int = 16
