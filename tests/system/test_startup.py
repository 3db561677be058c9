"""The main process starts without the heavy modules: the pool's workers import them."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HEAVY = ("numpy", "scipy", "datasketch", "trafilatura", "feedparser", "lxml")


def test_the_daemon_and_cli_modules_import_no_heavy_module() -> None:
    """numpy, scipy (datasketch), trafilatura, feedparser and lxml cost 0.06-1.3 s each to
    import; a pass that finds nothing new, and every CLI command, must start without them."""
    probe = (
        "import sys\n"
        "import ingestd.cli.main, ingestd.service.daemon, ingestd.pipeline.runner\n"
        "import ingestd.pipeline\n"
        f"print(','.join(name for name in {HEAVY!r} if name in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == ""
