"""Compare event loops: ``python benchmarks/run.py [--loops asyncio,uvloop,treadle] [--quick]``.

Every (benchmark, loop) measurement runs in its own fresh process (benchmarks/worker.py).
Rounds are interleaved: round 1 measures every benchmark on every loop once, then round 2,
and so on, with the loop order rotated each round, so that machine noise and drift fall on
all loops alike. The report gives the median throughput per loop and ratios of medians.
Progress goes to stderr, the markdown report to stdout. docs/performance.md has the details.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    # Run as a script, sys.path[0] is benchmarks/ itself, which would expose our modules as
    # top-level names (tasks, report, ...). Put the repository root there instead, so that
    # `import benchmarks` works from any working directory.
    sys.path[0] = str(_REPO_ROOT)

from benchmarks import loops as loops_module  # noqa: E402
from benchmarks import report  # noqa: E402
from benchmarks.registry import BENCHMARKS, BY_NAME, Benchmark  # noqa: E402

DEFAULT_LOOPS = "asyncio,uvloop,treadle-pure,treadle-compiled,epoll-floor"
DEFAULT_ROUNDS = 5
QUICK_ROUNDS = 3
QUICK_SCALE = 0.3
# Far above any healthy run; a hung loop must not hang the runner.
WORKER_TIMEOUT = 300.0
PROBE_TIMEOUT = 60.0


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    started = time.perf_counter()
    load_before = _load_average()
    requested = list(dict.fromkeys(name.strip() for name in args.loops.split(",") if name.strip()))
    if args.only:
        benches = [BY_NAME[name] for name in args.only]
    else:
        benches = [bench for bench in BENCHMARKS if bench.quick or not args.quick]
    rounds = (
        args.rounds if args.rounds is not None else (QUICK_ROUNDS if args.quick else DEFAULT_ROUNDS)
    )
    scale = args.scale if args.scale is not None else (QUICK_SCALE if args.quick else 1.0)

    versions, skipped = _probe_all(requested)
    runnable = [loop for loop in requested if loop not in skipped]
    if not runnable:
        _log("no loop could be created; nothing to measure")
        return 2
    samples = _measure(benches, runnable, rounds, scale)
    elapsed = time.perf_counter() - started

    machine = _machine()
    machine["load_average"] = f"{load_before} at start, {machine['load_average']} at end"
    print(_render(samples, benches, requested, skipped, versions, machine, rounds, scale))
    _log(f"total wall time {elapsed:.1f} s")
    if args.json:
        _write_json(
            Path(args.json),
            samples,
            benches,
            requested,
            skipped,
            versions,
            machine,
            {"rounds": rounds, "scale": scale, "wall_seconds": elapsed},
        )
    return 1 if any(s.error for s in samples) else 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--loops",
        default=DEFAULT_LOOPS,
        help="comma-separated: asyncio, uvloop, treadle, treadle-<poller>, module:callable "
        f"(default {DEFAULT_LOOPS})",
    )
    parser.add_argument(
        "--rounds", type=int, help=f"default {DEFAULT_ROUNDS}, {QUICK_ROUNDS} with --quick"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smaller sizes (x{QUICK_SCALE}), fewer rounds, echo at 1 KiB only",
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=sorted(BY_NAME),
        metavar="NAME",
        help="run only these benchmarks: " + ", ".join(BY_NAME),
    )
    parser.add_argument(
        "--json", metavar="PATH", help="also write every sample and the summary here"
    )
    parser.add_argument(
        "--scale",
        type=float,
        help="multiply every size by this (default 1, 0.3 with --quick); "
        "tiny values make a fast smoke run",
    )
    args = parser.parse_args(argv)
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    return args


def _worker(*arguments: str, timeout: float) -> tuple[dict[str, object] | None, str]:
    """Run benchmarks.worker in a fresh process; return its JSON, or None and the reason."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_REPO_ROOT), env.get("PYTHONPATH")]))
    command = [sys.executable, "-m", "benchmarks.worker", *arguments]
    try:
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout:.0f} s"
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        return None, lines[-1]
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result, ""


def _probe_all(loops: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """Check each loop in a throwaway process; return (versions, skipped loops with reasons)."""
    versions: dict[str, str] = {}
    skipped: dict[str, str] = {}
    for loop in loops:
        result, reason = _worker(loop, "--probe", timeout=PROBE_TIMEOUT)
        if result is None:
            skipped[loop] = reason
            _log(f"skipping loop {loop!r}: {reason}")
        else:
            versions[loop] = str(result.get("version", "?"))
    return versions, skipped


def _measure(
    benches: list[Benchmark], loops: list[str], rounds: int, scale: float
) -> list[report.Sample]:
    samples: list[report.Sample] = []
    for round_index in range(rounds):
        # Rotate the order so no loop always runs first (or right after the same neighbour).
        shift = round_index % len(loops)
        order = loops[shift:] + loops[:shift]
        for bench in benches:
            for loop in order:
                if not loops_module.measures(loop, bench.name):
                    continue  # the epoll floor: stream echo and subprocess rows; "n/a" elsewhere
                sample = _measure_one(bench, loop, round_index, scale)
                samples.append(sample)
                _log_sample(sample, bench, rounds)
    return samples


def _measure_one(bench: Benchmark, loop: str, round_index: int, scale: float) -> report.Sample:
    result, reason = _worker(loop, bench.name, f"--scale={scale}", timeout=WORKER_TIMEOUT)
    if result is None:
        return report.Sample(bench.name, loop, round_index, throughput=None, error=reason)
    info = result.get("info")
    return report.Sample(
        bench.name,
        loop,
        round_index,
        throughput=float(str(result["throughput"])),
        seconds=float(str(result["seconds"])),
        cpu_throughput=_optional_float(result.get("cpu_throughput")),
        info={str(k): float(v) for k, v in info.items()} if isinstance(info, dict) else None,
    )


def _optional_float(value: object) -> float | None:
    return None if value is None else float(str(value))


def _log_sample(sample: report.Sample, bench: Benchmark, rounds: int) -> None:
    prefix = f"[round {sample.round + 1}/{rounds}] {bench.name:<22} {sample.loop:<10}"
    if sample.throughput is None:
        _log(f"{prefix} FAILED: {sample.error}")
    else:
        rate = report.format_rate(sample.throughput)
        _log(f"{prefix} {rate:>7} {bench.unit}/s in {sample.seconds or 0:.3f} s")


def _machine() -> dict[str, object]:
    affinity = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "cpus_usable": affinity,
        "load_average": _load_average(),
    }


def _load_average() -> str:
    """1/5/15-minute load averages: how busy the machine was, for judging the noise."""
    if not hasattr(os, "getloadavg"):
        return "unknown"
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def _render(
    samples: list[report.Sample],
    benches: list[Benchmark],
    loops: list[str],
    skipped: dict[str, str],
    versions: dict[str, str],
    machine: dict[str, object],
    rounds: int,
    scale: float,
) -> str:
    columns = [loop for loop in loops if loop not in skipped]
    lines = [
        f"Machine: {machine['platform']}, {machine['cpus_usable'] or machine['cpus']} usable CPUs, "
        f"{machine['python']}; {machine['date']}; load average (1/5/15 min) "
        f"{machine['load_average']}",
        "Loops: " + ", ".join(f"{loop} {versions[loop]}" for loop in columns),
        f"Rounds: {rounds}, scale {scale:g}. Cells: median throughput ±MAD; ratios of medians "
        "(> 1.00x means the first loop is faster).",
    ]
    lines += [f"Skipped {loop}: {reason}" for loop, reason in skipped.items()]
    rows = [(b.name, b.unit) for b in benches]
    lines += ["", report.throughput_table(samples, rows, columns)]
    cpu_rows = [row for row in rows if report.has_cpu_time(samples, row[0])]
    if cpu_rows:
        lines += [
            "",
            "Cross-check, same runs: ops per CPU-second of the worker process (time.process_time),",
            "which other load on the machine disturbs less. Echo rows are absent: their work is",
            "spread over several processes (the echo table below has the server's CPU time).",
            "",
            report.throughput_table(samples, cpu_rows, columns, cpu=True),
        ]
    echo_rows = [b.name for b in benches if b.name.startswith("echo_")]
    if echo_rows:
        lines += [
            "",
            "Echo: medians over rounds of requests/s, of the p50 and p99 of every timed round trip",
            "(all clients), and of the server process's CPU time per request. Every ratio reads",
            '"> 1.00x means the first loop is better" (for latency and CPU: lower is better).',
            "",
            report.echo_table(samples, echo_rows, columns),
        ]
    info = report.info_table(samples, columns)
    if info:
        lines += ["", "Information only (medians; not compared):", "", info]
    return "\n".join(lines)


def _write_json(
    path: Path,
    samples: list[report.Sample],
    benches: list[Benchmark],
    loops: list[str],
    skipped: dict[str, str],
    versions: dict[str, str],
    machine: dict[str, object],
    config: dict[str, object],
) -> None:
    columns = [loop for loop in loops if loop not in skipped]
    summary: dict[str, dict[str, object]] = {}
    for bench in benches:
        cells = {loop: report.collect(samples, bench.name, loop) for loop in columns}
        summary[bench.name] = {
            "unit": f"{bench.unit}/s",
            "median": {loop: cell.median for loop, cell in cells.items()},
            "cpu_median": {
                loop: report.collect(samples, bench.name, loop, cpu=True).median for loop in columns
            },
            "ratios": {
                f"{a}/{b}": report.ratio(cells[a].median, cells[b].median)
                for a, b in report.ratio_pairs(columns)
            },
        }
    document = {
        "machine": machine,
        "config": config,
        "loops": {"measured": versions, "skipped": skipped},
        "summary": summary,
        "samples": [asdict(s) for s in samples],
    }
    path.write_text(json.dumps(document, indent=2) + "\n")
    _log(f"wrote {path}")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


if __name__ == "__main__":
    sys.exit(main())
