"""The web pages' pure parts: shared/added/dropped passages, escaping and links, password
hashes, the list's cursor, the [web] settings, and `ingest web hash-password`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from ingestd.cli.main import main
from ingestd.config import load_settings
from ingestd.errors import ConfigError, UserError
from ingestd.service.web.auth import BasicAuth, hash_password, parse_hash, verify_password
from ingestd.service.web.highlight import compare, plain
from ingestd.service.web.listing import cursor_text, parse_cursor
from ingestd.service.web.markup import esc, href, link
from ingestd.service.web.serve import reach
from ingestd.store.clusterpages import Cursor

CANONICAL = (
    "The harbour strike ended on Monday after nine days of talks between the union and owners.\n"
    "Ships waiting in the bay began to unload at dawn, and the first lorries left by noon.\n"
    "Officials said the backlog would take two weeks to clear across all the terminals."
)


def _kinds(text: str, other: str) -> list[tuple[str, str]]:
    laid = compare(CANONICAL, other)
    return [(run.kind, run.text) for p in laid.paragraphs for run in p.runs if run.kind != "plain"]


def test_a_copy_shares_its_common_passages_and_marks_what_it_adds() -> None:
    copy = (
        "The harbour strike ended on Monday after nine days of talks between the union and "
        "owners.\nLocal cafes reported their busiest morning in weeks near the gates.\n"
        "Ships waiting in the bay began to unload at dawn, and the first lorries left by noon."
    )
    kinds = _kinds(CANONICAL, copy)
    assert kinds[0] == ("shared", CANONICAL.splitlines()[0])
    assert ("added", "Local cafes reported their busiest morning in weeks near the gates.") in kinds
    laid = compare(CANONICAL, copy)
    assert laid.dropped == (CANONICAL.splitlines()[2],)
    assert laid.dropped_words == 14 and laid.shared_words == 33


def test_case_and_punctuation_do_not_break_a_shared_passage() -> None:
    copy = "THE HARBOUR STRIKE ENDED ON MONDAY, after nine days of talks"
    assert _kinds(CANONICAL, copy) == [("shared", copy)]


def test_an_attribution_line_is_found_in_place() -> None:
    laid = plain("Some text here.\nThis article was originally published at a-times.example.")
    assert laid.paragraphs[0].credits == ()
    assert laid.paragraphs[1].credits == ("a-times.example",)


def test_empty_and_tiny_texts_are_laid_out_without_error() -> None:
    assert compare("", "").paragraphs == ()
    assert compare("one two", "two").shared_words == 1


def test_escaping_spells_out_controls_and_quotes() -> None:
    assert esc('<b a="1">\x1b') == "&lt;b a=&quot;1&quot;&gt;\\x1b"
    assert esc(None) == ""
    assert href("javascript:alert(1)") is None and href(" data:text/html,x") is None
    assert href('https://x.example/a b"c') == "https://x.example/a%20b%22c"
    assert link("javascript:alert(1)").startswith('<span class="nolink"')


def test_a_password_hash_checks_the_password_and_refuses_others() -> None:
    made = hash_password("s3cret", salt=b"0123456789abcdef")
    assert made.startswith("scrypt$16384$8$1$")
    assert verify_password("s3cret", parse_hash(made))
    assert not verify_password("s3cret ", parse_hash(made))
    for bad in ("", "scrypt$3$8$1$AA==$AA==", "bcrypt$x", "scrypt$16384$8$1$!!$AA=="):
        with pytest.raises(ValueError):
            parse_hash(bad)
    assert not BasicAuth("u", made).allows("Bearer abc")
    assert not BasicAuth("u", made).allows("Basic %%%")


def test_the_cursor_round_trips_and_refuses_garbage() -> None:
    cursor = Cursor(datetime(2026, 11, 20, 9, 0, 0, 123456, tzinfo=UTC), 42)
    assert parse_cursor(cursor_text(cursor)) == cursor
    for bad in ("1", "a.b", "1.2.3", "9" * 40 + ".1"):
        with pytest.raises(UserError):
            parse_cursor(bad)


def test_web_settings_are_read_and_checked(tmp_path: Path, isolated_env: Path) -> None:
    path = tmp_path / "c.toml"
    made = hash_password("pw", salt=b"x" * 16)
    path.write_text(f'[web]\nlisten = "0.0.0.0:8464"\nuser = "ed"\npassword_hash = "{made}"\n')
    web = load_settings(path).web
    assert (web.listen, web.user, web.password_hash) == ("0.0.0.0:8464", "ed", made)
    path.write_text('[web]\npassword_hash = "hunter2"\n')
    with pytest.raises(ConfigError, match="password_hash"):
        load_settings(path)


def test_the_start_line_says_who_can_reach_the_pages() -> None:
    assert reach("127.0.0.1", False) == "bound to 127.0.0.1: only this machine can open them"
    assert "without a password" in reach("0.0.0.0", False)
    assert reach("0.0.0.0", True).endswith("(basic auth required)")


def test_hash_password_prints_a_hash_the_settings_accept(isolated_env: Path) -> None:
    result = CliRunner().invoke(main, ["web", "hash-password"], input="pw\npw\n")
    assert result.exit_code == 0, result.output
    printed = result.output.strip().splitlines()[-1]
    assert verify_password("pw", parse_hash(printed))
    mismatch = CliRunner().invoke(main, ["web", "hash-password"], input="a\nb\nc\nc\n")
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output
