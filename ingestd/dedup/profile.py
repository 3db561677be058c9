"""What a text is made of: the counts behind the article-ness verdict, and the structure that
gives a compilation away.

A compilation (digest, newsletter, live page, running "The Latest" file, news in brief) holds
several stories; it is not the same article as any one of them. Its title often says so
("Live updates: …", "The Latest: …", "Morning briefing"), and so does its structure: entries
that open with a time of day, or several wire datelines. A run of headlines each with a short
story under it is weaker evidence (guides and lists of tips look the same): such a text is
only marked ``sectioned``. All of this is read from the text and title alone (in the pool's
workers), so it never depends on what else is stored.
"""

from __future__ import annotations

import re

from ingestd.dedup.normalize import Reading, StoryParagraph, word_count
from ingestd.model import TextProfile

# Titles that name a compilation. "Live" only where it names the page ("Live: …", "… live
# updates"), not the verb ("where residents live"); explainers ("What we know about …") are
# articles of their own.
_COMPILATION_TITLE = re.compile(
    r"^\s*live\b|\blive\s*[:|—–]|\blive( updates| blog| coverage| news| report| reporting)\b"
    r"|\b(as it happened|newsletter|digest|briefing|round-?up|morning report|evening report|"
    r"the latest|latest updates|top stories|(top|today'?s|morning|evening|news) headlines|"
    r"week in review|news in brief|in brief|daily brief|recap|things to know|news wrap|"
    r"news summary|at a glance|in case you missed it|minute[- ]by[- ]minute|liveblog|"
    r"live-?ticker|newsticker|im überblick|en direct|en vivo|en directo|in diretta|ao vivo|"
    r"na żywo)\b"
    r"|\bupdates\s*:",
    re.IGNORECASE,
)
_LIVE = re.compile(r"\bLIVE\b")  # "LIVE" in capitals anywhere in a title names a live page
_CLOCK = (
    r"\d{1,2}:\d{2}(?:\s*[ap]\.?\s?m\.?)?|\d{1,2}(?:\.\d{2})?\s*[ap]\.?\s?m\.?"
    r"|\d{1,2}[.:]\d{2}\s*(?:Uhr|h|GMT|BST|CET|CEST|UTC|ET|EST|EDT|PT)\b|\d{1,2}h\d{2}"
)
_DAY = (
    r"(?:(?:mon|tue|wed|thu|fri|sat|sun)\w*,?\s+)?"
    r"(?:(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)\w*\.?\s+\d{1,2},?\s*(?:\d{4},?)?"
    r"|\d{1,2}\.?\s+(?:jan|feb|m[aä]r|apr|ma[iy]|jun|jul|aug|sep|o[ck]t|nov|de[cz])\w*\.?"
    r"\s*(?:\d{4},?)?)\s*"
)
# A live page's or running file's entry: it opens with a time of day (perhaps after a date or
# "Updated"), or with a relative time ("2 hours ago", "vor 2 Stunden", "il y a 2 heures").
_STAMP = re.compile(
    rf"^\s*(?:(?:updated|posted|added|update)\s*(?:at\s*)?:?\s*)?(?:{_DAY})?(?:{_CLOCK})"
    r"|^\s*(?:updated\s+)?\d{1,3}\s*(?:min(?:ute)?s?|h(?:ours?|rs?)?)\s+ago\b"
    r"|^\s*(?:vor|il y a|hace)\s+\d{1,3}\s+\w+"
    r"|\(all times local\)",
    re.IGNORECASE,
)
_WIRE_DATELINE = re.compile(
    r"^\s*[A-Z][A-Z .'’,-]{2,40}\s*\((?:AP|Reuters|AFP|UPI|CNN|dpa|Bloomberg|PA)\)\s*[—–-]"
)
_SENTENCE_END = ".!?:;…\"”'’»)。．！？｡」』】》）؟।॥"

STAMPED_ENTRIES = 3  # time-stamped entries that make a live page or running file
SECOND_STORY_WORDS = 60  # story words after a second wire dateline that make it a second story
DIGEST_HEADLINES = 5  # headlines with short stories under them that make a digest
DIGEST_SECTION_WORDS = 150  # a digest's stories are short: story words per headline below this
SECTION_BODY_WORDS = 15  # a headline heads a story when a paragraph this long follows it
HEADLINE_MAX_WORDS = 20  # a headline or link line is at most this long


def compilation_title(title: str) -> bool:
    """True when a title reads as a digest, newsletter or live page."""
    return bool(_COMPILATION_TITLE.search(title or "") or _LIVE.search(title or ""))


def is_headline_line(paragraph: StoryParagraph) -> bool:
    """A story paragraph that reads as a headline or a link: short, without a sentence's end."""
    text = paragraph.text.rstrip()
    return len(paragraph.words) <= HEADLINE_MAX_WORDS and not text.endswith(tuple(_SENTENCE_END))


def text_profile(
    reading: Reading, title: str, paragraph_words: tuple[tuple[int, int], ...]
) -> TextProfile:
    """The profile of a text read by :func:`ingestd.dedup.normalize.read`; ``paragraph_words``
    gives each keyed story paragraph's key and words."""
    story_words = sum(word_count(p.words) for p in reading.story)
    headlines = [p for p in reading.story if is_headline_line(p)]
    headline_words = sum(word_count(p.words) for p in headlines)
    return TextProfile(
        story_words=story_words,
        caption_paragraphs=reading.caption_paragraphs,
        caption_words=reading.caption_words,
        headline_lines=len(headlines),
        headline_words=headline_words,
        paragraph_words=paragraph_words,
        compilation=_compilation(reading, title),
        sectioned=_sectioned(reading.raw, story_words),
    )


def _sections(raw: list[str]) -> int:
    """Headlines with story text under them (a run of link lines heads nothing). Read from the
    paragraphs as written: a headline may have been dropped as a caption or furniture."""
    sections = 0
    heading = False
    for paragraph in raw:
        words = len(paragraph.split())
        text = paragraph.rstrip()
        if 4 <= words <= HEADLINE_MAX_WORDS and not text.endswith(tuple(_SENTENCE_END)):
            heading = True
        elif heading and words >= SECTION_BODY_WORDS:
            sections += 1
            heading = False
    return sections


def _sectioned(raw: list[str], story_words: int) -> bool:
    """Five headlines or more, each over a short story: a digest, or an article in many short
    sections (a guide, a list of tips). Not enough to call it a compilation: it only takes
    excerpts that carry its own headline (:mod:`ingestd.dedup.partition`)."""
    sections = _sections(raw)
    return sections >= DIGEST_HEADLINES and story_words < DIGEST_SECTION_WORDS * sections


def _compilation(reading: Reading, title: str) -> str | None:
    """Why the text reads as a compilation, in words, or None."""
    if compilation_title(title):
        return f"its title reads as a digest or live page ({title.strip()[:80]!r})"
    stamps = sum(1 for paragraph in reading.raw if _STAMP.match(paragraph))
    if stamps >= STAMPED_ENTRIES:
        return f"{stamps} entries open with a time of day (a live page or running file)"
    if _second_wire_story(reading.raw):
        return "it carries a second wire story under a dateline of its own"
    return None


def _second_wire_story(raw: list[str]) -> bool:
    """True when a second wire dateline opens a story of its own (not a one-line teaser)."""
    datelines = [index for index, paragraph in enumerate(raw) if _WIRE_DATELINE.match(paragraph)]
    if len(datelines) < 2:
        return False
    after = sum(len(paragraph.split()) for paragraph in raw[datelines[1] :])
    return after >= SECOND_STORY_WORDS
