"""Article-ness: is an item's text an article, or a page that is not one?

The definition of "same article" flags texts that are mostly not article text (a photo gallery,
a share stub, a listing of headlines, fewer than 80 words of article text) as junk: such a page
stays on its own unless what is left of it is a verbatim copy of an article. Their text is
what bridges unrelated stories (agency captions, one stub body on every page of an aggregator),
so the verdict comes first and decides how an item may link (:mod:`ingestd.dedup.links`).

Article words are the words of the story paragraphs once captions and credit lines
(:mod:`ingestd.dedup.captions`), furniture, the paragraphs the site repeats on its other pages
(its template, learned from the store) and, where they make up most of the text, headline and
link lines are taken out. A run of a script written without spaces (Chinese, Japanese, Thai)
counts one word per two characters.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ingestd.model import TextKind, TextProfile

ARTICLE_WORDS = 80  # fewer article words than this: not an article (the definition's bound)
GALLERY_CAPTIONS = 2  # captions that make a page without enough article text a gallery
GALLERY_WORDS = 150  # a page named a gallery is one while its article text stays below this
LISTING_LINES = 3  # headline and link lines that make a page without article text a listing
LISTING_SHARE = 2 / 3  # ... when they are more than this share of its words (not a list in it)
STUB_PAGES = 2  # other pages of the site carrying the same body under other titles

_GALLERY_HINT = re.compile(
    r"\b(photos?|pictures|gallery|galleries|slideshow|slide show|in pictures|in photos|"
    r"bildergalerie|fotogalerie|galerie|fotostrecke|en images|en fotos|fotogalería|in foto|"
    r"fotogaleria|zdjęcia|video)\b",
    re.IGNORECASE,
)
_GALLERY_PATH = re.compile(
    r"/(?:photos?|pictures|gallery|galleries|slideshows?|bildergalerie|fotogalerie|galerie|"
    r"fotostrecke|fotos|videos?)(?:/|-|$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class SiteEvidence:
    """What the store knows about an item's site: the paragraph keys the site repeats on its
    other pages (its template), and how many of its other pages carry this item's very body
    under other titles."""

    template_keys: frozenset[int] = frozenset()
    stub_pages: int = 0


@dataclass(frozen=True)
class Quality:
    """The verdict: the kind of text, its article words, and why, in words."""

    kind: TextKind
    article_words: int
    note: str


def gallery_hint(title: str, url: str | None) -> bool:
    """True when the title or the URL's path names a gallery, slideshow or photo page."""
    return bool(_GALLERY_HINT.search(title or "")) or bool(_GALLERY_PATH.search(url or ""))


def assess(profile: TextProfile, title: str, url: str | None, site: SiteEvidence) -> Quality:
    """The article-ness verdict on a text with this profile, title and URL."""
    template = [(key, words) for key, words in profile.paragraph_words if key in site.template_keys]
    template_words = sum(words for _, words in template)
    listed = _listing(profile)
    words = max(0, profile.story_words - template_words - (profile.headline_words if listed else 0))
    removed = _removed(profile, len(template), listed)
    counted = f"{words} words of article text{removed}"
    hinted = gallery_hint(title, url)
    if words < ARTICLE_WORDS and (profile.caption_paragraphs >= GALLERY_CAPTIONS or hinted):
        return Quality(TextKind.GALLERY, words, f"gallery: {counted} (< {ARTICLE_WORDS})")
    if site.stub_pages >= STUB_PAGES:
        note = (
            f"stub: the same text is on {site.stub_pages} other pages of its site under other"
            " titles (a share page or teaser)"
        )
        return Quality(TextKind.STUB, words, note)
    if words < ARTICLE_WORDS:
        kind = TextKind.LISTING if listed else TextKind.SHORT
        return Quality(kind, words, f"{kind.value}: {counted} (< {ARTICLE_WORDS})")
    if hinted and words < GALLERY_WORDS and profile.caption_words >= words:
        note = f"gallery: its title or URL names one, and {counted} (< {GALLERY_WORDS})"
        return Quality(TextKind.GALLERY, words, note)
    if profile.compilation is not None:
        return Quality(TextKind.COMPILATION, words, f"compilation: {profile.compilation}")
    return Quality(TextKind.ARTICLE, words, f"article: {counted}")


def _listing(profile: TextProfile) -> bool:
    """Headline and link lines make up two thirds of the text or more (a listing, not a list
    of points in an article): only then are they taken out of the article words."""
    return (
        profile.headline_lines >= LISTING_LINES
        and profile.headline_words > LISTING_SHARE * profile.story_words
    )


def _removed(profile: TextProfile, template_paragraphs: int, listed: bool) -> str:
    """What was taken out before counting, in words ("" when nothing was)."""
    parts = []
    if profile.caption_paragraphs:
        parts.append(f"{profile.caption_paragraphs} captions or credit lines")
    if template_paragraphs:
        parts.append(f"{template_paragraphs} paragraphs of the site's template")
    if listed:
        parts.append(f"{profile.headline_lines} headline or link lines")
    return " once " + ", ".join(parts) + " are removed" if parts else ""
