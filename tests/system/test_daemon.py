"""The daemon (`ingest run`) as a real process: it polls, and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _demo_config(tmp_path: Path) -> Path:
    """The demo configuration with absolute file: URLs, in a temporary folder."""
    text = (ROOT / "config" / "demo.toml").read_text(encoding="utf-8")
    text = text.replace('"file:../demo/', f'"file://{ROOT}/demo/')
    path = tmp_path / "demo.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _items(config: Path, env: dict[str, str]) -> list[dict[str, object]]:
    out = subprocess.run(
        [sys.executable, "-m", "ingestd", "--config", str(config), "items", "list", "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return [json.loads(line) for line in out.splitlines()]


def test_daemon_polls_feeds_and_exits_zero_on_sigterm(tmp_path: Path) -> None:
    """`ingest run` ingests the demo feeds, then SIGTERM stops it with exit code 0."""
    config = _demo_config(tmp_path)
    env = {**os.environ, "INGESTD_STATE_DIR": str(tmp_path / "state"), "PYTHONPATH": str(ROOT)}
    env.pop("INGESTD_DATABASE_URL", None)
    daemon = subprocess.Popen(
        [sys.executable, "-m", "ingestd", "--config", str(config), "run"],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        items: list[dict[str, object]] = []
        while time.monotonic() < deadline and len(items) < 14:
            time.sleep(0.5)
            if (tmp_path / "state" / "ingestd.sqlite3").exists():
                items = _items(config, env)
        assert len(items) == 14, "the daemon did not ingest the demo within 30 s"
        daemon.send_signal(signal.SIGTERM)
        code = daemon.wait(timeout=15)
    finally:
        if daemon.poll() is None:
            daemon.kill()
    stderr = daemon.stderr.read() if daemon.stderr else ""
    assert code == 0, stderr
    events = [json.loads(line)["event"] for line in stderr.splitlines() if line.startswith("{")]
    assert "poll" in events and events[-1] == "stopped"
