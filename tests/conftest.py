"""Shared fixtures: an isolated environment, invented prose, and a fresh store per dialect.

``store`` (and ``database_url``) run a test on SQLite (a temporary file) and on PostgreSQL when
``INGESTD_TEST_POSTGRES_URL`` names a server (e.g. ``postgresql://postgres@127.0.0.1:5432/test``):
each test gets its own temporary schema, dropped afterwards, so tests never touch other data and
can run in parallel.
"""

from __future__ import annotations

import os
import random
import secrets
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ingestd.store import Store

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # the package is not installed in the virtualenv
    sys.path.insert(0, str(ROOT))

POSTGRES_ENV = "INGESTD_TEST_POSTGRES_URL"
_ENV_NAMES = (
    "INGESTD_CONFIG",
    "INGESTD_DATABASE_URL",
    "INGESTD_STATE_DIR",
    "STATE_DIRECTORY",
    "CONFIGURATION_DIRECTORY",
    "XDG_DATA_HOME",
    "XDG_CONFIG_HOME",
)


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No ingestd variable leaks in from outside; HOME and the state dir are under tmp_path."""
    for name in _ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("INGESTD_STATE_DIR", str(tmp_path / "state"))
    return tmp_path


# --- invented prose ----------------------------------------------------------------------------

_SYLLABLES = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
_VOCABULARY = sorted(
    {"".join(random.Random(n).choices(_SYLLABLES, k=2 + n % 3)) for n in range(6000)}
)

Prose = Callable[..., list[str]]


def _paragraphs(seed: int, count: int = 10, min_words: int = 45, max_words: int = 70) -> list[str]:
    """``count`` paragraphs of invented words, the same for the same seed, distinct otherwise."""
    rng = random.Random(seed)
    result = []
    for _ in range(count):
        words = rng.choices(_VOCABULARY, k=rng.randint(min_words, max_words))
        result.append(words[0].capitalize() + " " + " ".join(words[1:]) + ".")
    return result


@pytest.fixture
def prose() -> Prose:
    """``prose(seed, count=10, min_words=45, max_words=70)``: paragraphs of invented story text.

    With the default sizes every paragraph has more than 40 words, so no boilerplate pattern
    applies to it.
    """
    return _paragraphs


# --- databases ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/t.sqlite3"
        return
    yield from _postgres_schema()


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    """A migrated, empty :class:`ingestd.store.Store`, closed afterwards."""
    from ingestd.store import Store

    opened = Store.open(database_url)
    try:
        yield opened
    finally:
        opened.close()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL schema as a database URL (skipped without the variable)."""
    yield from _postgres_schema()


def _postgres_schema() -> Iterator[str]:
    """Create a unique schema, yield a URL whose search_path is it, drop it afterwards."""
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        pytest.skip(f"{POSTGRES_ENV} not set")
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    admin = create_engine(make_url(base).set(drivername="postgresql+psycopg"))
    schema = f"t_{secrets.token_hex(8)}"
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{base}{'&' if '?' in base else '?'}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# --- what was skipped, said last -----------------------------------------------------------------

_HOW_TO_RUN = {
    POSTGRES_ENV: f"set {POSTGRES_ENV}=postgresql://postgres@127.0.0.1:5432/test to run them",
    "corpus": "put the shared corpus at ../shared/corpus (or $INGESTD_CORPUS) to run them",
}


def skip_groups(reasons: list[str]) -> list[str]:
    """One line per reason tests were skipped: how many, why, and how to run them."""
    counts: dict[str, int] = {}
    for reason in reasons:
        counts[reason] = counts.get(reason, 0) + 1
    lines = []
    for reason, count in sorted(counts.items(), key=lambda pair: (-pair[1], pair[0])):
        hint = next((how for key, how in _HOW_TO_RUN.items() if key in reason), None)
        lines.append(f"{count} skipped: {reason}" + (f" ({hint})" if hint else ""))
    return lines


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The last lines of a run say which groups of tests were skipped, why, and how to run
    them (PostgreSQL tests need ``INGESTD_TEST_POSTGRES_URL``)."""
    reasons = []
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = getattr(report, "longrepr", None)
        if isinstance(longrepr, tuple) and len(longrepr) == 3:
            reasons.append(str(longrepr[2]).removeprefix("Skipped: "))
    if not reasons:
        return
    terminalreporter.section("skipped groups")
    for line in skip_groups(reasons):
        terminalreporter.write_line(line)
