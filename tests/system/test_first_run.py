"""The first run after the demo: a bare ``ingest`` without any configuration file says where it
looked and how to start (exit 2) instead of sitting there; ``--config`` is accepted after the
command too; the test run's last lines say which groups were skipped and why."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog
from click.testing import CliRunner

from ingestd.cli.main import _config_first, main
from ingestd.config import config_candidates
from tests.conftest import ROOT, skip_groups

pytestmark = pytest.mark.usefixtures("isolated_env")


@pytest.fixture(autouse=True)
def _forget_logging_setup() -> Iterator[None]:
    yield
    structlog.reset_defaults()


@pytest.fixture
def no_config_anywhere() -> None:
    if any(path.is_file() for path in config_candidates()):
        pytest.skip(f"a configuration file exists on this machine: {config_candidates()}")


@pytest.mark.usefixtures("no_config_anywhere")
@pytest.mark.parametrize("args", [[], ["run"]])
def test_a_bare_ingest_without_a_configuration_file_says_where_it_looked_and_exits_2(
    args: list[str],
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ingestd", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )

    assert result.returncode == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith("ingest: no configuration file: none named by --config or ")
    for path in config_candidates():
        assert str(path) in line
    assert "config/ingestd.toml" in line and "ingest feeds add" in line


@pytest.mark.parametrize(
    ("given", "moved"),
    [
        (["feeds", "list", "--config", "a.toml"], ["--config", "a.toml", "feeds", "list"]),
        (["feeds", "list", "--config=a.toml"], ["--config=a.toml", "feeds", "list"]),
        (["--config", "a.toml", "feeds", "list"], ["--config", "a.toml", "feeds", "list"]),
        (["feeds", "add", "--", "--config"], ["feeds", "add", "--", "--config"]),
    ],
)
def test_config_may_come_after_the_command(given: list[str], moved: list[str]) -> None:
    assert _config_first(given) == moved


def test_feeds_list_reads_the_config_named_after_the_command(tmp_path: Path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text('[[feeds]]\nurl = "https://after.example/feed"\n', encoding="utf-8")

    result = CliRunner().invoke(main, ["feeds", "list", "--json", "--config", str(config)])

    assert result.exit_code == 0, result.stderr
    assert "https://after.example/feed" in result.stdout


def test_the_example_configuration_says_its_feeds_need_the_internet() -> None:
    head = (ROOT / "config" / "ingestd.toml").read_text(encoding="utf-8")[:600]

    assert "needs the internet" in head
    assert "config/demo.toml" in head


def test_skipped_tests_are_summarised_by_reason_with_how_to_run_them() -> None:
    lines = skip_groups(
        ["INGESTD_TEST_POSTGRES_URL not set"] * 3 + ["cannot listen on 127.0.0.2: nope"]
    )

    assert lines == [
        "3 skipped: INGESTD_TEST_POSTGRES_URL not set (set INGESTD_TEST_POSTGRES_URL="
        "postgresql://postgres@127.0.0.1:5432/test to run them)",
        "1 skipped: cannot listen on 127.0.0.2: nope",
    ]
