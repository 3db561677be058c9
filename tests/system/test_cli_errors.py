"""The command line's error contract: a user's mistake is one line on stderr and exit 2, a
runtime failure exit 1, never a traceback; every help text ends with an example."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
import structlog
from click.testing import CliRunner, Result

from ingestd.cli.main import main

ROOT = Path(__file__).resolve().parents[2]

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


def run_env(tmp_path: Path) -> dict[str, str]:
    """The environment of a real ``ingest`` process: no ingestd or XDG variable from outside,
    HOME and the state directory under ``tmp_path``."""
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
    return env


def run_module(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ingestd", *args],
        capture_output=True,
        text=True,
        env=run_env(tmp_path),
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


# --- numbers out of range, unknown feeds ---------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "names"),
    [
        (["clusters", "show", "99999999999999999999999"], "CLUSTER_ID"),
        (["export", "--limit", "99999999999999999999"], "--limit"),
        (["items", "list", "--limit", "99999999999999999999"], "--limit"),
        (["clusters", "list", "--limit", "0"], "--limit"),
        (["export", "--since", "0d"], "--since"),
        (["export", "--since", "99999999999d"], "--since"),
        (["export", "--since", "9" * 400 + "d"], "--since"),
        (["export", "--since", "9999-12-31T23:59:59-01:00"], "--since"),
    ],
)
def test_numbers_out_of_range_are_one_line_and_exit_2(
    config: Path, command: list[str], names: str
) -> None:
    result = ingest("--config", str(config), *command)

    assert result.exit_code == 2, result.output
    line = one_error_line(result)
    assert line.startswith(f"ingest: {command[0]}") and names in line, line


@pytest.mark.parametrize(
    "command",
    [
        ["clusters", "pin", "99999999999999999999999"],
        ["clusters", "split", "99999999999999999999999"],
        ["clusters", "unsplit", "²"],
        ["clusters", "explain", "1", "99999999999999999999"],
    ],
)
def test_an_item_number_no_database_holds_names_nothing(config: Path, command: list[str]) -> None:
    result = ingest("--config", str(config), *command)

    assert result.exit_code == 2
    assert one_error_line(result).startswith("ingest: no item with id or URL ")


def test_a_usage_mistake_is_one_line_naming_the_command_and_its_help(config: Path) -> None:
    result = ingest("--config", str(config), "clusters", "show", "twelve")

    line = one_error_line(result)
    assert line.startswith("ingest: clusters show: Invalid value for 'CLUSTER_ID'")
    assert line.endswith("(see `ingest clusters show --help`)")


def test_items_of_an_unknown_feed_is_exit_2(config: Path) -> None:
    result = ingest("--config", str(config), "items", "list", "--feed", "https://nowhere.example/")

    assert result.exit_code == 2
    assert one_error_line(result) == (
        "ingest: items list: no feed https://nowhere.example/ (see `ingest feeds list`)"
    )


@pytest.mark.parametrize("command", [["items", "list"], ["export"]])
def test_an_empty_feed_url_names_no_feed(tmp_path: Path, command: list[str]) -> None:
    """A feed with no earlier URLs has an empty alias list, which an empty URL matched."""
    config = tmp_path / "one.toml"
    config.write_text('[[feeds]]\nurl = "https://one.example/feed.xml"\n', encoding="utf-8")
    assert ingest("--config", str(config), "feeds", "list").exit_code == 0

    result = ingest("--config", str(config), *command, "--feed", "")

    assert result.exit_code == 2
    assert "no feed" in one_error_line(result)


# --- exit codes of passes and polls ---------------------------------------------------------------

GOOD_RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>Good</title>
<item><title>One</title><guid>one</guid><description>{words}</description></item>
</channel></rss>"""


@pytest.fixture
def feeds_dir(tmp_path: Path) -> Path:
    """A folder with good.xml (a feed) and no missing.xml."""
    folder = tmp_path / "feeds"
    folder.mkdir()
    words = " ".join(f"word{n}" for n in range(60))
    (folder / "good.xml").write_text(GOOD_RSS.format(words=words), encoding="utf-8")
    return folder


def _config_with(tmp_path: Path, *names: str) -> Path:
    path = tmp_path / "feeds.toml"
    entries = "".join(f'[[feeds]]\nurl = "file:feeds/{name}"\n' for name in names)
    path.write_text(entries, encoding="utf-8")
    return path


def test_once_exits_3_when_every_due_feed_failed(tmp_path: Path, feeds_dir: Path) -> None:
    config = _config_with(tmp_path, "missing.xml")

    done = run_module(tmp_path, "--config", str(config), "--once")

    assert done.returncode == 3, done.stderr
    assert done.stdout.strip() == "polled 1 feed: 0 new items, 0 republications linked, 1 failures"


def test_once_exits_0_when_some_feeds_worked_and_3_with_strict(
    tmp_path: Path, feeds_dir: Path
) -> None:
    config = _config_with(tmp_path, "good.xml", "missing.xml")

    done = run_module(tmp_path, "--config", str(config), "--once")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().endswith("1 failures")

    (feeds_dir / "good.xml").touch()  # nothing is due any more: a second pass polls nothing
    again = run_module(tmp_path, "--config", str(config), "--once", "--strict")
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("polled 0 feeds")

    strict_state = tmp_path / "strict"
    strict = subprocess.run(
        [sys.executable, "-m", "ingestd", "--config", str(config), "--once", "--strict"],
        capture_output=True,
        text=True,
        env={**run_env(tmp_path), "INGESTD_STATE_DIR": str(strict_state)},
        cwd=tmp_path,
        timeout=60,
        check=False,
    )
    assert strict.returncode == 3, strict.stderr


def test_strict_without_once_is_a_usage_error(config: Path) -> None:
    result = ingest("--config", str(config), "--strict", "items", "list")

    assert result.exit_code == 2
    assert "--strict" in one_error_line(result)


def test_feeds_poll_exits_1_when_the_poll_failed(tmp_path: Path, feeds_dir: Path) -> None:
    config = _config_with(tmp_path, "good.xml", "missing.xml")
    failed = run_module(
        tmp_path, "--config", str(config), "feeds", "poll", _uri(feeds_dir, "missing.xml")
    )
    worked = run_module(
        tmp_path, "--config", str(config), "feeds", "poll", _uri(feeds_dir, "good.xml")
    )

    assert failed.returncode == 1, failed.stderr
    assert ": failed, 0 entries" in failed.stdout and "file not found" in failed.stdout
    assert worked.returncode == 0, worked.stderr
    assert ": new, 1 entries, 1 new items" in worked.stdout


def _uri(folder: Path, name: str) -> str:
    return (folder / name).resolve().as_uri()


# --- configured feeds are changed only by their configuration file --------------------------------


def test_feed_commands_without_a_configuration_file_leave_configured_feeds_alone(
    tmp_path: Path, feeds_dir: Path
) -> None:
    """`ingest feeds ...` run without the daemon's file (no --config, none in the default
    places) used to sync an empty list and mark every configured feed removed."""
    config = _config_with(tmp_path, "good.xml", "missing.xml")
    assert run_module(tmp_path, "--config", str(config), "feeds", "list").returncode == 0
    opml = tmp_path / "more.opml"
    opml.write_text(
        '<opml version="2.0"><body><outline xmlUrl="https://more.example/feed"/></body></opml>'
    )

    for command in (
        ["feeds", "list"],
        ["feeds", "list", "--json", "--all"],
        ["feeds", "export"],
        ["feeds", "import", str(opml)],
        ["feeds", "add", "--no-check", "https://added.example/feed.xml"],
        ["feeds", "remove", "https://added.example/feed.xml"],
        ["feeds", "poll", _uri(feeds_dir, "good.xml")],
        ["--once"],
    ):
        done = run_module(tmp_path, *command)
        assert done.returncode in (0, 3), (command, done.stderr)
        if command[0] == "feeds":
            assert "no configuration file found" in done.stderr, command

    listed = run_module(tmp_path, "feeds", "list", "--json", "--all")
    sources = {
        f["url"]: (f["source"], f["active"]) for f in map(json.loads, listed.stdout.splitlines())
    }
    assert sources == {
        _uri(feeds_dir, "good.xml"): ("config", True),
        _uri(feeds_dir, "missing.xml"): ("config", True),
        "https://more.example/feed": ("cli", True),
        "https://added.example/feed.xml": ("cli", False),
    }
    with_file = run_module(tmp_path, "--config", str(config), "feeds", "list")
    assert f"ingest: configuration file {config} (its [[feeds]] are synced)" in with_file.stderr


def test_a_file_without_feeds_still_removes_them(tmp_path: Path, feeds_dir: Path) -> None:
    """Loading the configuration file is how configured feeds change: a file that lists none
    removes them (their items stay)."""
    config = _config_with(tmp_path, "good.xml")
    assert run_module(tmp_path, "--config", str(config), "feeds", "list").returncode == 0
    config.write_text("", encoding="utf-8")

    listed = run_module(tmp_path, "--config", str(config), "feeds", "list", "--json", "--all")

    (feed,) = map(json.loads, listed.stdout.splitlines())
    assert (feed["source"], feed["active"]) == ("config", False)
