"""The layout's rules, read from the source (see README, "Where things are"): each library is
imported only by the folder whose job it is, the dedup decisions are pure, and package
``__init__`` files import nothing heavy."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "ingestd"

# library -> the folder(s) allowed to import it
OWNERS = {
    "sqlalchemy": ("store",),
    "psycopg": ("store",),
    "sqlite3": ("store",),
    "click": ("cli",),
    "rich": ("cli",),
    "feedparser": ("parse",),
    "trafilatura": ("extract",),
    "aiohttp": ("fetch", "service"),
}
# dedup's decisions: text in, verdicts out (link, curation, explain, evaluate, stories and
# sitecontext read and write the store on their behalf)
PURE_DEDUP = (
    "attribution",
    "canonical",
    "captions",
    "compare",
    "headlines",
    "keys",
    "links",
    "normalize",
    "params",
    "partition",
    "profile",
    "quality",
    "signature",
)
IO_MODULES = ("sqlalchemy", "aiohttp", "socket", "sqlite3", "psycopg", "ingestd.store")
IO_MODULES += ("ingestd.fetch", "ingestd.pipeline", "ingestd.service", "subprocess")


def imported(path: Path) -> set[str]:
    """Every module ``path`` imports, at any depth (lazy imports included)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def folder_of(path: Path) -> str:
    parts = path.relative_to(PACKAGE).parts
    return parts[0] if len(parts) > 1 else ""


def test_each_library_is_imported_only_by_the_folder_whose_job_it_is() -> None:
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for name in imported(path):
            top = name.split(".")[0]
            owners = OWNERS.get(top)
            if owners is not None and folder_of(path) not in owners:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not wrong, "\n".join(sorted(set(wrong)))


def test_the_dedup_decisions_do_no_io() -> None:
    wrong = []
    for module in PURE_DEDUP:
        path = PACKAGE / "dedup" / f"{module}.py"
        for name in imported(path):
            if any(name == io or name.startswith(io + ".") for io in IO_MODULES):
                wrong.append(f"dedup/{module}.py imports {name}")
    assert not wrong, "\n".join(wrong)


def test_every_module_lives_in_a_stage_folder_or_the_shared_kernel() -> None:
    kernel = {"__init__", "__main__", "config", "errors", "lazy", "model", "safetext", "urls"}
    loose = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in kernel)
    assert not loose, f"modules outside the stage folders: {loose}"


@pytest.mark.parametrize(
    "package",
    sorted(
        ".".join(("ingestd", *p.parent.relative_to(PACKAGE).parts))
        for p in PACKAGE.rglob("__init__.py")
    ),
)
def test_importing_a_package_imports_no_heavy_library(package: str) -> None:
    heavy = ("sqlalchemy", "aiohttp", "numpy", "trafilatura", "feedparser", "rich", "click")
    probe = f"import sys, {package}\nprint(','.join(m for m in {heavy!r} if m in sys.modules))\n"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"{package} imports {done.stdout.strip()}"
