"""Benchmarks and soak runs, outside the test suite: they print figures."""
