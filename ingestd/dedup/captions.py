"""Photo captions and credit lines: text about a picture, not the story.

Galleries are made of captions, and an agency's caption travels with its photo into every
article that carries it, so two unrelated stories (or a gallery and a story) share it word for
word. A caption is recognised by its credit ("(AP Photo/Jane Doe)", "(Photo by X/Getty Images)",
"REUTERS/Name", "Foto: dpa", "Photograph: X/Agency", "Credit…"), by the way agencies open one
("FILE - In this June 5, 2018, file photo, …", "FILE PHOTO: …", "In this photo …", "Pictured:"),
by a date stamp in the form photo desks use ("WASHINGTON, DC - MAY 31: …",
"31.05.2019, Berlin: …"), by a gallery counter ("Image 2 of 12"), by the labelled form
some tabloids use ("Relaxed: Once in the cart, she walked around"), or by a photographer and
an outlet at its end in any words ("(Jane Doe/The Example Post)", "Jane Doe/CNN"). A credit
closing three paragraphs or more of one text marks them all as captions
(:func:`ingestd.dedup.normalize.read`), whatever its outlet. Labels are matched in
English, German, French, Spanish, Italian, Portuguese, Dutch, Swedish and Polish, the languages
the normaliser's byline rule knows. Unlike the boilerplate rules, these apply to paragraphs of
any length: an AP caption runs to seventy words.
"""

from __future__ import annotations

import re

# Words a caption rule needs; a paragraph with none of them (case-folded tokens) skips the regexes.
CAPTION_TRIGGERS = frozenset(
    """
    photo photos photograph photographer photography image images picture pictured file
    getty reuters ap afp epa dpa ansa efe anp pap tt shutterstock alamy istock invision
    bloomberg xinhua sipa zuma nurphoto keystone pool credit credits caption courtesy
    foto fotos fotografía fotografia bild bilder beeld imagen imagem immagine zdjęcie fot
    crédit crédito créditos handout cnn associated press pa aap cp kyodo yonhap lusa ntb tass
    """.split()  # noqa: SIM905 - a word list reads better as words
)

# Agencies and picture desks, matched with their own capitalisation ("pool" is not a credit).
_AGENCY = (
    r"(?-i:AP|AFP|Reuters|REUTERS|EPA|Getty Images|Getty|GETTY|Shutterstock|Alamy|iStock|"
    r"Associated Press|Canadian Press|AAP|CP|PA|CNN|Kyodo|Yonhap|Lusa|NTB|TASS|"
    r"Invision|Bloomberg|Xinhua|XINHUA|Sipa|SIPA|ZUMA|Zuma Press|NurPhoto|dpa|ANSA|EFE|ANP|PAP|"
    r"TT|Keystone|KEYSTONE|Pool|POOL|picture alliance|Imago|IMAGO|Belga|BELGA|Anadolu|UPI|"
    r"WireImage|FilmMagic)"
)
_LABEL = (
    r"photo|photos|photograph|photo credit|image|images|image credit|picture|credit|credits|"
    r"foto|fotos|fotografía|fotografia|bild|bilder|beeld|bildquelle|imagen|imagem|immagine|"
    r"zdjęcie|fot\.|crédit photo|crédito|créditos|photo illustration|illustration"
)
_NAME = r"[\w.'’ ,&-]{2,60}"

# A credit closing the paragraph: "(AP Photo/Jane Doe)", "(Photo: X/AP)", "(Foto: dpa)",
# "Jane Doe/Getty Images", "REUTERS/Jane Doe/File Photo", ". Photo: Jane Doe, AP", "- AFP".
_CREDIT_AT_END = re.compile(
    r"(?:"
    rf"\((?:[^()]{{0,80}}\b(?:{_LABEL})\b[^()]{{0,80}}|[^()]{{0,80}}(?:/|\||—|–|-)\s*{_AGENCY}\b[^()]{{0,40}})\)"
    rf"|\b{_AGENCY}\s*/\s*{_NAME}(?:/\s*(?:file(?: photo)?|pool))?"
    rf"|(?:/|\||—|–|\s-)\s*{_AGENCY}(?:\s+(?:for|via)\s+{_NAME})?(?:\s+file)?"
    rf"|(?:^|[.!?)]\s*)(?:{_LABEL})\s*:\s*[^.!?]{{1,80}}"
    r"|(?:hide|toggle) caption"
    r"|(?:\.\.\.|…)\s*more"
    r")\s*[.)]?\s*$",
    re.IGNORECASE,
)
# Credit markers anywhere in a paragraph: they occur in nothing but captions.
_CREDIT_ANYWHERE = re.compile(
    r"\((?:AP|AFP|Reuters|EPA|dpa) Photo\b|\bAP Photo/|\bREUTERS/[A-Z]|\bPhoto by [^)]{1,60}/"
    r"|Credit\s*Credit|\bimage copyright\b|\bimage caption\b|\bmedia caption\b"
    r"|\bBildunterschrift\b|\bBildquelle\b",
    re.IGNORECASE,
)
# How a caption opens: "FILE - …", "FILE PHOTO: …", "In this June 5, 2018, file photo, …",
# "This March 20, 2018, file photo shows …", "Pictured: …", "Photo: …", "Foto: …".
_CAPTION_OPENING = re.compile(
    r"^\s*(?:"
    r"(?-i:FILE)\s*(?:(?-i:PHOTO)\s*)?[-–—:]"
    r"|(?-i:FILE PHOTO)\b"
    r"|in this [^.]{0,60}\b(?:photo|image|picture|photograph|handout)\b"
    r"|this [^.]{0,60}\b(?:photo|image|picture|photograph)\b"
    r"[^.]{0,40}\b(?:shows|provided|released)\b"
    r"|pictured\s*:"
    r"|archivfoto\b|symbolbild\b|photo d'archive\b|imagen de archivo\b|foto de archivo\b"
    rf"|(?:{_LABEL})\s*:"
    r")",
    re.IGNORECASE,
)
# Photo desks' date stamps: "WASHINGTON, DC - MAY 31: …" (Getty), "31.05.2019, Berlin: …" (dpa).
_DATE_STAMP = re.compile(
    r"^\s*(?:[A-Z][A-Z .,'’-]{2,40}\s[-–—]\s(?:JANUARY|FEBRUARY|MARCH|APRIL|MAY|JUNE|JULY|AUGUST|"
    r"SEPTEMBER|OCTOBER|NOVEMBER|DECEMBER)\s\d{1,2}\s*:"
    r"|\d{1,2}\.\d{1,2}\.\d{2,4},\s*[^:]{2,40}:)"
)
# A photographer and the outlet, in parentheses or brackets at the end, whatever the outlet:
# "(Jane Doe/The Example Post)", "(Jane Doe / Associated Press)", "[Jane Doe/AP]",
# "(Jane Doe/The Example Courier via AP)".
_NAMED_CREDIT = re.compile(
    r"[(\[]\s*[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){0,3}\s*/\s*[A-Z][\w.'’&-]*"
    r"(?:\s+[\w.'’&-]+){0,6}\s*[)\]]\s*\.?\s*$"
)
# A credit line on its own: "Jane Doe/CNN", "Jane Doe for The Example Courier".
_CREDIT_LINE = re.compile(
    r"^\s*[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3}\s*"
    r"(?:/\s*[A-Z][\w.&'’-]*(?:\s+[\w.&'’-]+){0,4}|\s+for\s+(?:[Tt]he\s+)?[A-Z][\w.&'’-]*"
    r"(?:\s+[A-Z][\w.&'’-]*){0,4})\s*$"
)
CREDIT_LINE_WORDS = 10
# ... or after the caption's last sentence: "…on Tuesday. Jane Doe for The Example Courier".
_FOR_CREDIT_AT_END = re.compile(
    r"[.!?]\s+[A-Z][\w.'’-]+(?:\s+[A-Z][\w.'’-]+){1,3}\s+for\s+(?:[Tt]he\s+)?[A-Z][\w.&'’-]*"
    r"(?:\s+[A-Z][\w.&'’-]*){0,4}\s*$"
)

# The Daily Mail's form: a short label, a colon, a sentence without its full stop
# ("Relaxed: Once in the cart, Kelly walked around with her heels in her hands").
_LABELLED = re.compile(r"^\s*[A-Z][a-z'’]+(?: [a-z'’]+){0,2}:\s+[A-Z][^\n]*[^.!?\"”'’…:;)\s]\s*$")
LABELLED_MAX_WORDS = 30

# "Image 2 of 12", "Photo 3/10", "Slide 4 of 9", "Bild 1 von 5".
_COUNTER = re.compile(
    r"^\s*(?:image|photo|picture|slide|bild|foto|imagen)\s*\d+\s*(?:of|/|von|de|sur|di)\s*\d+\b",
    re.IGNORECASE,
)


def is_caption(paragraph: str, words: list[str]) -> bool:
    """True for a photo caption or credit line (``words``: the paragraph's tokens)."""
    if len(words) <= LABELLED_MAX_WORDS and _LABELLED.match(paragraph):
        return True
    if ("/" in paragraph or " for " in paragraph) and (
        _NAMED_CREDIT.search(paragraph[-120:])
        or (len(words) <= CREDIT_LINE_WORDS and _CREDIT_LINE.match(paragraph))
        or _FOR_CREDIT_AT_END.search(paragraph[-120:])
    ):
        return True
    if CAPTION_TRIGGERS.isdisjoint(words) and not _DATE_STAMP.match(paragraph):
        return words[-1:] == ["more"] and bool(_CREDIT_AT_END.search(paragraph[-160:]))
    return bool(
        _CREDIT_ANYWHERE.search(paragraph)
        or _CAPTION_OPENING.match(paragraph)
        or _DATE_STAMP.match(paragraph)
        or _COUNTER.match(paragraph)
        or _CREDIT_AT_END.search(paragraph[-160:])
    )
