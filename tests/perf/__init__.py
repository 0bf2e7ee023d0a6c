"""Benchmarks: figures against budgets, run with `python tests/perf/run.py`."""
