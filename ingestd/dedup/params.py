"""The signature settings, apart from :mod:`ingestd.dedup.signature` so that the main process can
name them without importing numpy (it signs no text; the pool's workers do)."""

from __future__ import annotations

from dataclasses import dataclass

from ingestd.config import DedupSettings


@dataclass(frozen=True)
class SignatureParams:
    """The signature settings (a subset of ``[dedup]``, with its defaults)."""

    shingle_words: int = DedupSettings.shingle_words
    num_perm: int = DedupSettings.num_perm
    bands: int = DedupSettings.bands
    anchor_every: int = DedupSettings.anchor_every


def signature_params(settings: DedupSettings) -> SignatureParams:
    """The signature settings from the ``[dedup]`` settings."""
    return SignatureParams(
        settings.shingle_words, settings.num_perm, settings.bands, settings.anchor_every
    )
