"""Where the pages are served: ``ingest serve`` as a real process (it says where and who can
reach it, serves the pages and the feeds, stops on SIGTERM) and the daemon's listeners."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

from ingestd.config import Settings, WebSettings, load_settings
from ingestd.service.daemon import Service
from ingestd.service.notify import Notifier
from ingestd.store import Store
from tests.support import webdemo
from tests.support.webserver import fetch

ROOT = Path(__file__).resolve().parents[2]


def _config(tmp_path: Path, extra: str = "") -> Path:
    database = tmp_path / "serve.sqlite3"
    store = Store.open(f"sqlite:///{database}")
    try:
        webdemo.build(store)
    finally:
        store.close()
    path = tmp_path / "ingestd.toml"
    path.write_text(f'[database]\nurl = "sqlite:///{database}"\n{extra}', encoding="utf-8")
    return path


def test_ingest_serve_says_where_serves_the_pages_and_stops_on_sigterm(
    tmp_path: Path, isolated_env: Path
) -> None:
    config = _config(tmp_path)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "ingestd",
            "--config",
            str(config),
            "serve",
            "--listen",
            "127.0.0.1:0",
        ],
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stderr is not None
        line = ""
        for line in process.stderr:
            if "serving" in line:
                break
        found = re.search(r"at (http://127\.0\.0\.1:\d+/) \(bound to 127\.0\.0\.1: only this", line)
        assert found, line
        base = found.group(1).rstrip("/")
        status, headers, page = fetch(base + "/")
        assert status == 200 and "Harbour strike ends" in page
        assert "default-src 'none'" in headers["Content-Security-Policy"]
        assert fetch(base + "/feed.atom")[0] == 200
        assert fetch(base + "/metrics")[0] == 404  # pages and feeds only
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(10)


def test_ingest_serve_refuses_a_bad_address(tmp_path: Path, isolated_env: Path) -> None:
    config = _config(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "ingestd", "--config", str(config), "serve", "--listen", "nowhere"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 2 and "--listen" in done.stderr


def test_the_daemon_serves_the_pages_on_the_metrics_listener_unless_they_have_their_own(
    tmp_path: Path, isolated_env: Path
) -> None:
    store = Store.open(f"sqlite:///{tmp_path}/d.sqlite3")
    settings: Settings = load_settings(None)
    service = Service(settings, store, Notifier(str(tmp_path / "notify.sock")))
    try:
        shared = service.routes()
        assert {"/metrics", "/healthz", "/clusters/*", "/items/*", "/explain"} <= set(shared)
        assert shared["/"] is not service.endpoints.routes()["/"]  # the clusters list
        service.settings = Settings(
            database_url=settings.database_url, web=WebSettings(listen="127.0.0.1:0")
        )
        apart = service.routes()
        assert "/clusters/*" not in apart and "/metrics" in apart

        async def own_listener() -> tuple[int, int]:
            await service._start_web_listener("127.0.0.1:0", fatal=True)
            assert service.web_listener is not None
            base = f"http://127.0.0.1:{service.web_listener.port}"
            try:
                pages = await asyncio.to_thread(fetch, base + "/")
                metrics = await asyncio.to_thread(fetch, base + "/metrics")
            finally:
                await service._start_web_listener(None, fatal=False)
            return pages[0], metrics[0]

        assert asyncio.run(own_listener()) == (200, 404)
        assert service.web_listener is None
    finally:
        service.endpoints.close()
        service.web.close()
        service.notifier.close()
        store.close()
