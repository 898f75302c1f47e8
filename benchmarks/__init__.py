"""Benchmark scripts (see README.md); a package only so scripts can import ``benchmarks.harness``."""
