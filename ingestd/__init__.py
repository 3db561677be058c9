"""ingestd: polls feeds, extracts articles, and stores one canonical item per syndicated story."""

__version__ = "0.1.0"
