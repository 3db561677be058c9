"""The daemon as systemd runs it: a real `ingest run` process under a notify socket, with its
HTTP listener, SIGHUP reloads, SIGTERM/SIGINT shutdowns and the one-writer lock."""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ingestd.store import Store
from ingestd.store.migrations import HEAD, MIGRATIONS
from ingestd.store.upkeep import problems
from tests.integration.test_metrics import parse_exposition
from tests.support.bigworld import write_files
from tests.support.httpserver import LoopbackServer, Reply
from tests.support.sites import REPO, run_ingest
from tests.system.test_crash import wait_group_gone
from tests.system.test_daemon import _demo_config


@dataclass
class Daemon:
    process: subprocess.Popen[bytes]
    stderr: Path
    notify: socket.socket | None

    def events(self) -> list[dict[str, Any]]:
        text = self.stderr.read_text(encoding="utf-8", errors="replace")
        return [json.loads(line) for line in text.splitlines() if line.startswith("{")]

    def wait_event(self, match: Callable[[dict[str, Any]], bool], timeout_s: float = 30) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(match(event) for event in self.events()):
                return
            assert self.process.poll() is None, self.stderr.read_text()[-3000:]
            time.sleep(0.05)
        raise AssertionError(f"no such log event in {timeout_s} s:\n{self.stderr.read_text()}")

    def messages(
        self, until: Callable[[str], bool] | None = None, timeout_s: float = 30
    ) -> list[str]:
        """Notify datagrams up to and including the first for which ``until`` is true (or all
        that arrive within ``timeout_s`` without ``until``)."""
        assert self.notify is not None
        found: list[str] = []
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.notify.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                found.append(self.notify.recv(4096).decode())
            except TimeoutError:
                break
            if until is not None and until(found[-1]):
                return found
        assert until is None, f"notify messages so far: {found}"
        return found


def _start(config: Path, state: Path, tmp_path: Path, env: dict[str, str] | None = None) -> Daemon:
    stderr = tmp_path / f"daemon-{secrets.token_hex(3)}.log"
    environment = {k: v for k, v in os.environ.items() if not k.startswith("INGESTD_")}
    environment.pop("NOTIFY_SOCKET", None)
    environment.update(INGESTD_STATE_DIR=str(state), PYTHONPATH=str(REPO), **(env or {}))
    with stderr.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "ingestd", "--config", str(config), "run"],
            cwd=REPO,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=sink,
            start_new_session=True,  # a group of its own: its pool workers can be found
        )
    return Daemon(process, stderr, None)


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    name = f"ingestd-test-{secrets.token_hex(6)}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    yield sock, "@" + name
    sock.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def _stop(daemon: Daemon) -> None:
    if daemon.process.poll() is None:
        daemon.process.kill()
        daemon.process.wait()


def _consistent(state: Path) -> list[str]:
    store = Store.open(f"sqlite:///{state}/ingestd.sqlite3", migrate=False)
    try:
        with store.transaction(write=False) as tx:
            return problems(tx)
    finally:
        store.close()


def test_the_daemon_under_systemd(tmp_path: Path, notify_socket: tuple[socket.socket, str]) -> None:
    """READY once the store is migrated, STATUS after the pass, WATCHDOG from the loop, /metrics
    and /healthz, a second writer refused, SIGHUP reloads (and rejects a broken file), SIGTERM
    sends STOPPING and exits 0."""
    sock, address = notify_socket
    port = _free_port()
    config = _demo_config(tmp_path)
    base = config.read_text() + f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n'
    config.write_text(base)
    state = tmp_path / "state"
    env = {"NOTIFY_SOCKET": address, "WATCHDOG_USEC": "1000000"}
    daemon = _start(config, state, tmp_path, env)
    daemon.notify = sock
    try:
        starting = daemon.messages(lambda m: m.startswith("READY=1"))
        store = Store.open(f"sqlite:///{state}/ingestd.sqlite3", migrate=False)
        assert store.schema_version() == HEAD  # READY came after the migrations
        # and each migration asked systemd first to extend the start timeout
        extended = [m for m in starting if m.startswith("EXTEND_TIMEOUT_USEC=")]
        assert len(extended) == len(MIGRATIONS), starting
        assert f"STATUS=applying schema migration {HEAD}:" in extended[-1]
        store.close()
        seen = daemon.messages(lambda m: "14 new" in m)
        assert seen[-1].startswith("STATUS=last pass") and "4 feeds polled" in seen[-1]
        pings = daemon.messages(timeout_s=1.6)
        assert pings.count("WATCHDOG=1") >= 2  # every 0.5 s (half of WatchdogSec)

        assert _get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")
        samples = parse_exposition(_get(f"http://127.0.0.1:{port}/metrics")[1])
        assert samples["ingestd_items"] == 14 and samples["ingestd_clusters"] == 2
        assert samples['ingestd_polls_total{outcome="new"}'] == 4
        assert samples["ingestd_items_new_total"] == 14
        assert samples['ingestd_feeds{status="ok"}'] == 4

        for args in (["run"], ["--once"]):  # one writer per SQLite database
            second = run_ingest(args, state, config=config, timeout_s=30)
            assert second.returncode == 1, second.stderr
            assert "in use by another ingestd" in second.stderr
            assert f"process {daemon.process.pid}" in second.stderr

        extra = write_files(tmp_path / "extra", 1, (3,))[0]
        config.write_text(base + f'\n[[feeds]]\nurl = "{extra}"\nname = "extra"\n')
        daemon.process.send_signal(signal.SIGHUP)
        daemon.messages(lambda m: m.startswith("RELOADING=1"))
        daemon.messages(lambda m: m.startswith("READY=1"))
        daemon.wait_event(lambda e: e["event"] == "reload")
        reload = next(e for e in daemon.events() if e["event"] == "reload")
        assert reload["changes"] == [f"feed added: {extra}"]
        daemon.wait_event(lambda e: e["event"] == "poll" and e["feed"] == extra)
        samples = parse_exposition(_get(f"http://127.0.0.1:{port}/metrics")[1])
        assert samples["ingestd_items"] == 14 + 3 and samples["ingestd_feeds_configured"] == 5

        config.write_text(base + "\n[service]\nshutdown_timeout = 3\n")  # a misspelt key
        daemon.process.send_signal(signal.SIGHUP)
        daemon.wait_event(lambda e: e["event"].startswith("reload rejected"))
        rejected = next(e for e in daemon.events() if e["event"].startswith("reload rejected"))
        assert "service.shutdown_timeout: unknown key" in rejected["error"]
        assert _get(f"http://127.0.0.1:{port}/healthz") == (200, "ok\n")

        daemon.process.send_signal(signal.SIGTERM)
        daemon.messages(lambda m: m.startswith("STOPPING=1"))
        assert daemon.process.wait(timeout=15) == 0
    finally:
        _stop(daemon)
    assert daemon.events()[-1]["event"] == "stopped"
    assert _consistent(state) == []


@pytest.fixture
def slow_world(tmp_path: Path) -> Iterator[tuple[LoopbackServer, Path]]:
    """A loopback feed of three entries whose pages answer after ``page_delay_s`` (set by the
    test on the server), plus the demo's file: feeds."""
    with LoopbackServer() as server:
        config = _demo_config(tmp_path)
        items = "".join(
            f"<item><title>Slow {n}</title><link>{server.url(f'/slow-{n}')}</link>"
            f"<guid>slow-{n}</guid><description>Entry {n}</description></item>"
            for n in range(3)
        )
        feed = f'<?xml version="1.0"?><rss version="2.0"><channel><title>Slow</title>{items}'
        kind = {"Content-Type": "application/rss+xml"}
        server.route("/feed", Reply(200, kind, (feed + "</channel></rss>").encode()))
        config.write_text(
            config.read_text()
            + "\n[http]\nallow_private_networks = true\nmin_host_gap_s = 0\n"
            + f'\n[[feeds]]\nurl = "{server.url("/feed")}"\nname = "slow"\n'
        )
        yield server, config


def _slow_pages(server: LoopbackServer, delay_s: float) -> None:
    page = b"<html><body><article><p>" + b"A slow page about the harbour. " * 40 + b"</p></article>"
    for n in range(3):
        server.route(f"/slow-{n}", Reply(200, {"Content-Type": "text/html"}, page, delay_s=delay_s))


def _slow_feed_items(state: Path, feed_url: str) -> int:
    store = Store.open(f"sqlite:///{state}/ingestd.sqlite3", migrate=False)
    try:
        with store.transaction(write=False) as tx:
            return len(tx.list_items(feed_url))
    finally:
        store.close()


def _wait_for_slow_pages(server: LoopbackServer, timeout_s: float = 30) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if any(r.target.startswith("/slow-") for r in server.requests):
            return
        time.sleep(0.05)
    raise AssertionError("the slow pages were never requested")


@pytest.mark.parametrize(
    ("delay_s", "timeout_s", "stored"),
    [(1.5, 8, 3), (60, 3, 0)],
    ids=["in-flight-poll-finishes", "in-flight-poll-abandoned"],
)
def test_sigterm_lets_polls_finish_or_abandons_them_within_the_timeout(
    tmp_path: Path,
    slow_world: tuple[LoopbackServer, Path],
    delay_s: float,
    timeout_s: float,
    stored: int,
) -> None:
    """SIGTERM mid-poll: exit 0 within shutdown_timeout_s; the poll is either complete or
    absent (and due again), never half-written."""
    server, config = slow_world
    _slow_pages(server, delay_s)
    config.write_text(config.read_text() + f"\n[service]\nshutdown_timeout_s = {timeout_s}\n")
    state = tmp_path / "state"
    daemon = _start(config, state, tmp_path)
    try:
        _wait_for_slow_pages(server)
        clock = time.monotonic()
        daemon.process.send_signal(signal.SIGTERM)
        code = daemon.process.wait(timeout=timeout_s + 5)
        took_s = time.monotonic() - clock
    finally:
        _stop(daemon)
    assert code == 0, daemon.stderr.read_text()[-3000:]
    assert took_s <= timeout_s + 1.5, took_s  # slack for a loaded machine
    assert _slow_feed_items(state, server.url("/feed")) == stored
    events = [e["event"] for e in daemon.events()]
    assert ("polls in flight abandoned at shutdown" in events) == (stored == 0)
    assert events[-1] == "stopped"
    assert _consistent(state) == []


def test_a_second_signal_exits_at_once_and_consistent(
    tmp_path: Path, slow_world: tuple[LoopbackServer, Path]
) -> None:
    server, config = slow_world
    _slow_pages(server, 60)
    config.write_text(config.read_text() + "\n[service]\nshutdown_timeout_s = 60\n")
    state = tmp_path / "state"
    daemon = _start(config, state, tmp_path)
    try:
        _wait_for_slow_pages(server)
        daemon.process.send_signal(signal.SIGTERM)
        daemon.wait_event(lambda e: e["event"] == "signal received, stopping")
        clock = time.monotonic()
        daemon.process.send_signal(signal.SIGINT)
        code = daemon.process.wait(timeout=10)
        took_s = time.monotonic() - clock
    finally:
        _stop(daemon)
    assert code == 128 + signal.SIGINT
    assert took_s < 1.5, took_s
    assert wait_group_gone(daemon.process.pid) == []  # no orphaned pool workers
    assert _slow_feed_items(state, server.url("/feed")) == 0
    assert _consistent(state) == []


def test_a_taken_metrics_port_stops_the_daemon_with_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = _demo_config(tmp_path)
        config.write_text(config.read_text() + f'\n[metrics]\nlisten = "127.0.0.1:{port}"\n')
        result = run_ingest(["run"], tmp_path / "state", config=config, timeout_s=60)
    assert result.returncode == 1
    assert f"ingest: metrics: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr


def test_after_sigterm_no_new_poll_starts(tmp_path: Path) -> None:
    """One request at a time to the host, the slow feed first: SIGTERM while its answer is on
    its way lets that poll finish, and the four feeds still waiting for the host's turn are
    given up, not polled (they stay due for the next start)."""
    with LoopbackServer() as server:
        empty = '<?xml version="1.0"?><rss version="2.0"><channel><title>{}</title></channel></rss>'
        kind = {"Content-Type": "application/rss+xml"}
        server.route("/feed", Reply(200, kind, empty.format("slow").encode(), delay_s=1.5))
        for n in range(4):
            server.route(f"/other-{n}", Reply(200, kind, empty.format(n).encode()))
        feeds = [server.url("/feed"), *(server.url(f"/other-{n}") for n in range(4))]
        config = tmp_path / "first.toml"
        config.write_text(
            "[http]\nallow_private_networks = true\nmin_host_gap_s = 0\n"
            "per_host_concurrency = 1\n\n"
            + "".join(f'[[feeds]]\nurl = "{url}"\n\n' for url in feeds)
        )
        state = tmp_path / "state"
        daemon = _start(config, state, tmp_path)
        try:
            deadline = time.monotonic() + 30
            while not any(r.target == "/feed" for r in server.requests):
                assert time.monotonic() < deadline, "the slow feed was never requested"
                time.sleep(0.02)
            daemon.process.send_signal(signal.SIGTERM)
            assert daemon.process.wait(timeout=15) == 0
        finally:
            _stop(daemon)
        asked = [r.target for r in server.requests]
    polled = [e["feed"] for e in daemon.events() if e["event"] == "poll"]
    assert polled == [server.url("/feed")]
    assert asked == ["/feed"]
    store = Store.open(f"sqlite:///{state}/ingestd.sqlite3", migrate=False)
    with store.transaction(write=False) as tx:
        assert sum(feed.last_polled_at is None for feed in tx.feeds()) == 4
        assert all(feed.lease_owner is None for feed in tx.feeds())
    store.close()
    assert _consistent(state) == []
