"""Benchmarks: not timed tests; each prints a table (`python -m bench.<name>`)."""
