"""Time of ``ingest feeds import`` of a large OPML file into a fresh SQLite store (issue 29).

Generates an OPML file of ``--feeds`` feeds (default 100,000) on ``--hosts`` host names
(default 20,000, ``feed-N.hostM.test``) in nested folders, plus a few duplicate spellings
(scheme, ``www.``, trailing slash), in a temporary directory; then runs the real ``ingest
feeds import`` in a subprocess and prints its wall time, its summary line and the feeds stored.

    python -m bench.import_opml [--feeds 100000] [--hosts 20000] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from xml.sax.saxutils import quoteattr

REPO = Path(__file__).resolve().parents[1]


def write_opml(path: Path, feeds: int, hosts: int) -> int:
    """Write the OPML file: ``feeds`` feeds in 10 folders of 10 sub-folders, then one
    duplicate spelling per thousand feeds; returns the number of duplicates written."""
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', '<opml version="2.0">']
    lines.append("<head><title>bench</title></head><body>")
    per_folder = max(1, feeds // 100)
    for top in range(10):
        lines.append(f'<outline text="Folder {top}">')
        for sub in range(10):
            lines.append(f'<outline text="Sub {top}.{sub}">')
            start = (top * 10 + sub) * per_folder
            for n in range(start, min(start + per_folder, feeds)):
                url = f"http://feed-{n}.host{n % hosts}.test/feed.xml"
                lines.append(
                    f'<outline type="rss" text={quoteattr(f"Feed {n}")} xmlUrl={quoteattr(url)}'
                    f' htmlUrl="http://feed-{n}.host{n % hosts}.test/"/>'
                )
            lines.append("</outline>")
        lines.append("</outline>")
    duplicates = 0
    for n in range(0, feeds, 1000):
        url = f"https://www.feed-{n}.host{n % hosts}.test/feed.xml/"
        lines.append(f'<outline type="rss" text="again" xmlUrl="{url}"/>')
        duplicates += 1
    lines.append("</body></opml>")
    path.write_text("\n".join(lines), encoding="utf-8")
    return duplicates


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--feeds", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=20_000)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ingestd-import-") as tmp:
        work = Path(tmp)
        opml = work / "feeds.opml"
        duplicates = write_opml(opml, args.feeds, args.hosts)
        config = work / "ingestd.toml"
        database = work / "ingestd.sqlite3"
        config.write_text(f'[database]\nurl = "sqlite:///{database}"\n', encoding="utf-8")
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        command = [sys.executable, "-m", "ingestd", "--config", str(config)]
        command += ["feeds", "import", str(opml)]
        started = time.perf_counter()
        done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        wall_s = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"import failed ({done.returncode}): {done.stderr.strip()}")
        with sqlite3.connect(database) as conn:
            stored = conn.execute("SELECT count(*) FROM feeds").fetchone()[0]
    result = {
        "feeds": args.feeds,
        "hosts": args.hosts,
        "duplicate_spellings": duplicates,
        "wall_s": round(wall_s, 2),
        "stored": stored,
        "summary": done.stdout.strip(),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{args.feeds} feeds on {args.hosts} hosts: {wall_s:.2f} s ({stored} stored)")
        print(f"ingest said: {result['summary']}")


if __name__ == "__main__":
    main()
