"""Benchmarks: `make bench` (run.py), the yardsticks it compares against, and helpers.

Never shipped (pyproject lists the four packages explicitly); imported as `benchmarks.*` from the
repository root.
"""
