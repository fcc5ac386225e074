"""Benchmarks of hrec-ingest: the real daemon and simulator as separate processes.

Not part of the test suite. ``python -m benchmarks.run`` measures throughput,
latency, requests per file and the daemon's CPU per file against the built-in
simulator, and compares with the guide's plain sequential workflow
(``benchmarks.baseline_client``); ``python -m benchmarks.upload_big`` measures
one very large upload. See docs/benchmarks.md.
"""
