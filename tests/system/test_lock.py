"""One writer per SQLite database; the service settings; the watchdog of a stuck loop."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ingestd.config import load_settings, sqlite_file
from ingestd.errors import ConfigError
from ingestd.service.daemon import Service
from ingestd.service.lock import DatabaseBusyError, lock_path, writer_lock
from ingestd.service.notify import Notifier
from ingestd.store import Store


def test_lock_file_sits_next_to_the_sqlite_file(tmp_path: Path) -> None:
    assert lock_path(f"sqlite:///{tmp_path}/db.sqlite3") == tmp_path / "db.sqlite3.lock"
    assert lock_path("sqlite:///:memory:") is None
    assert lock_path("postgresql://user@host/db") is None  # several workers are allowed there


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:////tmp/ingestd/db.sqlite3",
        "sqlite:///relative/db.sqlite3?timeout=3",
        "sqlite+pysqlite:////tmp/a%20b.sqlite3",
        "sqlite:///~/ingestd.sqlite3",
        "sqlite:///:memory:",
        "sqlite://",
        "sqlite:///file:db.sqlite3?mode=ro&uri=true",
        "postgresql://user@host/db",
    ],
)
def test_the_sqlite_file_of_a_url_is_the_one_sqlalchemy_reads(url: str) -> None:
    """``config.sqlite_file`` (standard library only, used before SQLAlchemy is imported)
    reads a URL as SQLAlchemy's ``make_url`` does."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    database = parsed.database or ""
    no_file = database in ("", ":memory:") or database.startswith("file:")
    if parsed.get_backend_name() != "sqlite" or no_file:
        assert sqlite_file(url) is None
    else:
        assert sqlite_file(url) == Path(database).expanduser().absolute()


def test_a_second_writer_is_refused_until_the_first_lets_go(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/db.sqlite3"
    with writer_lock(url) as held:
        assert held is not None
        other_path = f"sqlite:///{tmp_path}/../{tmp_path.name}/db.sqlite3"  # the same file
        busy = pytest.raises(DatabaseBusyError, match="in use by another ingestd")
        with busy as caught, writer_lock(other_path):
            pass
        assert "one daemon or --once run at a time" in str(caught.value)
    with writer_lock(url):  # released
        pass


def test_the_lock_dies_with_its_process(tmp_path: Path) -> None:
    """kill -9 never leaves a stale lock: the kernel drops a dead process's flock."""
    url = f"sqlite:///{tmp_path}/db.sqlite3"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
                import sys, time
                sys.path.insert(0, {str(Path(__file__).parents[2])!r})
                from ingestd.service.lock import writer_lock
                with writer_lock({url!r}):
                    print("held", flush=True)
                    time.sleep(60)
            """),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(DatabaseBusyError, match=f"process {holder.pid}"), writer_lock(url):
            pass
        holder.kill()
        holder.wait()
        with writer_lock(url):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()


def test_service_settings_and_their_mistakes(tmp_path: Path, isolated_env: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text(
        '[service]\nshutdown_timeout_s = 4\n[metrics]\nlisten = "[::1]:9464"\n'
        "[retention]\ndays = 90\n"
    )
    settings = load_settings(path)
    assert settings.service.shutdown_timeout_s == 4.0
    assert settings.metrics.listen == "[::1]:9464"
    assert settings.retention.days == 90.0
    defaults = load_settings(None)
    assert defaults.service.shutdown_timeout_s == 10.0
    assert defaults.metrics.listen is None and defaults.retention.days == 0.0
    for text, problem in [
        ('[metrics]\nlisten = "9464"\n', "metrics.listen"),
        ('[metrics]\nlisten = "localhost:http"\n', "metrics.listen"),
        ("[retention]\ndays = -1\n", "retention.days"),
        ("[service]\nshutdown_timeout_s = 0\n", "service.shutdown_timeout_s"),
        ("[service]\nwatchdog = 1\n", "service.watchdog: unknown key"),
    ]:
        path.write_text(text)
        with pytest.raises(ConfigError, match=problem):
            load_settings(path)


def test_a_stuck_loop_stops_the_watchdog_pings(tmp_path: Path, isolated_env: Path) -> None:
    """The watchdog job pings only while the scheduler ticks and a pass makes progress."""
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(tmp_path / "notify.sock"))
    receiver.settimeout(0.2)
    store = Store.open(f"sqlite:///{tmp_path}/w.sqlite3")
    service = Service(load_settings(None), store, Notifier(str(tmp_path / "notify.sock")))
    try:
        asyncio.run(service._watchdog())
        assert receiver.recv(100) == b"WATCHDOG=1"
        service.liveness.last_tick -= 3600  # the scheduling loop stopped ticking
        asyncio.run(service._watchdog())
        with pytest.raises(TimeoutError):
            receiver.recv(100)
        service.liveness.ticked()
        service.liveness.busy = True
        service.liveness.last_progress -= 3600  # a pass stuck for an hour
        asyncio.run(service._watchdog())
        with pytest.raises(TimeoutError):
            receiver.recv(100)
    finally:
        service.endpoints.close()
        service.notifier.close()
        store.close()
        receiver.close()


def test_a_reload_logs_what_changed() -> None:
    from dataclasses import replace

    from ingestd.config import FeedConfig, HttpSettings, Settings
    from ingestd.service.reload import describe_changes

    old = Settings(
        database_url="postgresql://u:secret@db/x",
        feeds=(FeedConfig("https://a.example/feed"), FeedConfig("https://b.example/feed")),
    )
    new = replace(
        old,
        database_url="postgresql://u:other@db2/x",
        http=HttpSettings(timeout_s=30.0),
        feeds=(
            FeedConfig("https://a.example/feed", name="A", interval_s=3600.0),
            FeedConfig("https://c.example/feed"),
        ),
    )
    assert describe_changes(old, old) == []
    assert describe_changes(old, new) == [
        "database.url: postgresql://u:***@db/x → postgresql://u:***@db2/x",
        "http.timeout_s: 20.0 → 30.0",
        "feed added: https://c.example/feed",
        "feed removed: https://b.example/feed",
        "feed changed: https://a.example/feed (name: None → 'A', interval_s: None → 3600.0)",
    ]
