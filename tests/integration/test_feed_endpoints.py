"""`/feed.atom` and `/feed.json` on the daemon's HTTP listener, over the ingested demo."""

from __future__ import annotations

import asyncio
import gzip
import json
import urllib.error
import urllib.request
from pathlib import Path

import feedparser
import pytest

from ingestd.config import load_settings
from ingestd.pipeline.runner import run_once
from ingestd.service.endpoints import Endpoints, Liveness
from ingestd.service.metrics import Metrics
from ingestd.store import Store
from tests.integration.test_metrics import _get, _serve

ROOT = Path(__file__).resolve().parents[2]


def test_the_listener_serves_the_deduplicated_stream(tmp_path: Path) -> None:
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    config = tmp_path / "demo.toml"
    text = text.replace('"file:../demo/', f'"file://{ROOT}/demo/')
    database = f'[database]\nurl = "sqlite:///{tmp_path}/d.sqlite3"\n'
    config.write_text(text.replace("[database]\n", database, 1), encoding="utf-8")
    settings = load_settings(config)
    assert run_once(settings).new_items == 14
    store = Store.open(settings.database_url)
    endpoints = Endpoints(store, Metrics(), Liveness(tick_s=10.0), lambda: 4)

    async def check(base: str) -> None:
        status, headers, body = await asyncio.to_thread(_get, base + "/feed.atom")
        assert status == 200 and headers["Content-Type"].startswith("application/atom+xml")
        parsed = feedparser.parse(body)
        assert not parsed.bozo and len(parsed.entries) == 11  # 2 stories with copies + 9 alone
        status, headers, body = await asyncio.to_thread(_get, base + "/feed.json?limit=5")
        document = json.loads(body)
        assert status == 200 and document["version"] == "https://jsonfeed.org/version/1.1"
        assert len(document["items"]) == 5
        carried = [item for item in document["items"] if item["_ingestd"]["republications"]]
        assert all(rep["url"] for item in carried for rep in item["_ingestd"]["republications"])
        status, _, _ = await asyncio.to_thread(_get, base + "/feed.json?since=yesterday-ish")
        assert status == 400

    try:
        _serve(endpoints.routes(), check)
    finally:
        endpoints.close()
        store.close()


# --- what the served feeds promise to readers ----------------------------------------------------


def _demo_endpoints(tmp_path: Path, public_url: str | None) -> tuple[Store, Endpoints]:
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    config = tmp_path / "demo.toml"
    text = text.replace('"file:../demo/', f'"file://{ROOT}/demo/')
    database = f'[database]\nurl = "sqlite:///{tmp_path}/d.sqlite3"\n'
    config.write_text(text.replace("[database]\n", database, 1), encoding="utf-8")
    settings = load_settings(config)
    assert run_once(settings).new_items == 14
    store = Store.open(settings.database_url)
    return store, Endpoints(store, Metrics(), Liveness(tick_s=10.0), lambda: 4, public_url)


def _ask(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return answer.status, dict(answer.headers), answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_feed_ids_and_self_links_come_from_the_public_url_not_the_host_header(
    tmp_path: Path,
) -> None:
    public = "https://news.example.org/ingestd/"
    store, endpoints = _demo_endpoints(tmp_path, public)

    async def check(base: str) -> None:
        _, _, first = await asyncio.to_thread(_ask, base + "/feed.atom?limit=3&x=1")
        _, _, spoofed = await asyncio.to_thread(
            _ask, base + "/feed.atom?limit=3", Host="evil.example"
        )
        assert first == spoofed  # nothing of the request's Host reaches the document
        parsed = feedparser.parse(first)
        assert parsed.feed.id == "https://news.example.org/ingestd/stories"
        assert [(link.rel, link.href) for link in parsed.feed.links] == [
            ("self", "https://news.example.org/ingestd/feed.atom?limit=3"),
            ("alternate", "https://news.example.org/ingestd/"),
        ]
        _, _, body = await asyncio.to_thread(_ask, base + "/feed.json", Host="evil.example")
        document = json.loads(body)
        assert document["home_page_url"] == public
        assert document["feed_url"] == public + "feed.json"
        assert b"evil.example" not in body
        status, headers, page = await asyncio.to_thread(_ask, base + "/")
        assert status == 200 and headers["Content-Type"].startswith("text/html")
        assert b'href="feed.atom"' in page and b'href="feed.json"' in page

    try:
        _serve(endpoints.routes(), check)
    finally:
        endpoints.close()
        store.close()


def test_readers_poll_cheaply_with_validators_gzip_and_max_age(tmp_path: Path) -> None:
    store, endpoints = _demo_endpoints(tmp_path, "http://127.0.0.1:9464/")

    async def check(base: str) -> None:
        for path in ("/feed.atom", "/feed.json"):
            status, headers, body = await asyncio.to_thread(_ask, base + path)
            assert status == 200
            assert headers["Cache-Control"] == "public, max-age=300"
            etag, modified = headers["ETag"], headers["Last-Modified"]
            assert "Content-Encoding" not in headers
            status, again, empty = await asyncio.to_thread(
                _ask, base + path, **{"If-None-Match": etag}
            )
            assert (status, empty, again["ETag"]) == (304, b"", etag)
            status, _, _ = await asyncio.to_thread(
                _ask, base + path, **{"If-Modified-Since": modified}
            )
            assert status == 304
            status, _, _ = await asyncio.to_thread(
                _ask, base + path, **{"If-None-Match": '"something-else"'}
            )
            assert status == 200
            status, zipped, packed = await asyncio.to_thread(
                _ask, base + path, **{"Accept-Encoding": "gzip"}
            )
            assert status == 200 and zipped["Content-Encoding"] == "gzip"
            assert zipped["Vary"] == "Accept-Encoding"
            assert gzip.decompress(packed) == body and len(packed) < len(body)
            status, _, _ = await asyncio.to_thread(
                _ask, base + path, **{"If-None-Match": zipped["ETag"]}
            )
            assert status == 304  # either form's tag names the same document

    try:
        _serve(endpoints.routes(), check)
    finally:
        endpoints.close()
        store.close()


@pytest.mark.parametrize(
    "query", ["since=0d", "since=99999999999d", "since=9999-12-31T23:59-01:00", "limit=-1"]
)
def test_a_bad_query_value_is_400_with_one_line(tmp_path: Path, query: str) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/q.sqlite3")
    endpoints = Endpoints(store, Metrics(), Liveness(tick_s=10.0), lambda: 0, None)

    async def check(base: str) -> None:
        for path in ("/feed.atom", "/feed.json"):
            status, _, body = await asyncio.to_thread(_ask, f"{base}{path}?{query}")
            assert status == 400, body
            assert body.startswith(b"export: ") and body.count(b"\n") == 1

    try:
        _serve(endpoints.routes(), check)
    finally:
        endpoints.close()
        store.close()
