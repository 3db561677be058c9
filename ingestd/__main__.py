"""Allows ``python -m ingestd``."""

from ingestd.cli.main import main

main()
