"""Documentation that cannot drift: every command of the CLI and every configuration key is in
README.md, and ``config/ingestd.toml`` lists every key with its default value.

The keys come from :func:`ingestd.config.documented_keys`, which walks the settings dataclasses,
so a new section or field fails these tests until it is documented in both places.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

import click
import pytest

from ingestd.cli.main import main
from ingestd.config import Settings, documented_keys, load_settings

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")
EXAMPLE = ROOT / "config" / "ingestd.toml"
KEYS = documented_keys()


def command_paths(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[str]:
    """Every command below ``group`` as typed after ``ingest`` ("clusters show", "export")."""
    for name, command in sorted(group.commands.items()):
        if isinstance(command, click.Group):
            yield from command_paths(command, (*path, name))
        else:
            yield " ".join((*path, name))


COMMANDS = list(command_paths(main))


def readme_keys() -> set[str]:
    """Keys named in the README's configuration table: rows whose first cell starts with
    `[section] key` and may name more keys of that section (`[schedule] min_interval` /
    `max_interval`)."""
    found: set[str] = set()
    for line in README.splitlines():
        if not line.startswith("| `["):
            continue
        names = re.findall(r"`([^`]+)`", line.split("|")[1])
        section, _, first = names[0].partition(" ")
        section = section.strip("[]")
        found.update(f"{section}.{key}" for key in (first, *names[1:]))
    return found


def example_sections() -> dict[str, str]:
    """The text of each section of the example file (``[[feeds]]`` under "feeds"), comments
    included. A comment block standing alone after a blank line introduces the next section;
    one right under a header or a key belongs to the section it is in."""
    sections: dict[str, list[str]] = {"": []}
    current, pending, after_blank = "", [], True
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        header = re.match(r"^\[\[?([\w.]+)\]\]?", line)
        if header:
            current = header.group(1)
            sections.setdefault(current, []).extend(pending)
            pending, after_blank = [], False
        elif line.startswith("#") and (pending or after_blank):
            pending.append(line)
        elif not line.strip():
            after_blank = True
        else:
            sections[current].extend([*pending, line])
            pending, after_blank = [], False
    sections[current].extend(pending)
    return {name: "\n".join(lines) for name, lines in sections.items()}


def key_line(section_text: str, key: str) -> str | None:
    """The line ``key = value`` (possibly commented out) of a section, without the comment mark."""
    match = re.search(rf"^#?\s*({re.escape(key)}\s*=.*)$", section_text, re.MULTILINE)
    return match.group(1) if match else None


def load_snippet(tmp_path: Path, section: str, line: str) -> Settings:
    path = tmp_path / "snippet.toml"
    path.write_text(f"[{section}]\n{line}\n", encoding="utf-8")
    return load_settings(path)


# --- commands ----------------------------------------------------------------------------------


def test_the_command_tree_is_walked() -> None:
    assert {"clusters show", "feeds import", "export", "db upgrade"} <= set(COMMANDS)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_is_in_the_readme(command: str) -> None:
    assert f"ingest {command}" in README, f"README.md does not document `ingest {command}`"


def test_shell_completion_is_documented() -> None:
    assert "_INGEST_COMPLETE=bash_source ingest" in README


# --- configuration keys ------------------------------------------------------------------------


def test_the_keys_cover_every_section() -> None:
    sections = {key.split(".")[0] for key in KEYS}
    assert {"database", "http", "dedup", "schedule", "extract", "feeds"} <= sections
    assert "schedule.default_interval" in KEYS and "feeds.interval" in KEYS


@pytest.mark.parametrize("key", sorted(KEYS))
def test_every_key_is_in_the_readme(key: str) -> None:
    assert key in readme_keys(), f"README.md's configuration table lacks `{key}`"


@pytest.mark.parametrize("key", sorted(k for k in KEYS if not k.startswith("feeds.")))
def test_every_key_is_in_the_example_file_with_its_default(
    key: str, tmp_path: Path, isolated_env: Path
) -> None:
    """Listed in its section (commented out where it has no default), and its value, read by the
    loader, is the default."""
    section, name = key.split(".")
    line = key_line(example_sections().get(section, ""), name)
    assert line is not None, f"config/ingestd.toml does not list `{name}` under [{section}]"
    loaded = load_snippet(tmp_path, section, line)  # the loader accepts the key and value
    if section == "database" or KEYS[key] is None:
        return  # no default to show (computed, or unset): an example value is fine
    reference = Settings(database_url="x")
    assert getattr(loaded, section) == getattr(reference, section), (
        f"config/ingestd.toml: {line!r} is not the default {KEYS[key]!r}"
    )


def test_the_feeds_keys_are_described_in_the_example_file() -> None:
    text = example_sections().get("feeds", "")
    for key in (k.split(".")[1] for k in KEYS if k.startswith("feeds.")):
        assert re.search(rf"\b{key}\b", text), f"config/ingestd.toml never mentions feeds {key}"


def test_the_example_file_loads_to_the_defaults(isolated_env: Path) -> None:
    settings = load_settings(EXAMPLE)
    defaults = Settings(database_url=settings.database_url)
    for section in (k.split(".")[0] for k in KEYS):
        if section not in ("database", "feeds"):
            assert getattr(settings, section) == getattr(defaults, section), section
    assert settings.feeds  # real-world examples


def test_the_example_file_parses_as_toml() -> None:
    assert tomllib.loads(EXAMPLE.read_text(encoding="utf-8"))
