"""The naive baseline of ``bench/throughput.py``: what one would write in an afternoon.

One process, one thread, no dedup: for each feed in order, GET it through the replay proxy,
parse it with feedparser, and for each entry GET its page, extract the text with trafilatura
(ingestd's default settings: ``favor = "balanced"``, metadata on, comments off) and INSERT the
article into a SQLite file, committing once per feed.

    python -m bench.naive --proxy http://127.0.0.1:PORT --feeds feeds.txt --database naive.db

Prints one JSON object: feeds, pages fetched, articles stored, seconds.
"""

from __future__ import annotations

import argparse
import http.client
import json
import sqlite3
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import feedparser
import trafilatura


class ProxyClient:
    """GET any URL through a forward proxy in absolute form, on one kept-alive connection."""

    def __init__(self, proxy: str) -> None:
        parts = urlsplit(proxy)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def get(self, url: str) -> tuple[int, bytes]:
        for attempt in range(2):
            try:
                self.connection.request("GET", url, headers={"User-Agent": "naive/1"})
                answer = self.connection.getresponse()
                return answer.status, answer.read()
            except (http.client.HTTPException, OSError):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
                if attempt:
                    raise
        raise AssertionError("unreachable")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--proxy", required=True)
    parser.add_argument("--feeds", type=Path, required=True, help="a file with one URL per line")
    parser.add_argument("--database", type=Path, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    client = ProxyClient(args.proxy)
    database = sqlite3.connect(args.database)
    database.execute(
        "CREATE TABLE IF NOT EXISTS articles (url TEXT PRIMARY KEY, feed TEXT, title TEXT,"
        " published TEXT, text TEXT)"
    )
    feeds = [line.strip() for line in args.feeds.read_text().splitlines() if line.strip()]
    pages = stored = 0
    for feed_url in feeds:
        status, body = client.get(feed_url)
        if status != 200:
            continue
        for entry in feedparser.parse(body).entries:
            link = entry.get("link")
            if not link:
                continue
            status, page = client.get(link)
            pages += 1
            if status != 200:
                continue
            doc = trafilatura.bare_extraction(
                page,
                url=link,
                with_metadata=True,
                include_comments=False,
                date_extraction_params={"extensive_search": False, "original_date": True},
            )
            text = str(getattr(doc, "text", "") or "") if doc is not None else ""
            database.execute(
                "INSERT OR REPLACE INTO articles VALUES (?, ?, ?, ?, ?)",
                (link, feed_url, entry.get("title", ""), entry.get("published", ""), text),
            )
            stored += 1
        database.commit()
    database.close()
    seconds = time.perf_counter() - started
    print(json.dumps({"feeds": len(feeds), "pages": pages, "stored": stored, "s": seconds}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
