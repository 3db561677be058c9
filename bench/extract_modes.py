"""Extraction settings (issue 7, item 5): the CPU cost and the text quality of each mode.

For every ``[extract] favor`` (precision, balanced, recall), with ``fast`` off and on, runs
ingestd's own ``extract_article`` on every page of ``../shared/corpus/pages`` in this one process
and reports:

* ``cpu_s``: the CPU seconds for all pages (one core);
* ``snippets_found``: the share of the manifest's ``with`` snippets (sentences of the article
  that a good extraction keeps) found in the text;
* ``boilerplate_kept_out``: the share of its ``without`` snippets (cookie notices, newsletter
  prompts, related links) absent from the text;
* ``no_text``: pages that gave no article (``ExtractFailed``).

The modes run one after another, so a drift of the machine's speed during the run shows in
``cpu_s``: ``--repeat 2`` runs the whole set twice, in reverse order the second time.

    python -m bench.extract_modes                 # a table
    python -m bench.extract_modes --json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from bench import replay
from ingestd.extract.article import extract_article
from ingestd.model import Article

BENCH = Path(__file__).resolve().parent


MODES = [(favor, fast) for favor in ("precision", "balanced", "recall") for fast in (False, True)]


def load_pages() -> list[tuple[dict[str, Any], bytes]]:
    """The manifest entries with their saved HTML (exits with a message without the corpus)."""
    pages = replay.corpus_dir() / "pages"
    manifest = json.loads((pages / "manifest.json").read_text("utf-8"))
    return [(entry, (pages / entry["file"]).read_bytes()) for entry in manifest]


def measure(pages: list[tuple[dict[str, Any], bytes]], favor: str, fast: bool) -> dict[str, Any]:
    """One mode over every page: its CPU time and how much of each page's text it got right."""
    clock = time.process_time()
    texts = []
    for entry, html in pages:
        article = extract_article(html, entry["url"], favor, fast)
        texts.append(article.text if isinstance(article, Article) else None)
    cpu_s = time.process_time() - clock
    found = wanted = kept_out = unwanted = 0
    for (entry, _), text in zip(pages, texts, strict=True):
        for snippet in entry.get("with", []):
            wanted += 1
            found += bool(text) and snippet in text
        for snippet in entry.get("without", []):
            unwanted += 1
            kept_out += not text or snippet not in text
    return {
        "favor": favor,
        "fast": fast,
        "pages": len(pages),
        "cpu_s": round(cpu_s, 2),
        "ms_per_page": round(1000 * cpu_s / len(pages), 1),
        "snippets_found": round(found / wanted, 3) if wanted else None,
        "boilerplate_kept_out": round(kept_out / unwanted, 3) if unwanted else None,
        "no_text": sum(text is None for text in texts),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=1, help="rounds (every other one reversed)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    pages = load_pages()
    rounds: list[list[dict[str, Any]]] = []
    for index in range(args.repeat):
        order = MODES if index % 2 == 0 else MODES[::-1]
        rounds.append([measure(pages, favor, fast) for favor, fast in order])
    results = []
    for favor, fast in MODES:
        runs = [r for one in rounds for r in one if (r["favor"], r["fast"]) == (favor, fast)]
        result = dict(runs[0])  # text scores do not change between runs; CPU time does
        result["cpu_s_runs"] = [r["cpu_s"] for r in runs]
        results.append(result)
    if args.json:
        print(json.dumps(results))
        return 0
    print(
        "| favor | fast | CPU s (runs) | ms/page | snippets found | boilerplate kept out "
        "| no text |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        runs = " / ".join(f"{s:.2f}" for s in r["cpu_s_runs"])
        print(
            f"| {r['favor']} | {str(r['fast']).lower()} | {runs} | {r['ms_per_page']} | "
            f"{r['snippets_found']} | {r['boilerplate_kept_out']} | {r['no_text']} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
