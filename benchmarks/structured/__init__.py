"""Structured concurrency benchmarks: treadle vs AnyIO-on-asyncio vs Trio (see run.py)."""
