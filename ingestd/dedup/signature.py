"""Signatures: shingle hashes, MinHash, LSH band keys and excerpt anchors for one text.

A text's story tokens (see :mod:`ingestd.dedup.normalize`) are cut into overlapping word
shingles of ``shingle_words`` words, each hashed to 32 bits. From the set of hashes come:

* the MinHash (datasketch) of ``num_perm`` values, split into ``bands`` LSH band keys, which find
  candidates whose Jaccard similarity is high (near-identical copies, light edits). They are
  indexed only for texts expected to carry fewer than ``BANDED_ANCHORS`` anchors: a longer
  text's anchors find every such copy on their own, and each key is a row in the key index
  (the hottest write of an ingest);
* anchor keys: the hashes divisible by ``anchor_every``, a content-defined sample that two texts
  share in proportion to the text they share, so an excerpt of four paragraphs still meets its
  full article although their Jaccard similarity is low;
* paragraph keys: the opening words of each story paragraph, so that even a one-paragraph stub
  meets the article it copies.
"""

from __future__ import annotations

import functools
import hashlib
import zlib

import numpy as np

from ingestd.dedup.attribution import credited_sources
from ingestd.dedup.keys import band_key, paragraph_key
from ingestd.dedup.normalize import StoryParagraph, read, story_tokens, tokens, word_count
from ingestd.dedup.params import SignatureParams as SignatureParams  # re-exported
from ingestd.dedup.profile import text_profile
from ingestd.model import Signature

_MIX_1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX_2 = np.uint64(0x94D049BB133111EB)
_STEP = np.uint64(0x9E3779B97F4A7C15)


def _hash32(data: bytes) -> int:
    return int.from_bytes(hashlib.blake2b(data, digest_size=4).digest(), "little")


def _mix(values: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser: spreads every input bit over the output (uint64, wrapping)."""
    values = values ^ (values >> np.uint64(30))
    values = values * _MIX_1
    values = values ^ (values >> np.uint64(27))
    values = values * _MIX_2
    mixed: np.ndarray = values ^ (values >> np.uint64(31))
    return mixed


def shingle_hashes(words: list[str], size: int) -> np.ndarray:
    """Sorted distinct 32-bit hashes (uint32) of the ``size``-word shingles (one shingle if
    shorter).

    Each word is hashed once (CRC-32); a shingle's hash mixes its words' hashes in order.
    """
    if not words:
        return np.empty(0, dtype=np.uint32)
    ids = np.fromiter(map(zlib.crc32, map(str.encode, words)), np.uint64, len(words))
    width = min(size, len(ids))
    count = len(ids) - width + 1
    with np.errstate(over="ignore"):
        combined = np.zeros(count, dtype=np.uint64)
        for offset in range(width):
            combined = _mix(combined * _STEP + ids[offset : offset + count])
    return np.unique((combined >> np.uint64(32)).astype(np.uint32))


def pack_hashes(hashes: np.ndarray) -> bytes:
    """Sorted 32-bit hashes as little-endian uint32 bytes (the stored form)."""
    return hashes.astype("<u4", copy=False).tobytes()


def body_hash(text: str) -> str:
    """Hash of the text's story tokens: equal for copies that differ only in furniture."""
    return _body_hash(story_tokens(text) or tokens(text))


def _body_hash(words: list[str]) -> str:
    return hashlib.blake2b(" ".join(words).encode("utf-8"), digest_size=16).hexdigest()


MINHASH_SCHEME = "affine32"  # datasketch's 32-bit permutations; stored values depend on it


@functools.cache
def _permutations(num_perm: int) -> tuple[np.ndarray, np.ndarray]:
    """datasketch's ``affine32`` permutations ``(a, b)`` for seed 1, made once (they cost more
    than a signature): ``a`` odd, both drawn from ``numpy.random.RandomState(1)`` as
    ``datasketch.MinHash._init_permutations`` draws them (a test holds them to datasketch's).
    Made here rather than by importing datasketch, whose package imports scipy: 1.0-1.3 s at
    every start of the process pool, before the first feed could be parsed."""
    generator = np.random.RandomState(1)
    a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return a, b


_EMPTY = np.uint32(0xFFFFFFFF)


def _fmix32(values: np.ndarray) -> np.ndarray:
    """MurmurHash3's 32-bit finaliser (uint32, wrapping), as datasketch applies it."""
    values = values ^ (values >> np.uint32(16))
    values = values * np.uint32(0x85EBCA6B)
    values = values ^ (values >> np.uint32(13))
    values = values * np.uint32(0xC2B2AE35)
    mixed: np.ndarray = values ^ (values >> np.uint32(16))
    return mixed


def minhash_values(hashes: np.ndarray | list[int], num_perm: int) -> np.ndarray:
    """MinHash values (``num_perm`` uint32) over precomputed 32-bit hashes.

    Bit for bit what ``datasketch.MinHash(seed=1, scheme="affine32").update_batch`` gives with
    an identity hash function (a test holds it to that), computed in one numpy expression:
    datasketch calls the hash function once per value in Python, which cost 4x more.
    """
    a, b = _permutations(num_perm)
    if not len(hashes):
        return np.full(num_perm, _EMPTY, dtype=np.uint32)
    with np.errstate(over="ignore"):
        mixed = _fmix32(np.asarray(hashes, dtype=np.uint32)).reshape(-1, 1)
        values: np.ndarray = (mixed * a + b).min(axis=0)
    return values


def band_keys(values: np.ndarray, bands: int) -> tuple[int, ...]:
    """One LSH key per band (:func:`ingestd.dedup.keys.band_key` of its rows' digest)."""
    rows = len(values) // bands
    keys = []
    for band in range(bands):
        chunk = values[band * rows : (band + 1) * rows].astype("<u8").tobytes()
        keys.append(band_key(band, hashlib.blake2b(chunk, digest_size=8).digest()))
    return tuple(keys)


def anchor_keys(hashes: np.ndarray, every: int) -> tuple[int, ...]:
    """A content-defined sample of shingle hashes: the anchor keys of those divisible by
    ``every`` (an anchor's key is its 32-bit hash)."""
    return tuple(hashes[hashes % every == 0].tolist())


# Texts of at least this many anchors' worth of shingles (320 at one in 16) get no band keys.
# Two texts of Jaccard similarity 0.5 (the default threshold), one of them that long, share at
# least 10 anchors' worth of shingles, and the chance that fewer than the two needed are
# sampled is 0.05%.
BANDED_ANCHORS = 20

PARAGRAPH_KEY_WORDS = 8  # words of a paragraph's opening that make its key


def opening_key(paragraph: StoryParagraph) -> int | None:
    """The key of a story paragraph's opening words; None when it is too short to be
    distinctive."""
    if len(paragraph.words) < PARAGRAPH_KEY_WORDS:
        return None
    opening = " ".join(paragraph.words[:PARAGRAPH_KEY_WORDS]).encode("utf-8")
    return paragraph_key(_hash32(opening))


def paragraph_words(story: list[StoryParagraph]) -> tuple[tuple[int, int], ...]:
    """The key of the first words of every story paragraph long enough to be distinctive, with
    the paragraph's words (the most of them where two paragraphs share an opening)."""
    keyed: dict[int, int] = {}
    for paragraph in story:
        key = opening_key(paragraph)
        if key is not None:
            keyed[key] = max(keyed.get(key, 0), word_count(paragraph.words))
    return tuple(keyed.items())


def make_signature(text: str, title: str, params: SignatureParams) -> Signature:
    """The full signature of an article text (and its title, for compilation hints)."""
    reading = read(text, title)
    story = reading.story
    words = [word for paragraph in story for word in paragraph.words]
    hashes = shingle_hashes(words, params.shingle_words)
    if all(paragraph.narrative is paragraph.words for paragraph in story):
        narrative_hashes = hashes  # no quotations: the narrative is the whole text
    else:
        narrative = [word for paragraph in story for word in paragraph.narrative]
        narrative_hashes = shingle_hashes(narrative, params.shingle_words)
    values = minhash_values(hashes, params.num_perm)
    banded = 0 < len(hashes) < BANDED_ANCHORS * params.anchor_every
    keyed = paragraph_words(story)
    profile = text_profile(reading, title, keyed)
    return Signature(
        body_hash=_body_hash(words or tokens(text)),
        n_words=len(words),
        shingles=pack_hashes(hashes),
        narrative=pack_hashes(narrative_hashes),
        minhash=values.astype("<u4").tobytes(),
        band_keys=band_keys(values, params.bands) if banded else (),
        anchor_keys=anchor_keys(hashes, params.anchor_every) + tuple(k for k, _ in keyed),
        attribution=credited_sources(text),
        compilation_hint=profile.compilation is not None or profile.sectioned,
        profile=profile,
    )
