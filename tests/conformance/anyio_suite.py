"""Run AnyIO's own test suite on asyncio with treadle as the event loop.

Usage (the interpreter decides which venv, anyio and treadle are tested):

    python tests/conformance/anyio_suite.py             # treadle only
    python tests/conformance/anyio_suite.py --baseline  # + asyncio's loop
    python tests/conformance/anyio_suite.py --native    # + backend "treadle"
    python tests/conformance/anyio_suite.py --gate      # CI: exit 1 on a gap
    ... -- -k test_taskgroups -x                                              # extra pytest args

``--native`` adds a run on the native backend (``anyio_backend = "treadle"``). ``--gate`` runs only
AnyIO's plain asyncio backend and the native backend, each test once, and exits 1 when a test that
passes on asyncio fails on treadle, unless docs/anyio.md lists it (with its reason) under
"Differences the conformance gate accepts".

What it does, each run, leaving nothing in the repository:

1. ``pip download --no-deps --no-binary :all: anyio==<installed version>`` into a temp dir (the
   sdist carries ``tests/``; the wheel does not) and extracts ``tests/`` and ``pyproject.toml``
   (AnyIO's pytest configuration: its addopts, ``anyio_mode = "auto"``, warnings as errors,
   ``timeout = 20``). The installed anyio is what runs; the sdist's ``src/`` is not extracted.
2. Installs the suite's test-only dependencies that the interpreter lacks (pytest-mock, psutil)
   with ``pip install --no-deps --target <tmp>/deps``; nothing goes into the venv.
3. Runs pytest there with ``-p anyio_treadle_plugin`` (next to this file), which swaps the
   ``anyio_backend`` params for ``("asyncio", {"loop_factory": treadle...})``, deselects the trio
   and uvloop params and the tests needing the Internet, and refuses non-loopback traffic (see its
   docstring).
4. Prints pass/fail/error/skip counts; with ``--baseline`` also for the same tests on asyncio's
   own loop, and which failures are treadle's alone.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib.metadata
import importlib.util
import json
import os
import re
import signal
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ACCEPTED_LIST = HERE.parent.parent / "docs" / "anyio.md"
ACCEPTED_HEADING = "## Differences the conformance gate accepts"
OUTCOMES = ("pass", "fail", "error", "skip", "xfail", "notrun")
# Test-only dependencies of AnyIO's suite (its "test" dependency group) that it cannot run
# without: module name -> distribution name. The rest are present in our dev venvs or optional.
NEEDED = {"pytest_mock": "pytest-mock", "psutil": "psutil"}


def fetch_suite(version: str, workdir: Path) -> Path:
    """Download AnyIO's sdist and extract its tests and pytest configuration."""
    download = workdir / "sdist"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"anyio=={version}",
            "-d",
            str(download),
        ],
        check=True,
    )
    (archive,) = download.glob("anyio-*.tar.gz")
    suite = workdir / "suite"
    prefix = f"anyio-{version}/"
    with tarfile.open(archive) as tar:
        members = []
        for member in tar.getmembers():
            relative = member.name.removeprefix(prefix)
            if relative == "pyproject.toml" or relative.startswith("tests/"):
                member.name = relative
                members.append(member)
        tar.extractall(suite, members=members, filter="data")
    return suite


def install_missing_deps(workdir: Path) -> Path | None:
    target = workdir / "deps"
    missing = [
        dist
        for module, dist in NEEDED.items()
        if importlib.util.find_spec(module) is None and not (target / module).exists()
    ]
    if not missing:
        return target if target.exists() else None
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            *missing,
        ],
        check=True,
    )
    return target


def run_pytest(
    subject: str, suite: Path, deps: Path | None, args: argparse.Namespace, extra: list[str]
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]], float, bool]:
    """One pytest session; returns results by node id, deselected ids, seconds, timed_out."""
    report = suite.parent / f"{subject}.jsonl"
    log = suite.parent / f"{subject}.log"
    if args.report_only:
        return (*read_report(report), 0.0, False)
    report.unlink(missing_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(p) for p in (deps, HERE) if p is not None] + [env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env["TREADLE_CONFORMANCE_SUBJECT"] = subject
    if args.gate:
        env["TREADLE_CONFORMANCE_PLAIN"] = "1"
    env["TREADLE_CONFORMANCE_REPORT"] = str(report)
    env.pop("PYTHONASYNCIODEBUG", None)
    cmd = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "anyio_treadle_plugin",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:randomly",
        "-q",
        "--rootdir",
        str(suite),
        "-c",
        str(suite / "pyproject.toml"),
        "-o",
        f"timeout={args.per_test_timeout}",
        *extra,
    ]
    if not any(not a.startswith("-") and "tests" in a for a in extra):
        cmd.append("tests")
    started = time.monotonic()
    timed_out = False
    with open(log, "w", encoding="utf-8") as log_file:
        proc = subprocess.Popen(
            cmd,
            cwd=suite,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=args.budget)
        except subprocess.TimeoutExpired:
            timed_out = True
            # Our own child's process group (start_new_session), nothing else.
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    seconds = time.monotonic() - started
    print(
        f"[{subject}] pytest exited {proc.returncode} after {seconds:.0f}s; log: {log}", flush=True
    )
    return (*read_report(report), seconds, timed_out)


def read_report(
    report: Path,
) -> tuple[dict[str, dict[str, Any]], list[tuple[str, str]]]:
    """The plugin's JSON lines: results by node id, and the deselected ids with reasons."""
    results: dict[str, dict[str, Any]] = {}
    deselected: list[tuple[str, str]] = []
    if report.exists():
        for line in report.read_text(encoding="utf-8").splitlines():
            with contextlib.suppress(json.JSONDecodeError):  # a line cut by a kill
                record = json.loads(line)
                if record["event"] == "deselected":
                    deselected.extend((str(i), str(r)) for i, r in record["ids"])
                else:
                    results[record["id"]] = record
    return results, deselected


def comparable(node_id: str) -> str:
    """One key for the same test under both subjects.

    Our params are named asyncio+treadle[+eager] where the suite's are asyncio[+eager], and
    pytest orders the parts of an id differently when a param comes from a mark instead of the
    fixture ("asyncio-ipv6" vs "ipv6-asyncio+treadle"); so compare the parts as a sorted list.
    """
    base, bracket, params = node_id.partition("[")
    if not bracket:
        return node_id
    parts = params.rstrip("]").replace("asyncio+treadle", "asyncio").split("-")
    parts = ["asyncio" if part == "treadle" else part for part in parts]
    return f"{base}[{'-'.join(sorted(parts))}]"


def accepted_differences() -> dict[str, str]:
    """The gate's list, from docs/anyio.md: lines "- `test id`: reason" under its heading."""
    accepted: dict[str, str] = {}
    in_section = False
    for line in ACCEPTED_LIST.read_text(encoding="utf-8").splitlines():
        if line.startswith("## "):
            in_section = line.strip() == ACCEPTED_HEADING
            continue
        match = re.match(r"^- `([^`]+)`: (.+)$", line.strip())
        if in_section and match:
            accepted[match.group(1)] = match.group(2)
    return accepted


def is_accepted(node_id: str, accepted: dict[str, str]) -> str | None:
    """Why a failing id is accepted: listed by full id, by id without params, or by file."""
    return (
        accepted.get(node_id)
        or accepted.get(node_id.split("[")[0])
        or accepted.get(node_id.split("::")[0])
    )


def gate(
    baseline: dict[str, dict[str, Any]],
    native: dict[str, dict[str, Any]],
    timed_out: bool,
    details: bool,
) -> int:
    """Exit status: 1 when a test passing on AnyIO's asyncio backend fails on treadle's."""
    accepted = accepted_differences()
    passing = {comparable(k) for k, v in baseline.items() if v["outcome"] == "pass"}
    gaps: list[tuple[str, dict[str, Any]]] = []
    excused: list[tuple[str, str]] = []
    for node_id, record in sorted(native.items()):
        if record["outcome"] not in ("fail", "error") or comparable(node_id) not in passing:
            continue
        reason = is_accepted(node_id, accepted)
        if reason is None:
            gaps.append((node_id, record))
        else:
            excused.append((node_id, reason))
    print(f"\ngate: {len(excused)} failures accepted by docs/anyio.md:")
    for node_id, reason in excused:
        print(f"  {node_id}: {reason}")
    print_grouped(
        f"gate: failing on treadle's backend, passing on asyncio: {len(gaps)}", gaps, details
    )
    if timed_out:
        print("gate: FAILED (a pytest session hit the time budget)")
        return 1
    if not native:
        print("gate: FAILED (the native run produced no results)")
        return 1
    print("gate: " + ("FAILED" if gaps else "passed"))
    return 1 if gaps else 0


def counts(results: dict[str, dict[str, Any]]) -> collections.Counter[str]:
    return collections.Counter(r["outcome"] for r in results.values())


def print_counts(
    label: str, results: dict[str, dict[str, Any]], seconds: float, timed_out: bool
) -> None:
    c = counts(results)
    on_loop = sum(1 for r in results.values() if r.get("on_loop"))
    parts = " ".join(f"{o}={c.get(o, 0)}" for o in OUTCOMES if o != "notrun")
    note = "  (stopped at the time budget)" if timed_out else ""
    print(
        f"{label:<34} tests={len(results)} {parts} on-treadle={on_loop} time={seconds:.0f}s{note}"
    )


def by_file(results: dict[str, dict[str, Any]]) -> dict[str, collections.Counter[str]]:
    table: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for node_id, record in results.items():
        table[node_id.split("::")[0]][record["outcome"]] += 1
    return table


def last_line(detail: str) -> str:
    """The line that names the error: pytest's last "E   ..." line, else the last line that is
    not exception-group box drawing."""
    lines = [ln.strip() for ln in detail.strip().splitlines() if ln.strip(" |+-")]
    first_of_last_block = ""
    for previous, line in zip(["", *lines], lines, strict=False):
        if _is_e_line(line) and not _is_e_line(previous):
            first_of_last_block = line
    if first_of_last_block:
        return first_of_last_block[:180]
    named = [ln.strip(" |") for ln in lines if _EXCEPTION_LINE.match(ln)]
    return (named[-1] if named else lines[-1] if lines else "")[:180]


def _is_e_line(line: str) -> bool:
    return line == "E" or line.startswith("E ")


_EXCEPTION_LINE = re.compile(r"[| ]*[\w.]+(Error|Exception|Warning|Group)\b")


def print_grouped(title: str, failures: list[tuple[str, dict[str, Any]]], details: bool) -> None:
    """Failures grouped by their error line (numbers blanked), each group's tests by name."""
    print(f"\n{title}")
    groups: dict[str, list[tuple[str, dict[str, Any]]]] = collections.defaultdict(list)
    for node_id, record in failures:
        groups[re.sub(r"\d+", "N", last_line(record["detail"]))].append((node_id, record))
    for message, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        names = sorted({node_id.split("[")[0] for node_id, _ in members})
        print(f"  {len(members):>4} x {message}")
        for name in names[:12]:
            print(f"         {name}")
        if len(names) > 12:
            print(f"         ... and {len(names) - 12} more")
        if details:
            for node_id, record in members:
                print(
                    f"       {node_id}\n         "
                    + record["detail"].strip().replace("\n", "\n         ")
                )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--baseline", action="store_true", help="also run on asyncio's own loop and compare"
    )
    parser.add_argument("--baseline-only", action="store_true")
    parser.add_argument(
        "--native", action="store_true", help="also run the native backend (backend='treadle')"
    )
    parser.add_argument(
        "--gate",
        action="store_true",
        help="asyncio backend vs native backend only; exit 1 on an unlisted gap",
    )
    parser.add_argument(
        "--per-test-timeout",
        type=int,
        default=20,
        help="pytest-timeout per test (AnyIO's own setting is 20)",
    )
    parser.add_argument(
        "--budget", type=float, default=600.0, help="seconds per pytest session before it is killed"
    )
    parser.add_argument("--workdir", help="keep the download and logs here (default: temp dir)")
    parser.add_argument(
        "--report-only",
        action="store_true",
        help="do not run; report the results already in --workdir",
    )
    parser.add_argument("--details", action="store_true", help="print failure tracebacks")
    parser.add_argument("--by-file", action="store_true", help="counts per test file")
    parser.add_argument("--json", help="write every outcome to this file")
    parser.add_argument("pytest_args", nargs="*", help="after --: extra pytest arguments")
    args = parser.parse_args()
    if args.report_only and not args.workdir:
        parser.error("--report-only needs the --workdir of an earlier run")

    version = importlib.metadata.version("anyio")
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="treadle-anyio-"))
    workdir.mkdir(parents=True, exist_ok=True)
    suite = workdir / "suite"
    if not (suite / "tests" / "conftest.py").exists():
        suite = fetch_suite(version, workdir)
    deps = None if args.report_only else install_missing_deps(workdir)
    print(f"AnyIO {version} test suite, Python {sys.version.split()[0]}; work dir {workdir}")

    if args.gate:
        subjects = ["asyncio", "backend"]
    else:
        subjects = ["asyncio"] if args.baseline or args.baseline_only else []
        subjects += [] if args.baseline_only else ["treadle"]
        subjects += ["backend"] if args.native else []
    runs = {s: run_pytest(s, suite, deps, args, args.pytest_args) for s in subjects}

    from anyio_treadle_plugin import INTERNET_TESTS

    print("\ndeselected in both runs: trio backend, uvloop params, and the Internet tests:")
    for node_id, reason in INTERNET_TESTS.items():
        print(f"  {node_id}: {reason}")
    for subject, (results, deselected, seconds, timed_out) in runs.items():
        reasons = collections.Counter(reason for _, reason in deselected)
        label = {
            "treadle": "treadle (loop_factory + policy)",
            "backend": "treadle (native backend)",
        }.get(subject, "asyncio (baseline)")
        print()
        print_counts(label, results, seconds, timed_out)
        print(f"{'':<34} deselected: {dict(reasons)}")
        if args.by_file:
            for path, c in sorted(by_file(results).items()):
                print(f"    {path:<44} " + " ".join(f"{o}={c[o]}" for o in OUTCOMES if c[o]))

    if "treadle" in runs:
        treadle_results = runs["treadle"][0]
        baseline = (
            {comparable(k): v for k, v in runs["asyncio"][0].items()} if "asyncio" in runs else None
        )
        bad = {k: v for k, v in treadle_results.items() if v["outcome"] in ("fail", "error")}
        only: list[tuple[str, dict[str, Any]]] = []
        both: list[tuple[str, dict[str, Any]]] = []
        for node_id, record in sorted(bad.items()):
            other = baseline.get(comparable(node_id)) if baseline is not None else None
            (both if other is not None and other["outcome"] in ("fail", "error") else only).append(
                (node_id, record)
            )
        title = "failing on treadle only" if baseline is not None else "failing on treadle"
        print_grouped(f"{title}: {len(only)}", only, args.details)
        if baseline is not None:
            print_grouped(f"failing on asyncio's loop too: {len(both)}", both, False)
            passing = {comparable(k) for k, v in treadle_results.items() if v["outcome"] == "pass"}
            asyncio_only = [
                (k, v)
                for k, v in sorted(runs["asyncio"][0].items())
                if v["outcome"] in ("fail", "error") and comparable(k) in passing
            ]
            title = f"failing on asyncio's loop only (treadle passes): {len(asyncio_only)}"
            print_grouped(title, asyncio_only, False)
        not_on_loop = [
            k for k, v in treadle_results.items() if v["outcome"] == "pass" and not v.get("on_loop")
        ]
        print(
            f"\npassed without creating a treadle loop (backend-independent or own loop): "
            f"{len(not_on_loop)}"
        )
    if "backend" in runs and not args.gate:
        native_bad = [
            (k, v)
            for k, v in sorted(runs["backend"][0].items())
            if v["outcome"] in ("fail", "error")
        ]
        print_grouped(f"failing on the native backend: {len(native_bad)}", native_bad, args.details)
    if args.json:
        Path(args.json).write_text(json.dumps({s: r[0] for s, r in runs.items()}, indent=1))
    if args.gate:
        timed_out = any(r[3] for r in runs.values())
        return gate(runs["asyncio"][0], runs["backend"][0], timed_out, args.details)
    return 0


if __name__ == "__main__":
    sys.exit(main())
