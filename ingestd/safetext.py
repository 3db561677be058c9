"""Stored text made safe to show: feed titles, links, errors and bodies are written by strangers.

A terminal obeys the control characters in what it prints: ESC starts escape sequences (CSI
colours and cursor moves, OSC 0 window titles, OSC 8 links, OSC 52 clipboard writes), C1
controls (U+0080-U+009F) are their 8-bit forms, BEL rings. :func:`visible` spells each such
character out (``\\x1b``, ``\\x9b``, ``\\u202e``) so that it is seen, never obeyed; the same goes
for the bidirectional overrides and isolates that reorder what follows them, and for the
Unicode line and paragraph separators. Everything else, accented letters and other scripts
included, is left as it is.

:func:`json_line` is ``json.dumps`` that also escapes those characters (JSON escapes C0 controls
by itself, but not DEL, C1 controls or the others), so ``--json`` output is safe on a terminal
too and still decodes to the stored text.
"""

from __future__ import annotations

import json
import re
from typing import Any

# C0 controls, DEL, C1 controls; line/paragraph separators; bidi embeddings, overrides, isolates.
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
# What json.dumps(ensure_ascii=False) leaves raw among the above (it escapes C0 itself).
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


def _spelled(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(text: str) -> str:
    """``text`` with every control character (and bidi override, line separator) spelled out as
    ``\\xNN`` or ``\\uNNNN``; text without any is returned as it is."""
    return _UNSAFE.sub(_spelled, text) if _UNSAFE.search(text) else text


def visible_or_empty(value: object) -> str:
    """:func:`visible` of ``str(value)``; ``""`` for None."""
    return "" if value is None else visible(str(value))


def _json_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match.group()):04x}"


def json_text(obj: Any, indent: int | None = None) -> str:
    """``obj`` as JSON, non-ASCII text as it is but no raw control character, C1 control, bidi
    override or line separator (they are ``\\uNNNN`` escapes, which decode to the same text)."""
    text = json.dumps(obj, ensure_ascii=False, indent=indent)
    return _UNSAFE_IN_JSON.sub(_json_escape, text)


def json_line(obj: Any) -> str:
    """One JSON object on one line, as :func:`json_text`."""
    return json_text(obj)


def _xml_reference(match: re.Match[str]) -> str:
    return f"&#x{ord(match.group()):x};"


def xml_references(markup: str) -> str:
    """Serialised XML with DEL, C1 controls, bidi overrides and line separators written as
    character references (the same characters to an XML reader, never raw bytes). Only for
    serialised XML whose C0 controls are already gone (they cannot be referenced in XML 1.0)."""
    return _UNSAFE_IN_JSON.sub(_xml_reference, markup)
