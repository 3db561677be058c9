"""The ``ingest`` command: click commands, rendering for the terminal, progress."""
