"""The command line's error contract: a user's mistake is one line on stderr and exit 2, a
runtime failure exit 1, never a traceback; every help text ends with an example."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import structlog
from click.testing import CliRunner, Result

from ingestd.cli import main

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.fixture(autouse=True)
def _forget_logging_setup() -> Iterator[None]:
    """The CLI configures structlog to write to the runner's (then closed) stderr: undo that."""
    yield
    structlog.reset_defaults()


def ingest(*args: str) -> Result:
    return CliRunner().invoke(main, list(args))


def one_error_line(result: Result) -> str:
    """The single line a failed command printed on stderr (checked: no traceback, no stdout)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    return lines[0]


@pytest.fixture
def config(tmp_path: Path) -> Path:
    """An empty configuration file (no feeds)."""
    path = tmp_path / "ingestd.toml"
    path.write_text("", encoding="utf-8")
    return path


# --- configuration mistakes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "command", [["--once"], ["clusters", "list"], ["items", "list"], ["db", "status"]]
)
def test_a_missing_config_file_is_exit_2_naming_the_file(
    tmp_path: Path, command: list[str]
) -> None:
    missing = tmp_path / "nowhere.toml"

    result = ingest("--config", str(missing), *command)

    assert result.exit_code == 2
    assert str(missing) in one_error_line(result)
    assert "not found" in result.stderr


def test_a_missing_config_file_named_by_the_environment_is_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "from-env.toml"
    monkeypatch.setenv("INGESTD_CONFIG", str(missing))

    result = ingest("clusters", "list")

    assert result.exit_code == 2
    assert str(missing) in one_error_line(result)


def test_an_unknown_key_is_exit_2_naming_file_and_key(tmp_path: Path) -> None:
    path = tmp_path / "typo.toml"
    path.write_text('[[feeds]]\nurl = "https://news.example/feed.xml"\nintervall = "1h"\n')

    result = ingest("--config", str(path), "--once")

    assert result.exit_code == 2
    line = one_error_line(result)
    assert str(path) in line
    assert "feeds[0].intervall" in line


def test_malformed_toml_is_exit_2(tmp_path: Path) -> None:
    path = tmp_path / "broken.toml"
    path.write_text("[http\ntimeout_s = = 5\n")

    result = ingest("--config", str(path), "items", "list")

    assert result.exit_code == 2
    line = one_error_line(result)
    assert str(path) in line
    assert "malformed TOML" in line


def test_a_bad_database_url_variable_is_exit_2_naming_it(
    config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INGESTD_DATABASE_URL", "mysql://localhost/ingestd")

    result = ingest("--config", str(config), "clusters", "list")

    assert result.exit_code == 2
    assert "INGESTD_DATABASE_URL" in one_error_line(result)


def test_once_without_feeds_is_exit_2(config: Path) -> None:
    result = ingest("--config", str(config), "--once")

    assert result.exit_code == 2
    line = one_error_line(result)
    assert str(config) in line
    assert "no [[feeds]]" in line


def test_once_with_a_command_is_a_usage_error(config: Path) -> None:
    result = ingest("--config", str(config), "--once", "clusters", "list")

    assert result.exit_code == 2
    assert "--once" in result.stderr


# --- lookups and runtime failures ---------------------------------------------------------------


def test_showing_a_missing_cluster_is_exit_2(config: Path, tmp_path: Path) -> None:
    result = ingest("--config", str(config), "clusters", "show", "999")

    assert result.exit_code == 2
    assert one_error_line(result) == "ingest: clusters show: no cluster with id 999"
    assert (tmp_path / "state" / "ingestd.sqlite3").is_file()  # the state directory was used


def test_a_cluster_id_that_is_not_a_number_is_a_usage_error(config: Path) -> None:
    result = ingest("--config", str(config), "clusters", "show", "twelve")

    assert result.exit_code == 2
    assert "twelve" in result.stderr


def test_listing_an_empty_database_prints_no_json_lines(config: Path) -> None:
    for command in (["clusters", "list", "--json"], ["items", "list", "--json"]):
        result = ingest("--config", str(config), *command)

        assert result.exit_code == 0, result.stderr
        assert result.stdout == ""


def test_a_database_that_cannot_be_opened_is_exit_1(
    config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("INGESTD_DATABASE_URL", f"sqlite:///{blocker}/sub/ingestd.sqlite3")

    result = ingest("--config", str(config), "clusters", "list")

    assert result.exit_code == 1
    assert one_error_line(result).startswith("ingest: store: ")


# --- help ---------------------------------------------------------------------------------------


def _commands(
    group: click.Group, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], bool]]:
    """Every (command path, is a group) below ``group``."""
    for name, command in sorted(group.commands.items()):
        is_group = isinstance(command, click.Group)
        yield (*path, name), is_group
        if is_group:
            yield from _commands(command, (*path, name))


COMMANDS = [path for path, is_group in _commands(main) if not is_group]
GROUPS = [path for path, is_group in _commands(main) if is_group]


def last_paragraph_of_help(*path: str) -> str:
    result = ingest(*path, "--help")
    assert result.exit_code == 0, result.output
    return " ".join(result.stdout.strip().split("\n\n")[-1].split())


def test_the_main_help_ends_with_an_example() -> None:
    assert last_paragraph_of_help().startswith("Example: ingest ")


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_help_ends_with_an_example(path: tuple[str, ...]) -> None:
    assert last_paragraph_of_help(*path).startswith("Example: ")


@pytest.mark.parametrize("path", GROUPS, ids=" ".join)
def test_every_group_help_ends_with_an_example(path: tuple[str, ...]) -> None:
    assert last_paragraph_of_help(*path).startswith("Example: ")


def test_the_command_list_is_not_empty() -> None:
    """Guards the two parametrized tests above against silently testing nothing."""
    assert ("clusters", "show") in COMMANDS
    assert ("db", "upgrade") in COMMANDS
    assert ("clusters",) in GROUPS


# --- as a real process --------------------------------------------------------------------------


def run_module(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("INGESTD_", "XDG_")) and key not in ("PYTHONPATH",)
    }
    env.update(
        PYTHONPATH=str(ROOT),
        HOME=str(tmp_path / "home"),
        INGESTD_STATE_DIR=str(tmp_path / "state"),
    )
    return subprocess.run(
        [sys.executable, "-m", "ingestd", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
        check=False,
    )


def test_a_missing_config_file_as_a_process(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"

    done = run_module(tmp_path, "--config", str(missing), "items", "list")

    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip() == f"ingest: {missing}: configuration file not found"


def test_a_missing_cluster_as_a_process(tmp_path: Path, config: Path) -> None:
    done = run_module(tmp_path, "--config", str(config), "clusters", "show", "999")

    assert done.returncode == 2
    assert done.stderr.strip() == "ingest: clusters show: no cluster with id 999"
