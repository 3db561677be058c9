"""``[extract] fast``: trafilatura's comparison with its fallback extractors runs only when it is
off, and the setting reaches the extraction through the pool's job function."""

from __future__ import annotations

from typing import Any

import pytest
import trafilatura.core

from ingestd.config import DedupSettings
from ingestd.dedup.params import signature_params
from ingestd.extract.article import extract_article
from ingestd.model import Article
from ingestd.pipeline import work

PARAGRAPH = (
    "The harbour authority confirmed on Monday that the old grain terminal will be turned into "
    "a ferry station, ending a dispute with the shipping companies that has lasted four years. "
)
PAGE = f"""<!DOCTYPE html><html><head><title>Grain terminal becomes ferry station</title></head>
<body><nav><a href="/">Home</a></nav><article><h1>Grain terminal becomes ferry station</h1>
{"".join(f"<p>{PARAGRAPH}Paragraph {n} adds its own detail.</p>" for n in range(5))}
</article><footer>Contact us</footer></body></html>"""
URL = "https://harbour.example/news/ferry-station"


@pytest.fixture
def comparisons(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts trafilatura's calls of its fallback comparison (the seam ``fast`` switches)."""
    calls: list[int] = []
    original = trafilatura.core.compare_extraction

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(trafilatura.core, "compare_extraction", counted)
    return calls


def test_the_fallback_comparison_runs_unless_fast(comparisons: list[int]) -> None:
    slow = extract_article(PAGE, URL)
    assert isinstance(slow, Article)
    assert len(comparisons) == 1

    quick = extract_article(PAGE, URL, fast=True)
    assert isinstance(quick, Article)
    assert len(comparisons) == 1  # not called again
    assert quick.text == slow.text  # a clean page: the main extractor alone finds it all
    assert quick.title == slow.title


def test_the_pool_job_passes_fast_on(comparisons: list[int]) -> None:
    params = signature_params(DedupSettings())
    prepared = work.page_job(PAGE.encode(), URL, "balanced", True, params)
    assert isinstance(prepared, tuple)
    assert isinstance(prepared[0], Article)
    assert comparisons == []
    work.page_job(PAGE.encode(), URL, "balanced", False, params)
    assert comparisons == [1]
