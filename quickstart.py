#!/usr/bin/env python3
"""Set up ingestd in ./.venv and run the offline demo or the test suite.

    python3 quickstart.py demo   # install, ingest the bundled offline demo, print its clusters
    python3 quickstart.py test   # install with test tools, run the whole test suite

Needs only Python 3.11+ (and the package index, the first time). Extra arguments after
``test`` go to pytest.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = Path(os.environ.get("INGESTD_VENV", ROOT / ".venv"))
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
DEMO_STATE = ROOT / ".state" / "demo"


def _run(*args: str | Path, env: dict[str, str] | None = None) -> int:
    return subprocess.call([str(a) for a in args], cwd=ROOT, env=env)


def _install(extras: str) -> None:
    """Create the virtual environment and install the project (once per set of extras)."""
    if sys.version_info < (3, 11):  # noqa: UP036 - an older python3 may run this script
        sys.exit(f"quickstart: ingestd needs Python 3.11+, this is {sys.version.split()[0]}")
    python = BIN / "python"
    if not python.exists():
        print(f"quickstart: creating {VENV}", flush=True)
        venv.EnvBuilder(with_pip=True).create(VENV)
    stamp = VENV / f".installed-{extras or 'base'}"
    source_time = max(p.stat().st_mtime for p in (ROOT / "pyproject.toml", ROOT / "quickstart.py"))
    if stamp.exists() and stamp.stat().st_mtime >= source_time:
        return
    print(
        "quickstart: installing ingestd and its dependencies (first run takes a minute)", flush=True
    )
    target = f".[{extras}]" if extras else "."
    pip = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if _run(*pip, "--editable", target) != 0:
        sys.exit("quickstart: pip install failed (see above)")
    stamp.touch()


def demo() -> int:
    """Ingest the offline demo into a fresh SQLite file and print the clusters found."""
    _install("")
    shutil.rmtree(DEMO_STATE, ignore_errors=True)
    env = {**os.environ, "INGESTD_STATE_DIR": str(DEMO_STATE), "INGESTD_CONFIG": "config/demo.toml"}
    env.pop("INGESTD_DATABASE_URL", None)
    ingest = BIN / "ingest"
    code = _run(ingest, "--once", env=env)
    if code != 0:
        return code
    code = _run(ingest, "clusters", "list", env=env)
    listing = subprocess.run(
        [str(ingest), "clusters", "list", "--json"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in listing.stdout.splitlines():
        cluster_id = line.split('"id": ', 1)[1].split(",", 1)[0]
        code = code or _run(ingest, "clusters", "show", cluster_id, env=env)
    print(
        f"\nThe demo database is {DEMO_STATE / 'ingestd.sqlite3'}; explore it with, e.g.:\n"
        f"  INGESTD_STATE_DIR={DEMO_STATE} {ingest} items list"
    )
    return code


def test(pytest_args: list[str]) -> int:
    """Install with the test tools and run pytest."""
    _install("dev")
    return _run(BIN / "python", "-m", "pytest", *pytest_args)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test"):
        print(__doc__.strip())
        return 2
    return demo() if sys.argv[1] == "demo" else test(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
