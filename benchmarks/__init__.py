"""Throughput and memory benchmarks: ``python -m benchmarks`` (see README.md here)."""
