"""Benchmarks and soak runs, outside the test suite: they print figures.

python3 dev.py bench                      # against the bare Temporal floor
.venv/bin/python -m bench.soak            # kills and restarts under load
"""
