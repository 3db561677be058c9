"""The systemd units: the directives issue 5 asks for, read from ``systemd/ingestd.service``;
``systemd-analyze verify`` and ``security`` on both units where systemd-analyze is installed."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "ingestd.service"


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


# --- checked by systemd itself -------------------------------------------------------------------


UNITS = (UNIT, UNIT.with_name("ingestd@.service"))
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(
    ANALYZE is None, reason="systemd-analyze not installed: the units are not verified here"
)


def _installed_copy(unit: Path, tmp_path: Path) -> Path:
    """The unit with ExecStart naming an executable that exists here (verify checks it)."""
    name = unit.name.replace("@.", "@1.")
    copy = tmp_path / name
    text = unit.read_text(encoding="utf-8").replace("/opt/ingestd/bin/ingest", sys.executable)
    copy.write_text(text, encoding="utf-8")
    return copy


@needs_analyze
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_systemd_analyze_verify_accepts_every_line(unit: Path, tmp_path: Path) -> None:
    """No unknown or misspelt directive, no bad value: verify prints nothing."""
    assert ANALYZE is not None
    done = subprocess.run(
        [ANALYZE, "verify", str(_installed_copy(unit, tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr.strip() == "" and done.stdout.strip() == ""


@needs_analyze
@pytest.mark.parametrize("unit", UNITS, ids=lambda u: u.name)
def test_the_units_are_sandboxed_to_an_exposure_of_2_or_less(unit: Path, tmp_path: Path) -> None:
    assert ANALYZE is not None
    done = subprocess.run(
        [ANALYZE, "security", "--offline=yes", str(_installed_copy(unit, tmp_path))],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", done.stdout)
    assert found, done.stdout + done.stderr
    assert float(found.group(1)) <= 2.0


def test_readme_installs_where_exec_start_looks() -> None:
    """The README's install recipe (a venv in /opt/ingestd, as Debian and Ubuntu refuse
    `sudo pip install`) puts `ingest` where both units' ExecStart runs it."""
    readme = (UNIT.parents[1] / "README.md").read_text(encoding="utf-8")
    assert "sudo python3 -m venv /opt/ingestd" in readme
    assert "sudo /opt/ingestd/bin/pip install ." in readme
    assert "sudo pip install ." not in readme
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8")
        assert "ExecStart=/opt/ingestd/bin/ingest " in text, unit.name
