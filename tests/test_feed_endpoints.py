"""`/feed.atom` and `/feed.json` on the daemon's HTTP listener, over the ingested demo."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import feedparser

from ingestd.config import load_settings
from ingestd.endpoints import Endpoints, Liveness
from ingestd.metrics import Metrics
from ingestd.runner import run_once
from ingestd.store import Store
from tests.test_metrics import _get, _serve

ROOT = Path(__file__).resolve().parents[1]


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
