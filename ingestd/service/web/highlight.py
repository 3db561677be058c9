"""What a copy shares with its canonical item, what it adds and what it drops (pure).

Both texts are split into paragraphs (stored text separates them with newlines) and words; a
word sequence of ``SPAN_WORDS`` words (compared lower-cased, punctuation aside) that both texts
contain is *shared*. A copy's words covered by a shared sequence are highlighted, the others
are its additions; the canonical's words no shared sequence covers are what the copy drops.
Linear in the two lengths (sets of hashed sequences), so a long text costs milliseconds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingestd.dedup.attribution import credited_sources

SPAN_WORDS = 5  # words in a sequence that counts as shared
MIN_DROP_WORDS = 3  # a dropped run shorter than this is noise (a changed word), not a passage
MAX_DROPS = 12  # dropped passages listed per copy
MAX_DROP_WORDS = 60  # words shown of one dropped passage
_WORD = re.compile(r"\S+")
_NOT_WORD = re.compile(r"[\W_]+", re.UNICODE)


@dataclass(frozen=True)
class Run:
    """A stretch of one paragraph: ``kind`` is ``shared``, ``added`` or ``plain``."""

    text: str
    kind: str


@dataclass(frozen=True)
class Paragraph:
    """A paragraph as runs; ``credits``: the sources an attribution line in it credits."""

    runs: tuple[Run, ...]
    credits: tuple[str, ...] = ()


@dataclass(frozen=True)
class Compared:
    """A text laid out for a page, and how it compares with the canonical text."""

    paragraphs: tuple[Paragraph, ...]
    words: int
    shared_words: int
    dropped: tuple[str, ...]  # passages of the canonical text this one lacks
    dropped_words: int


@dataclass(frozen=True)
class _Words:
    """A text's paragraphs and, for every word, (paragraph, start, end, comparable key)."""

    paragraphs: list[str]
    spans: list[tuple[int, int, int, str]]


def _words(text: str) -> _Words:
    paragraphs = [p for p in text.splitlines() if p.strip()]
    spans: list[tuple[int, int, int, str]] = []
    for index, paragraph in enumerate(paragraphs):
        for match in _WORD.finditer(paragraph):
            key = _NOT_WORD.sub("", match.group().lower()) or match.group()
            spans.append((index, match.start(), match.end(), key))
    return _Words(paragraphs, spans)


def _grams(words: _Words, size: int) -> list[int]:
    keys = [span[3] for span in words.spans]
    return [hash(tuple(keys[i : i + size])) for i in range(len(keys) - size + 1)]


def _covered(words: _Words, other: set[int], size: int) -> list[bool]:
    """Which of ``words`` lie in a sequence of ``size`` words that ``other`` also holds."""
    covered = [False] * len(words.spans)
    for start, gram in enumerate(_grams(words, size)):
        if gram in other:
            covered[start : start + size] = [True] * size
    return covered


def _runs(paragraph: str, spans: list[tuple[int, int, bool]], mark: str) -> tuple[Run, ...]:
    """The paragraph cut into runs of words alike (covered: ``shared``; not: ``mark``)."""
    runs: list[Run] = []
    position = 0
    for start, end, covered in spans:
        kind = "shared" if covered else mark
        if start > position:
            runs.append(Run(paragraph[position:start], "plain"))
        if runs and runs[-1].kind == kind:
            runs[-1] = Run(runs[-1].text + paragraph[start:end], kind)
        elif runs and len(runs) > 1 and runs[-1].kind == "plain" and runs[-2].kind == kind:
            gap = runs.pop()
            runs[-1] = Run(runs[-1].text + gap.text + paragraph[start:end], kind)
        else:
            runs.append(Run(paragraph[start:end], kind))
        position = end
    if position < len(paragraph):
        runs.append(Run(paragraph[position:], "plain"))
    return tuple(runs)


def _layout(words: _Words, covered: list[bool], mark: str) -> tuple[Paragraph, ...]:
    by_paragraph: list[list[tuple[int, int, bool]]] = [[] for _ in words.paragraphs]
    for (index, start, end, _), flag in zip(words.spans, covered, strict=True):
        by_paragraph[index].append((start, end, flag))
    return tuple(
        Paragraph(_runs(text, spans, mark), credited_sources(text))
        for text, spans in zip(words.paragraphs, by_paragraph, strict=True)
    )


def plain(text: str) -> Compared:
    """A text laid out with nothing marked (the canonical item itself, an item page)."""
    words = _words(text)
    layout = _layout(words, [False] * len(words.spans), "plain")
    return Compared(layout, len(words.spans), 0, (), 0)


def compare(canonical: str, copy: str, span_words: int = SPAN_WORDS) -> Compared:
    """``copy`` laid out with the passages it shares with ``canonical`` and its additions
    marked, and the passages of ``canonical`` it drops."""
    base, mine = _words(canonical), _words(copy)
    size = max(1, min(span_words, len(base.spans), len(mine.spans)))
    covered = _covered(mine, set(_grams(base, size)), size)
    base_covered = _covered(base, set(_grams(mine, size)), size)
    dropped, dropped_words = _dropped(canonical, base, base_covered)
    return Compared(
        _layout(mine, covered, "added"), len(mine.spans), sum(covered), dropped, dropped_words
    )


def _dropped(text: str, words: _Words, covered: list[bool]) -> tuple[tuple[str, ...], int]:
    """Runs of at least ``MIN_DROP_WORDS`` uncovered words (within a paragraph), as text."""
    passages: list[str] = []
    total = 0
    run: list[tuple[int, int, int, str]] = []
    for span, flag in [*zip(words.spans, covered, strict=True), ((-1, 0, 0, ""), True)]:
        if not flag and (not run or run[-1][0] == span[0]):
            run.append(span)
            continue
        if len(run) >= MIN_DROP_WORDS:
            total += len(run)
            if len(passages) < MAX_DROPS:
                passages.append(_passage(words, run))
        run = [span] if not flag else []
    return tuple(passages), total


def _passage(words: _Words, run: list[tuple[int, int, int, str]]) -> str:
    paragraph = words.paragraphs[run[0][0]]
    shown = run[:MAX_DROP_WORDS]
    text = paragraph[shown[0][1] : shown[-1][2]]
    return text + (" …" if len(run) > len(shown) else "")
