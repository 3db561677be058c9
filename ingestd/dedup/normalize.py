"""Text normalisation: keep what copies of one story share, drop what differs between them.

Extracted article text still carries furniture that differs between outlets carrying the same
story: bylines and credit lines, photo captions, datelines, share and subscribe prompts,
attribution lines, copyright notices. These are removed paragraph by paragraph (patterns apply
only to short paragraphs, so a long paragraph of story text is never dropped because it mentions
"newsletter"). Tokens are Unicode words, lower-cased, with the possessive ``'s`` folded.
"""

from __future__ import annotations

import re
import unicodedata

MIN_PARAGRAPH_WORDS = 5  # shorter paragraphs are furniture ("Advertisement", "Share")
BOILERPLATE_MAX_WORDS = 40  # boilerplate patterns only apply to paragraphs this short

_WORD = re.compile(r"\w+", re.UNICODE)
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
            r"^\s*(by|von|par|por|di|door|av|przez)\s+[\w.'’ -]{2,60}$",  # byline
            r"\b(staff writer|correspondent|reporter|contributed to this report)\b",
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
            r"\b(comments?|leave a reply|join the conversation)\b",
            r"\bthis (story|article|report) (has been|was) (updated|corrected)\b",
        ]
    ),
    re.IGNORECASE,
)


def paragraphs(text: str) -> list[str]:
    """Non-empty paragraphs of a text whose paragraphs are separated by newlines."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def is_furniture(paragraph: str) -> bool:
    """True for a paragraph that is site furniture rather than story text."""
    words = _WORD.findall(paragraph)
    if len(words) < MIN_PARAGRAPH_WORDS:
        return True
    return len(words) <= BOILERPLATE_MAX_WORDS and bool(_BOILERPLATE.search(paragraph))


def story_paragraphs(text: str) -> list[str]:
    """The paragraphs that carry the story, datelines stripped."""
    kept = []
    for paragraph in paragraphs(text):
        if is_furniture(paragraph):
            continue
        kept.append(_DATELINE.sub("", paragraph, count=1))
    return kept


_QUOTATION = re.compile(r"[“\"„«][^“”\"„«»]{0,2000}?[”\"“»]")


def without_quotations(paragraph: str) -> str:
    """The paragraph with quoted passages removed (what the writer wrote, not who they quote)."""
    return _QUOTATION.sub(" ", paragraph)


def tokens(text: str) -> list[str]:
    """Lower-cased Unicode word tokens of ``text`` with the possessive ``'s`` folded."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _WORD.findall(_POSSESSIVE.sub(r"\1", folded))


def story_tokens(text: str, narrative_only: bool = False) -> list[str]:
    """Tokens of the story paragraphs of ``text``, in order; without quotations if asked."""
    words: list[str] = []
    for paragraph in story_paragraphs(text):
        words.extend(tokens(without_quotations(paragraph) if narrative_only else paragraph))
    return words
