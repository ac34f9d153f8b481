"""Benchmarks against the bare Temporal floor: `python3 dev.py bench`. Not tests."""
