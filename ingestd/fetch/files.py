"""``file:`` URLs: a local feed or page read from disk, with the same limits as HTTP."""

from __future__ import annotations

import hashlib
import mimetypes
from pathlib import Path
from urllib.parse import urlsplit
from urllib.request import url2pathname

from ingestd.fetch.status import failed
from ingestd.model import Fetched, FetchResult, NotModified, Validators


def read_file(url: str, max_bytes: int, validators: Validators | None) -> FetchResult:
    """Read a ``file:`` URL (absolute, or relative to the working directory); blocking.

    At most ``max_bytes`` + 1 bytes are read. The ETag is a hash of the content, so an
    unchanged file gives :class:`NotModified`.
    """
    try:
        parts = urlsplit(url)
    except ValueError as exc:  # e.g. a bad [IPv6] host
        return failed(url, f"invalid URL {url}: {exc}")
    if parts.netloc not in ("", "localhost"):
        return failed(url, f"file URL with a remote host is not supported: {url}")
    path = Path(url2pathname(parts.path))
    try:
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except FileNotFoundError:
        return failed(url, f"file not found: {path}")
    except OSError as exc:
        return failed(url, f"cannot read {path}: {exc.strerror or exc}")
    if len(body) > max_bytes:
        return failed(url, f"body larger than {max_bytes} bytes in {path}")
    etag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
    if validators is not None and validators.etag == etag:
        return NotModified(url)
    content_type = mimetypes.guess_type(path.name)[0]
    headers = {"content-type": content_type} if content_type else {}
    return Fetched(url, 200, body, content_type, Validators(etag=etag), headers)
