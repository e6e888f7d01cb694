"""Turn raw samples into the markdown tables the runner prints: medians, spread, ratios.

A ratio ``a/b`` is median throughput of loop a over that of loop b, so > 1 means a is faster.
Ratios are shown for every loop against asyncio, for every treadle loop against uvloop, and
uvloop against asyncio last, for context.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Sequence


@dataclass(frozen=True)
class Sample:
    benchmark: str
    loop: str
    round: int
    # None when the run failed; error then says why.
    throughput: float | None
    seconds: float | None = None
    # Ops per CPU-second of the worker process; None for multi-process benchmarks (echo).
    cpu_throughput: float | None = None
    info: dict[str, float] | None = None
    error: str | None = None


@dataclass(frozen=True)
class Cell:
    """Everything measured for one (benchmark, loop) pair."""

    throughputs: tuple[float, ...]
    errors: tuple[str, ...]

    @property
    def median(self) -> float | None:
        return statistics.median(self.throughputs) if self.throughputs else None

    @property
    def spread(self) -> float | None:
        """Median absolute deviation as a fraction of the median: a robust noise figure."""
        median = self.median
        if median is None or len(self.throughputs) < 2 or median == 0:
            return None
        return statistics.median(abs(t - median) for t in self.throughputs) / median


def collect(samples: Sequence[Sample], benchmark: str, loop: str, *, cpu: bool = False) -> Cell:
    """The cell for (benchmark, loop), by wall-clock throughput or, with ``cpu``, CPU time."""
    mine = [s for s in samples if s.benchmark == benchmark and s.loop == loop]
    rates = (s.cpu_throughput if cpu else s.throughput for s in mine)
    return Cell(
        throughputs=tuple(rate for rate in rates if rate is not None),
        errors=tuple(s.error for s in mine if s.error is not None),
    )


def has_cpu_time(samples: Sequence[Sample], benchmark: str) -> bool:
    return any(s.cpu_throughput is not None for s in samples if s.benchmark == benchmark)


def ratio_pairs(loops: Sequence[str]) -> list[tuple[str, str]]:
    """Which (numerator, denominator) ratios to show, in display order."""
    pairs: list[tuple[str, str]] = []
    for loop in loops:
        if loop in ("asyncio", "uvloop"):
            continue
        if "asyncio" in loops:
            pairs.append((loop, "asyncio"))
        if "uvloop" in loops and loop.startswith("treadle"):
            pairs.append((loop, "uvloop"))
    if "uvloop" in loops and "asyncio" in loops:
        pairs.append(("uvloop", "asyncio"))
    return pairs


def throughput_table(
    samples: Sequence[Sample],
    benchmarks: Sequence[tuple[str, str]],
    loops: Sequence[str],
    *,
    cpu: bool = False,
) -> str:
    """``benchmarks`` is (name, unit) pairs, ``loops`` the columns; ``cpu`` as in collect()."""
    pairs = ratio_pairs(loops)
    header = ["benchmark", "unit", *loops, *(f"{a}/{b}" for a, b in pairs)]
    rows = [header, ["---"] * 2 + ["---:"] * (len(header) - 2)]
    for name, unit in benchmarks:
        cells = {loop: collect(samples, name, loop, cpu=cpu) for loop in loops}
        row = [name, f"{unit}/s"]
        row += [_format_cell(cells[loop]) for loop in loops]
        row += [_format_ratio(cells[a].median, cells[b].median) for a, b in pairs]
        rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


# The echo figures that echo_table() shows: (info key, label, True when lower is better).
ECHO_METRICS = (
    ("p50_us", "p50 latency µs", True),
    ("p99_us", "p99 latency µs", True),
    ("server_cpu_us", "server CPU µs/request", True),
    ("client_cpu_us", "client CPU µs/request", True),
)
_ECHO_KEYS = frozenset(key for key, _label, _lower in ECHO_METRICS)


def info_median(samples: Sequence[Sample], benchmark: str, loop: str, key: str) -> float | None:
    """The median over rounds of one info figure, or None when no sample has it."""
    values = [
        s.info[key]
        for s in samples
        if s.benchmark == benchmark and s.loop == loop and s.info and key in s.info
    ]
    return statistics.median(values) if values else None


def echo_table(samples: Sequence[Sample], benchmarks: Sequence[str], loops: Sequence[str]) -> str:
    """Per echo benchmark: requests/s, p50, p99 and server CPU per request, with ratios.

    Every ratio reads "> 1.00x means the first loop is better": for requests/s it is a/b, for
    the lower-is-better figures (latency, CPU) it is b/a.
    """
    pairs = ratio_pairs(loops)
    header = ["benchmark", "figure", *loops, *(f"{a}/{b}" for a, b in pairs)]
    rows = [header, ["---"] * 2 + ["---:"] * (len(header) - 2)]
    for name in benchmarks:
        cells = {loop: collect(samples, name, loop) for loop in loops}
        row = [name, "requests/s", *(_format_cell(cells[loop]) for loop in loops)]
        row += [_format_ratio(cells[a].median, cells[b].median) for a, b in pairs]
        rows.append(row)
        for key, label, lower_is_better in ECHO_METRICS:
            values = {loop: info_median(samples, name, loop, key) for loop in loops}
            if all(value is None for value in values.values()):
                continue
            row = ["", label, *(_format_figure(values[loop]) for loop in loops)]
            for a, b in pairs:
                numerator, denominator = (
                    (values[b], values[a])
                    if lower_is_better
                    else (
                        values[a],
                        values[b],
                    )
                )
                row.append(_format_ratio(numerator, denominator))
            rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def _format_figure(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}" if value >= 100 else f"{value:.3g}"


def info_table(samples: Sequence[Sample], loops: Sequence[str]) -> str:
    """Medians of the informational figures (memory); empty when no benchmark reports any.

    The echo figures are left out: echo_table() shows them, with ratios.
    """
    keys: dict[tuple[str, str], None] = {}
    for s in samples:
        for key in s.info or {}:
            if key not in _ECHO_KEYS:
                keys[(s.benchmark, key)] = None
    if not keys:
        return ""
    rows = [["benchmark", "figure", *loops], ["---", "---"] + ["---:"] * len(loops)]
    for benchmark, key in keys:
        row = [benchmark, key]
        for loop in loops:
            value = info_median(samples, benchmark, loop, key)
            row.append("n/a" if value is None else f"{value:.1f}")
        rows.append(row)
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def format_rate(value: float) -> str:
    for threshold, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= threshold:
            return f"{value / threshold:.3g}{suffix}"
    return f"{value:.3g}"


def _format_cell(cell: Cell) -> str:
    median = cell.median
    if median is None:
        return "error" if cell.errors else "n/a"
    text = format_rate(median)
    spread = cell.spread
    if spread is not None:
        text += f" ±{spread:.0%}"
    if cell.errors:
        text += f" ({len(cell.errors)} failed)"
    return text


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    """numerator/denominator of two medians, or None when either is missing."""
    if numerator is None or denominator is None or denominator == 0:
        return None
    return numerator / denominator


def _format_ratio(numerator: float | None, denominator: float | None) -> str:
    value = ratio(numerator, denominator)
    return "n/a" if value is None else f"{value:.2f}x"
