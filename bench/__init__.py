"""Benchmarks (`make bench`): every `bench/bench_*.py` module's `run()` returns one Table to print."""
