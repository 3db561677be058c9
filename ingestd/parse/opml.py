"""OPML subscription lists: read (with the line of every entry) and write OPML 2.0. Pure.

Reading accepts what feed readers export: outlines nested in folders to any depth, ``xmlUrl``
spelled in any case, the name in ``title`` else ``text``, ``htmlUrl`` kept. An entry that
cannot be used (an outline with neither ``xmlUrl`` nor children, a URL that is not absolute
``http(s)``) is a :class:`Problem` with its line, and reading goes on; so is a web page a
reader scrapes itself (FreshRSS's ``type="HTML+XPath"`` outlines), which is not a feed.
Writing nests the feeds in their folders again. A document that is not XML, or whose root
is not ``<opml>``, raises :class:`OpmlError` with the line. DTD entity declarations are refused
(no entity expansion, no external entities).
"""

from __future__ import annotations

import email.utils
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from xml.parsers import expat

from ingestd.safetext import xml_references

_NOT_XML_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


# ``type`` values of outlines that are feeds; others (FreshRSS's "HTML+XPath", "XML+XPath",
# "JSON+DotNotation", OPML's "link") are pages a reader scrapes or plain links.
FEED_TYPES = frozenset({"", "rss", "atom", "rdf", "json", "jsonfeed", "feed"})


@dataclass(frozen=True)
class OpmlFeed:
    """One usable subscription: its URL, name, line and enclosing folders (outermost first),
    and the outline's own ``title``, ``text`` and ``htmlUrl``."""

    url: str
    name: str | None
    line: int
    folders: tuple[str, ...] = ()
    title: str | None = None
    text: str | None = None
    html_url: str | None = None

    @property
    def folder(self) -> str | None:
        """The folder path, "/"-joined (None at the top level)."""
        names = [name for name in self.folders if name]
        return "/".join(names) or None


@dataclass(frozen=True)
class Problem:
    """An entry that was skipped, and why."""

    line: int
    message: str


@dataclass(frozen=True)
class OpmlDocument:
    """What an OPML file holds, in document order."""

    title: str | None
    feeds: tuple[OpmlFeed, ...]
    problems: tuple[Problem, ...]
    not_feeds: tuple[Problem, ...] = ()  # scraped web pages, reported and skipped


class OpmlError(ValueError):
    """The document is not OPML; ``line`` is where reading stopped (1-based)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True)
class Outline:
    """A feed to write: its URL, its label, the site it belongs to, its folder path
    ("/"-joined) and the outline text it was imported with (when it differs from the label)."""

    url: str
    text: str
    html_url: str | None = None
    folder: str | None = None
    outline_text: str | None = None


def xml_safe(text: str) -> str:
    """``text`` without the characters XML 1.0 cannot carry (most C0 controls)."""
    return _NOT_XML_CHARS.sub("", text)


def url_problem(url: str) -> str | None:
    """Why ``url`` cannot be a feed URL (absolute http or https with a host), or None."""
    if not url:
        return "empty xmlUrl"
    if any(ch.isspace() for ch in url):
        return f"xmlUrl {url!r} contains spaces"
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError for a bad port
    except ValueError as exc:
        return f"malformed xmlUrl {url!r}: {exc}"
    if parts.scheme.lower() not in ("http", "https"):
        return f"xmlUrl {url!r} is not an http(s) URL"
    if not parts.hostname:
        return f"xmlUrl {url!r} has no host"
    return None


@dataclass
class _Frame:
    """An open <outline> while reading."""

    attrs: dict[str, str]
    line: int
    children: bool = False

    @property
    def name(self) -> str | None:
        return self.title or self.text

    @property
    def title(self) -> str | None:
        return (self.attrs.get("title") or "").strip() or None

    @property
    def text(self) -> str | None:
        return (self.attrs.get("text") or "").strip() or None


@dataclass
class _Reader:
    """expat callbacks collecting outlines; ``parser`` gives the current line."""

    parser: Any
    root_seen: bool = False
    in_title: bool = False
    title: str = ""
    stack: list[_Frame] = field(default_factory=list)
    feeds: list[OpmlFeed] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    not_feeds: list[Problem] = field(default_factory=list)

    def start(self, name: str, attrs: dict[str, str]) -> None:
        line = self.parser.CurrentLineNumber
        if not self.root_seen:
            self.root_seen = True
            if name.lower() != "opml":
                raise OpmlError(line, f"not an OPML file: the root element is <{name}>")
        if name.lower() == "title" and not self.stack:
            self.in_title = True
        if name.lower() != "outline":
            return
        if self.stack:
            self.stack[-1].children = True
        self.stack.append(_Frame({k.lower(): v for k, v in attrs.items()}, line))

    def end(self, name: str) -> None:
        self.in_title = False
        if name.lower() == "outline" and self.stack:
            self._finish(self.stack.pop())

    def text(self, data: str) -> None:
        if self.in_title:
            self.title += data

    def _finish(self, frame: _Frame) -> None:
        label = f'outline "{frame.name}"' if frame.name else "outline"
        url = frame.attrs.get("xmlurl")
        if url is None:
            if not frame.children:
                self.problems.append(Problem(frame.line, f"{label} has no xmlUrl"))
            return
        kind = frame.attrs.get("type", "").strip()
        if kind.lower() not in FEED_TYPES:
            message = f'{label} is a web page its reader scrapes (type="{kind}"), not a feed'
            self.not_feeds.append(Problem(frame.line, message))
            return
        problem = url_problem(url.strip())
        if problem is not None:
            self.problems.append(Problem(frame.line, f"{label}: {problem}"))
            return
        folders = tuple(f.name or "" for f in self.stack)
        html_url = (frame.attrs.get("htmlurl") or "").strip() or None
        self.feeds.append(
            OpmlFeed(
                url.strip(), frame.name, frame.line, folders, frame.title, frame.text, html_url
            )
        )


def read_opml(data: bytes) -> OpmlDocument:
    """The subscriptions in an OPML document; OpmlError when it is not OPML at all."""
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    reader = _Reader(parser)
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.text
    parser.EntityDeclHandler = _refuse_entities(parser)
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        message = expat.ErrorString(exc.code) if exc.code is not None else str(exc)
        raise OpmlError(exc.lineno, f"not an OPML file: malformed XML: {message}") from None
    title = " ".join(reader.title.split()) or None
    return OpmlDocument(title, tuple(reader.feeds), tuple(reader.problems), tuple(reader.not_feeds))


def _refuse_entities(parser: Any) -> Any:
    def refuse(*_args: object) -> None:
        raise OpmlError(parser.CurrentLineNumber, "not an OPML file: declares XML entities")

    return refuse


def write_opml(title: str, outlines: Iterable[Outline], created: datetime) -> bytes:
    """An OPML 2.0 document: ``<head>`` with title and dateCreated (RFC 822), then one
    ``<outline type="rss">`` per feed in ``<body>``, inside its folders' outlines."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = xml_safe(title)
    ET.SubElement(head, "dateCreated").text = email.utils.format_datetime(created)
    body = ET.SubElement(root, "body")
    folders: dict[tuple[str, ...], ET.Element] = {(): body}
    for outline in outlines:
        attrs = {
            "type": "rss",
            "text": xml_safe(outline.outline_text or outline.text),
            "title": xml_safe(outline.text),
            "xmlUrl": xml_safe(outline.url),
        }
        if outline.html_url:
            attrs["htmlUrl"] = xml_safe(outline.html_url)
        path = tuple(name for name in (outline.folder or "").split("/") if name)
        ET.SubElement(_folder(folders, path), "outline", attrs)
    return xml_document(root)


def _folder(folders: dict[tuple[str, ...], ET.Element], path: tuple[str, ...]) -> ET.Element:
    """The ``<outline>`` of folder ``path`` (made, with its parents, on first use)."""
    found = folders.get(path)
    if found is None:
        parent = _folder(folders, path[:-1])
        name = xml_safe(path[-1])
        found = ET.SubElement(parent, "outline", {"text": name, "title": name})
        folders[path] = found
    return found


def xml_document(root: ET.Element) -> bytes:
    """``root`` indented and serialised as UTF-8 with an XML declaration; DEL, C1 controls,
    bidi overrides and line separators in it are character references (see
    :func:`ingestd.safetext.xml_references`)."""
    ET.indent(root)
    markup = ET.tostring(root, encoding="unicode")
    declaration = "<?xml version='1.0' encoding='utf-8'?>\n"
    return (declaration + xml_references(markup) + "\n").encode("utf-8")
