"""The systemd unit: the directives issue 5 asks for, read from ``systemd/ingestd.service``."""

from __future__ import annotations

from pathlib import Path

UNIT = Path(__file__).resolve().parents[1] / "systemd" / "ingestd.service"


def directives() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in UNIT.read_text(encoding="utf-8").splitlines():
        if "=" in line and not line.lstrip().startswith(("#", ";")):
            key, _, value = line.partition("=")
            found[key.strip()] = value.strip()
    return found


def test_the_unit_is_a_hardened_notify_service() -> None:
    unit = directives()
    assert unit["Type"] == "notify" and unit["NotifyAccess"] == "main"
    assert unit["ExecStart"].endswith(" run")
    assert unit["ExecReload"] == "/bin/kill -HUP $MAINPID"
    assert unit["WatchdogSec"] and unit["Restart"] == "on-failure"
    assert unit["RestartPreventExitStatus"] == "2"  # a configuration mistake: no restart loop
    assert unit["KillMode"] == "mixed"  # SIGTERM to the daemon, which stops its workers
    assert unit["DynamicUser"] == "yes"
    assert unit["StateDirectory"] == unit["ConfigurationDirectory"] == "ingestd"
    assert unit["ProtectSystem"] == "strict"
    for flag in ("ProtectHome", "PrivateTmp", "NoNewPrivileges"):
        assert unit[flag] == "yes", flag
    assert unit["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6"
    assert unit["SystemCallFilter"] == "@system-service"
    assert unit["MemoryMax"]


def test_stopping_takes_longer_than_the_daemons_own_shutdown_timeout() -> None:
    """TimeoutStopSec leaves room for [service] shutdown_timeout_s (default 10 s)."""
    stop = directives()["TimeoutStopSec"]
    assert stop.endswith("s") and float(stop[:-1]) > 10
