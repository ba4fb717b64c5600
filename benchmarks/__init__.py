"""Benchmarks for aimaas; run them as scripts (see benchmarks/README.md), not as imports."""
