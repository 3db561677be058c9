"""Benchmarks: run each from the repository's root as ``python -m bench.NAME`` (see
``bench/README.md``); results in ``bench/RESULTS.md``."""
