"""What ingestd serves and prints: the deduplicated feeds and the ``--json`` objects."""
