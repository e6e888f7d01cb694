"""Keep the benchmark runner working: one tiny round on asyncio's loop.

It covers the runner, the worker, every core-loop benchmark and the echo machinery (client
processes, start barrier, sock_* server) through its cheapest variant; the other echo variants
differ only in their parameters. Speed is never asserted here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNNER = REPO_ROOT / "benchmarks" / "run.py"
BENCHMARKS = [
    "call_soon_chain",
    "call_soon_batch",
    "timer_churn",
    "sleep0_pingpong",
    "gather_tasks",
    "subprocess_spawn_wait",
    "subprocess_pipe_throughput",
    "echo_sock_tcp_1k_c1",
    "echo_protocol_tls_1k_c1",  # the TLS echo machinery: certificates, CA file, ssl clients
    "tls_handshake_c10",
]


def test_runner_reports_every_benchmark_on_asyncio(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    env = dict(os.environ)
    # The workers and echo clients should be as warning-clean as the test suite.
    env["PYTHONWARNINGS"] = "error"
    done = subprocess.run(
        [
            sys.executable,
            str(RUNNER),
            "--loops=asyncio",
            "--rounds=1",
            "--scale=0.01",
            f"--json={out}",
            "--only",
            *BENCHMARKS,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "| benchmark | unit | asyncio |" in done.stdout
    assert "Cross-check" in done.stdout

    document = json.loads(out.read_text())
    assert list(document["summary"]) == BENCHMARKS
    samples = document["samples"]
    assert [sample["benchmark"] for sample in samples] == BENCHMARKS
    for sample in samples:
        assert sample["loop"] == "asyncio"
        assert sample["error"] is None
        assert sample["throughput"] > 0
        if not sample["benchmark"].startswith("echo_"):
            assert sample["cpu_throughput"] > 0


def _floor_samples(tmp_path: Path, rows: list[str]) -> list[dict[str, Any]]:
    """Run ``rows`` on the epoll-floor entry at 1% size; return its samples, checked."""
    out = tmp_path / "results.json"
    env = dict(os.environ)
    env["PYTHONWARNINGS"] = "error"
    done = subprocess.run(
        [
            sys.executable,
            str(RUNNER),
            "--loops=epoll-floor",
            "--rounds=1",
            "--scale=0.01",
            f"--json={out}",
            "--only",
            *rows,
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    samples: list[dict[str, Any]] = json.loads(out.read_text())["samples"]
    assert [sample["benchmark"] for sample in samples] == rows
    for sample in samples:
        assert sample["error"] is None
        assert sample["throughput"] > 0
    return samples


def test_epoll_floor_serves_tcp_and_tls_echo(tmp_path: Path) -> None:
    samples = _floor_samples(tmp_path, ["echo_protocol_tcp_1k_c1", "echo_protocol_tls_1k_c1"])
    for sample in samples:
        # The clients' CPU per request: their share of the machine, beside the server's.
        assert sample["info"]["client_cpu_us"] > 0


def test_epoll_floor_runs_the_subprocess_rows_without_a_loop(tmp_path: Path) -> None:
    _floor_samples(tmp_path, ["subprocess_spawn_wait", "subprocess_pipe_throughput"])


def test_fd_dispatch_reports_a_figure_per_loop() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.fd_dispatch",
            "--fds=2",
            "--events=2000",
            "--loops=asyncio,treadle",
        ],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert [line.split()[0] for line in lines[:2]] == ["asyncio", "treadle"]
    assert all(line.endswith("ns per event") and "unavailable" not in line for line in lines[:2])
