"""Benchmarks comparing treadle's loop with asyncio's default loop and uvloop.

``python benchmarks/run.py`` is the entry point; docs/performance.md explains the method.
Each measurement runs in a fresh process started as ``python -m benchmarks.worker``.
"""
