"""Dedup keys as integers: a kind tag above bit 40, a 40-bit value below it.

* tag 0: an excerpt anchor, a sampled shingle hash (32 bits);
* tag 1: a paragraph opening's hash (32 bits);
* tag 2 + b: LSH band b, the first 40 bits (5 bytes, big-endian) of the band's digest.

With up to 126 bands every key is below 2**47, which SQLite stores in 6 bytes: the key index of
a million items (~45 million rows) is a third of the size the same keys took as text, and no
key is formatted or parsed on the hot path. This module imports nothing heavy: the main process
reads keys' kinds with it.
"""

from __future__ import annotations

VALUE_BITS = 40
VALUE_MASK = (1 << VALUE_BITS) - 1
ANCHOR_TAG = 0
PARAGRAPH_TAG = 1
FIRST_BAND_TAG = 2
MAX_BANDS = 126  # tags up to 127: keys stay below 2**47


def anchor_key(value: int) -> int:
    """The key of a sampled shingle hash (a 32-bit value): the value itself."""
    return value & VALUE_MASK


def paragraph_key(value: int) -> int:
    """The key of a paragraph opening's 32-bit hash."""
    return (PARAGRAPH_TAG << VALUE_BITS) | (value & VALUE_MASK)


def band_key(band: int, digest: bytes) -> int:
    """The key of LSH band ``band`` (0-based) from its digest (the first 5 bytes are used)."""
    if not 0 <= band < MAX_BANDS:
        raise ValueError(f"band {band} outside 0..{MAX_BANDS - 1}")
    return ((FIRST_BAND_TAG + band) << VALUE_BITS) | int.from_bytes(digest[:5], "big")


def key_kind(key: int) -> str:
    """``"a"`` (anchor), ``"p"`` (paragraph opening) or ``"b"`` (LSH band)."""
    tag = key >> VALUE_BITS
    if tag == ANCHOR_TAG:
        return "a"
    return "p" if tag == PARAGRAPH_TAG else "b"


def describe(key: int) -> str:
    """A readable form for logs and tests: ``a:1f2e3d4c``, ``p:…``, ``b3:…`` (hex value)."""
    tag, value = key >> VALUE_BITS, key & VALUE_MASK
    if tag == ANCHOR_TAG:
        return f"a:{value:08x}"
    if tag == PARAGRAPH_TAG:
        return f"p:{value:08x}"
    return f"b{tag - FIRST_BAND_TAG}:{value:010x}"
