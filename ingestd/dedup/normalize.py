"""Text normalisation: keep what copies of one story share, drop what differs between them.

Extracted article text still carries furniture that differs between outlets carrying the same
story: bylines and credit lines, photo captions, datelines, share and subscribe prompts,
attribution lines, copyright notices. These are removed paragraph by paragraph. Boilerplate
patterns apply only to short paragraphs, so a long paragraph of story text is never dropped
because it mentions "newsletter"; captions (:mod:`ingestd.dedup.captions`) are recognised at any
length, since an agency caption travels with its photo into unrelated stories and galleries.
Tokens are Unicode words, lower-cased, with the possessive ``'s`` folded.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import regex

from ingestd.dedup.captions import is_caption

MIN_PARAGRAPH_WORDS = 5  # shorter paragraphs are furniture ("Advertisement", "Share")
BOILERPLATE_MAX_WORDS = 40  # boilerplate patterns only apply to paragraphs this short

# A word: letters, digits and the combining marks inside them (Devanagari vowel signs, the dot
# that casefolding leaves on "İ"), which Python's own \w would split words at.
_WORD = regex.compile(r"[\p{L}\p{N}_][\p{L}\p{M}\p{N}_]*")
_POSSESSIVE = re.compile(r"(\w)['’]s\b")
_DATELINE = re.compile(
    r"^\s*(?:[A-ZÀ-Ý][A-ZÀ-Ý.'’-]+(?:[ ,]+[A-ZÀ-Ý][A-Za-zÀ-ÿ.'’-]+){0,4})"  # PLACE, Region
    r"\s*(?:\((?:AP|Reuters|AFP|CNN|Bloomberg|UPI|dpa|[A-Z][\w ]{0,20})\))?"  # (AP)
    r"\s*[—–-]{1,2}\s+"
)
_BOILERPLATE = re.compile(
    r"|".join(
        [
            r"\b(sign up|subscribe|newsletter|unsubscribe|inbox)\b",
            r"\b(share|tweet|email|print) (this|on|via)\b",
            r"\bfollow (us|\w+ on (twitter|facebook|instagram|x))\b",
            r"^\s*(by|von|par|por|di|door|av|przez)\s+[\w.'’ ,|&-]{2,80}$",  # byline
            r"\b(staff writer|contributed to this report|reporting by|editing by|writing by)\b",
            r"^[^.!?]{0,80}\b(correspondent|reporter|editor)\s*$",  # "Jane Doe, Reuters reporter"
            r"\bassociated press (writer|writers|reporter)\b",
            r"(©|\(c\)|\bcopyright\b|\ball rights reserved\b)",
            r"\bmay not be (published|broadcast|rewritten|redistributed)\b",
            r"\b(photo|image|video|file photo|illustration|graphic)\s*(:|by|credit|courtesy)",
            r"\b(getty images|shutterstock|ap photo|reuters/|afp via|afp/|epa/|ap/)\b",
            r"\b(originally|first) (published|appeared|posted|ran)\b",
            r"\b(republished|reprinted|reposted|syndicated)\b.*\b(permission|from|by)\b",
            r"\bread (the )?(full|original|complete|whole|rest of the) (article|story|post)\b",
            r"\b(click here|read more|continue reading|related( stories| articles)?:)",
            r"\b(advertisement|sponsored content|cookies?|javascript)\b",
            r"\b(updated|published|posted|last modified)( on| at)?\s*:?\s*\w+ \d",
            r"^\s*(\d+\s+)?comments?\b|\b(leave a reply|join the conversation|show comments)\b",
            r"\bthis (story|article|report) (has been|was) (updated|corrected)\b",
            r"\bfollow (\w+['’]s |our |all of \w+['’]s )?(full |complete |latest )?coverage\b",
        ]
    ),
    re.IGNORECASE,
)


# Consent walls and paywall pitches, at any length: three or more of these phrases in one
# paragraph (a failed scrape carries them in place of the story, on every site alike).
_WALL = re.compile(
    r"\b(cookies?|our (?:\d+ )?partners|personal data|legitimate interest|privacy policy|"
    r"manage (?:your )?(?:choices|preferences|settings)|accept all|reject all|consent|"
    r"store and(?:/or)? access information|personali[sz]ed (?:ads|advertising|content)|"
    r"already a subscriber|subscribers?|subscription|digital access|unlimited access|"
    r"e-edition|free trial|cancel (?:at )?any ?time|log ?in|sign ?in|"
    r"datenschutz|einwilligung|abonnement|abonnieren|consentement|suscr[ií]bete|suscriptor)\b",
    re.IGNORECASE,
)
_WALL_HINTS = ("cooki", "partner", "subscri", "consent", "privacy", "access", "abonn", "datensch")
WALL_PHRASES = 3


def _is_wall(paragraph: str) -> bool:
    lowered = paragraph.lower()
    if not any(hint in lowered for hint in _WALL_HINTS):
        return False
    return len({m.lower() for m in _WALL.findall(paragraph)}) >= WALL_PHRASES


_QUOTATION = re.compile(r"[“\"„«][^“”\"„«»]{0,2000}?[”\"“»]")
_QUOTE_MARKS = tuple('“”"„«»')


@dataclass(frozen=True)
class StoryParagraph:
    """One paragraph of story text: its words, and its words outside quotations."""

    text: str
    words: list[str]
    narrative: list[str]


@dataclass(frozen=True)
class Reading:
    """A text read paragraph by paragraph: the story paragraphs, every paragraph as written
    (for the structure a compilation or a gallery shows), and what the captions took."""

    story: list[StoryParagraph]
    raw: list[str]
    caption_paragraphs: int
    caption_words: int


def paragraphs(text: str) -> list[str]:
    """Non-empty paragraphs of a text whose paragraphs are separated by newlines."""
    return [line.strip() for line in text.splitlines() if line.strip()]


# Words one of the boilerplate patterns needs; a paragraph with none of them skips the regex.
_TRIGGERS = frozenset(
    """
    sign subscribe newsletter unsubscribe inbox share tweet email print follow
    by von par por di door av przez staff correspondent reporter editor contributed
    reporting editing writing associated c copyright rights may photo image video
    file illustration graphic getty shutterstock ap reuters afp epa originally first
    republished reprinted reposted syndicated read click continue related advertisement
    sponsored cookie cookies javascript updated published posted modified comment
    comments reply conversation story article report show coverage
    """.split()  # noqa: SIM905 - a word list reads better as words
)


def is_furniture(paragraph: str, words: list[str] | None = None) -> bool:
    """True for a paragraph that is site furniture rather than story text."""
    words = tokens(paragraph) if words is None else words
    if len(words) < MIN_PARAGRAPH_WORDS and word_count(words) < MIN_PARAGRAPH_WORDS:
        return True
    if _is_wall(paragraph):
        return True
    if len(words) > BOILERPLATE_MAX_WORDS:
        return False
    if "©" not in paragraph and _TRIGGERS.isdisjoint(words):
        return False
    return bool(_BOILERPLATE.search(paragraph))


def analyse(text: str) -> list[StoryParagraph]:
    """The story paragraphs of ``text`` (furniture and captions dropped, datelines stripped),
    tokenised."""
    return read(text).story


HEADLINE_ECHO = 0.8  # word overlap at which a paragraph is the headline again
CREDIT_LINE_WORDS = 12  # a caption this short is a credit line ("AP Photo/Jane Doe")
CAPTION_WORDS = 70  # the paragraph just before a credit line is its caption up to this long
CREDITED_CAPTIONS = 2  # credit lines under paragraphs that show the page credits that way
BLOCK_QUOTE_PARAGRAPHS = 3  # paragraphs after a lead-in ending in ":" read as quotation


def read(text: str, title: str = "") -> Reading:
    """:func:`analyse`, with the raw paragraphs and the captions' share kept for the text's
    profile (:mod:`ingestd.dedup.profile`). A paragraph that repeats the ``title`` (extraction
    often keeps the page's ``<h1>``, some pages print it twice) is not story text: copies under
    other headlines would otherwise differ by it. Up to three paragraphs after a short lead-in
    ending in a colon ("the council said in a statement:") are quotation, not the writer's
    narrative, even without quotation marks."""
    raw = paragraphs(text)
    kept: list[StoryParagraph] = []
    caption_paragraphs = caption_words = 0
    headline = set(tokens(title)) if title else set()
    last = -1  # the raw index of the last kept paragraph
    credited: list[int] = []  # kept paragraphs just above a credit line
    block = 0  # paragraphs still to read as a block quotation
    for index, paragraph in enumerate(raw):
        words = tokens(paragraph)
        if headline and _echoes(words, headline):
            continue
        if words and is_caption(paragraph, words):
            caption_paragraphs += 1
            caption_words += word_count(words)
            if len(words) <= CREDIT_LINE_WORDS and last == index - 1 and kept:
                credited.append(len(kept) - 1)
            continue
        if is_furniture(paragraph, words):
            continue
        if not kept and _DATELINE.match(paragraph):
            paragraph = _DATELINE.sub("", paragraph, count=1)
            words = tokens(paragraph)
        quoted = any(mark in paragraph for mark in _QUOTE_MARKS)  # substring search: fast
        narrative = tokens(without_quotations(paragraph)) if quoted else words
        if block and not quoted:  # a statement quoted as a block, without quotation marks
            narrative = []
            block -= 1
        elif quoted:
            block = 0
        if paragraph.rstrip().endswith(":") and len(words) <= BOILERPLATE_MAX_WORDS:
            block = BLOCK_QUOTE_PARAGRAPHS  # "the council said in a statement:"
        kept.append(StoryParagraph(paragraph, words, narrative))
        last = index
    captions: set[int] = set()
    if len(credited) >= CREDITED_CAPTIONS:  # photos credited on a line of their own
        captions = {i for i in credited if len(kept[i].words) <= CAPTION_WORDS}
    captions |= _same_credit(kept)
    if captions:
        caption_paragraphs += len(captions)
        caption_words += sum(word_count(kept[i].words) for i in captions)
        kept = [p for i, p in enumerate(kept) if i not in captions]
    return Reading(kept, raw, caption_paragraphs, caption_words)


_CLOSING_CREDIT = re.compile(r"(?:/|\bvia\b|\|)\s*([^/|()\[\]]{2,60}?)\s*[)\]]?\s*\.?\s*$")
SAME_CREDIT = 3  # paragraphs closing with one credit that make them captions


def _same_credit(kept: list[StoryParagraph]) -> set[int]:
    """Paragraphs closing with the same credit ("…/The Example Post)", "… via Wire") three times
    or more: a gallery's or an article's captions, whatever words the credit uses."""
    closing: dict[str, list[int]] = {}
    for index, paragraph in enumerate(kept):
        tail = paragraph.text[-70:]
        if "/" not in tail and "via" not in tail and "|" not in tail:
            continue
        found = _CLOSING_CREDIT.search(tail)
        if found and len(paragraph.words) <= CAPTION_WORDS:
            closing.setdefault(found.group(1).strip().lower(), []).append(index)
    return {i for indexes in closing.values() if len(indexes) >= SAME_CREDIT for i in indexes}


def _echoes(words: list[str], headline: set[str]) -> bool:
    """True when a paragraph is the headline again (the same words, give or take a site name)."""
    if not words or len(words) > len(headline) + 3:
        return False
    found = set(words)
    return len(found & headline) / len(found | headline) >= HEADLINE_ECHO


def story_paragraphs(text: str) -> list[str]:
    """The paragraphs that carry the story, datelines stripped."""
    return [paragraph.text for paragraph in analyse(text)]


def without_quotations(paragraph: str) -> str:
    """The paragraph with quoted passages removed (what the writer wrote, not who they quote)."""
    return _QUOTATION.sub(" ", paragraph)


# Scripts written without spaces between words (Chinese, Japanese kana, Thai): a token is a run
# of characters there, worth about one word per CHARACTERS_PER_WORD characters.
_UNSPACED = re.compile(r"[\u0e00-\u0e7f\u2e80-\u2fff\u3040-\u30ff\u3400-\u9fff\uf900-\ufaff]")
CHARACTERS_PER_WORD = 2


def word_count(words: list[str]) -> int:
    """How many words these tokens make (a run of an unspaced script counts for its length)."""
    if not _UNSPACED.search("".join(words)):  # the usual case: one scan, no loop
        return len(words)
    total = 0
    for word in words:
        if len(word) > CHARACTERS_PER_WORD and _UNSPACED.match(word):
            total += len(word) // CHARACTERS_PER_WORD
        else:
            total += 1
    return total


def tokens(text: str) -> list[str]:
    """Lower-cased Unicode word tokens of ``text`` with the possessive ``'s`` folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    if "'" in folded or "’" in folded:
        folded = _POSSESSIVE.sub(r"\1", folded)
    words: list[str] = _WORD.findall(folded)
    return words


def story_tokens(text: str, narrative_only: bool = False) -> list[str]:
    """Tokens of the story paragraphs of ``text``, in order; without quotations if asked."""
    words: list[str] = []
    for paragraph in analyse(text):
        words.extend(paragraph.narrative if narrative_only else paragraph.words)
    return words
