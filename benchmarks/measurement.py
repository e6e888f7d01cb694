"""What one benchmark run reports: a count of operations, the seconds they took, extra facts."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import TracebackType


@dataclass(frozen=True)
class Measurement:
    # The operations done inside the timed span (callbacks run, requests echoed, ...).
    ops: int
    # Wall time of the timed span, from time.perf_counter: the figure the report ranks by.
    seconds: float
    # CPU time this process spent in the span (time.process_time), or None where the work is
    # spread over several processes (echo). Less disturbed by other load on a shared machine,
    # so the report prints it as a cross-check.
    cpu_seconds: float | None = None
    # Facts reported for information only, never turned into ratios (memory, for instance).
    info: dict[str, float] = field(default_factory=dict)

    @property
    def throughput(self) -> float:
        return _rate(self.ops, self.seconds)

    @property
    def cpu_throughput(self) -> float | None:
        return None if self.cpu_seconds is None else _rate(self.ops, self.cpu_seconds)


class Stopwatch:
    """Times a ``with`` block on both clocks: ``seconds`` (wall) and ``cpu_seconds``."""

    seconds: float
    cpu_seconds: float

    def __enter__(self) -> Stopwatch:
        self._cpu_start = time.process_time()
        self._wall_start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.seconds = time.perf_counter() - self._wall_start
        self.cpu_seconds = time.process_time() - self._cpu_start

    def measurement(self, ops: int, info: dict[str, float] | None = None) -> Measurement:
        return Measurement(ops, self.seconds, self.cpu_seconds, info or {})


def _rate(ops: int, seconds: float) -> float:
    return ops / seconds if seconds > 0 else float("inf")
