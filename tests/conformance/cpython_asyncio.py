"""Run CPython's own ``test.test_asyncio`` modules with treadle as the loop under test.

Usage (from anywhere, with the Python of a venv where treadle is installed; that interpreter
decides which CPython suite runs):

    python tests/conformance/cpython_asyncio.py              # treadle only
    python tests/conformance/cpython_asyncio.py --baseline   # + asyncio's loop, compared
    python tests/conformance/cpython_asyncio.py --gate       # exit 1 on a regression (CI)
    python tests/conformance/cpython_asyncio.py --record     # rewrite expected/cpython-3.X.txt
    ... --modules test_tasks,test_streams --details          # a subset, with tracebacks

Nothing of CPython's suite is copied here: the tests are the ones the interpreter ships in
``<prefix>/lib/python3.X/test/test_asyncio/`` (CPython's installer includes them; Debian splits them
into ``libpython3.X-testsuite``). Without them the script says so and exits 0 (a skip).

How the suite's loops become treadle loops, using the suite's own seams only:

- The event loop policy. ``asyncio.new_event_loop()``, ``asyncio.run()``, ``asyncio.Runner`` and
  ``unittest.IsolatedAsyncioTestCase`` all ask the policy, so we install a subclass of
  ``treadle.EventLoopPolicy``. Most modules reset the policy in ``tearDownModule`` (and some tests
  in ``tearDown``) with ``set_event_loop_policy(None)``, which re-creates
  ``asyncio.DefaultEventLoopPolicy``; we point that name at the same class so a reset keeps
  treadle. That also makes ``test_events.PolicyTests`` test treadle's policy, which is intended.
- Factory methods the suite overrides per loop kind (``create_event_loop``, ``new_loop``): the
  classes that pick asyncio's ``SelectorEventLoop`` there are re-pointed at the loop under test
  (``REBIND``), or rebuilt from the suite's own mixins (``COMPOSE``). Per-selector duplicates
  (EPoll/Poll/Kqueue copies of the same mixin) are dropped: one copy runs, on our loop.
- ``test_utils.TestCase.new_test_loop()`` without a time generator returns the loop under test
  instead of ``TestLoop`` (a ``BaseEventLoop`` subclass with a scripted clock). With a generator
  the test is about that scripted clock, so it keeps ``TestLoop`` and does not count as on-loop.
- ``test_utils.TestCase.close_loop`` reads ``loop._default_executor`` (BaseEventLoop's private
  attribute). For loops that are not ``BaseEventLoop`` we close them through the public API
  (``shutdown_default_executor()`` then ``close()``) instead; that is a fix to the harness, not to
  any test, and is the only such shim.

``--baseline`` runs exactly the same selection, with the same seams pointed at asyncio's own
``SelectorEventLoop``, so a test failing on both is about the environment or the seams, and a test
failing only on treadle is treadle's.

The "on-loop" column counts tests that created at least one loop under test; tests that never
did (pure Future/Task class tests, TestLoop tests) pass or fail regardless of the loop.

Each module runs in a child process with a per-test watchdog (faulthandler): a hung test is
recorded as "hang", its stack goes to the log, and the child restarts after it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import faulthandler
import importlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import unittest
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from types import ModuleType, TracebackType
from typing import Any, TextIO

# -- what runs ----------------------------------------------------------------------------------

# Reasons reused below.
_SELECTOR_COPY = (
    "per-selector copy of the generic mixin on asyncio's SelectorEventLoop; one copy runs, "
    "re-pointed at the loop under test"
)
_WINDOWS = "Windows-only (ProactorEventLoop)"


@dataclasses.dataclass(frozen=True)
class Composed:
    """A test class built from the suite's own mixins, with the loop under test plugged in."""

    name: str
    bases: tuple[str, ...]  # names in the module, or "test_utils.TestCase"
    # "create_event_loop" / "new_loop": that method returns a new loop under test.
    # "setUp": setUp() assigns self.loop (for mixins whose loop comes from a subclass's setUp).
    hook: str


@dataclasses.dataclass(frozen=True)
class ModuleSpec:
    name: str
    since: tuple[int, int] = (3, 11)
    # class name -> factory method that must return the loop under test
    rebind: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # class name -> why it does not run
    drop: Mapping[str, str] = dataclasses.field(default_factory=dict)
    compose: tuple[Composed, ...] = ()


MODULES: tuple[ModuleSpec, ...] = (
    ModuleSpec(
        "test_events",
        compose=(
            Composed(
                "SubjectEventLoopTests",
                ("EventLoopTestsMixin", "SubprocessTestsMixin", "test_utils.TestCase"),
                "create_event_loop",
            ),
        ),
        drop={
            # UnixEventLoopTestsMixin only adds a SafeChildWatcher in setUp; the composed class
            # uses the generic mixins directly, as the suite's Windows classes do.
            "SelectEventLoopTests": _SELECTOR_COPY,
            "EPollEventLoopTests": _SELECTOR_COPY,
            "PollEventLoopTests": _SELECTOR_COPY,
            "KqueueEventLoopTests": _SELECTOR_COPY,
            "HandleTests": "asyncio.Handle itself, on a mock loop",
            "TimerTests": "asyncio.TimerHandle itself, on a mock loop",
            "AbstractEventLoopTests": "asyncio.AbstractEventLoop's NotImplementedError stubs",
            "TestAbstractServer": "asyncio.AbstractServer's NotImplementedError stubs",
            "ProactorEventLoopTests": _WINDOWS,
        },
    ),
    ModuleSpec(
        "test_sock_lowlevel",
        rebind={"SelectEventLoopTests": "create_event_loop"},
        drop={
            "EPollEventLoopTests": _SELECTOR_COPY,
            "PollEventLoopTests": _SELECTOR_COPY,
            "KqueueEventLoopTests": _SELECTOR_COPY,
            "ProactorEventLoopTests": _WINDOWS,
        },
    ),
    ModuleSpec(
        "test_sendfile",
        rebind={"SelectEventLoopTests": "create_event_loop"},
        drop={
            "EPollEventLoopTests": _SELECTOR_COPY,
            "PollEventLoopTests": _SELECTOR_COPY,
            "KqueueEventLoopTests": _SELECTOR_COPY,
            "ProactorEventLoopTests": _WINDOWS,
        },
    ),
    ModuleSpec(
        "test_server",
        rebind={"SelectorStartServerTests": "new_loop"},
        drop={"ProactorStartServerTests": _WINDOWS},
    ),
    ModuleSpec(
        "test_buffered_proto",
        rebind={"BufferedProtocolSelectorTests": "new_loop"},
        drop={"BufferedProtocolProactorTests": _WINDOWS},
    ),
    ModuleSpec("test_streams"),
    ModuleSpec("test_tasks"),
    ModuleSpec("test_futures"),
    ModuleSpec("test_futures2"),
    ModuleSpec("test_locks"),
    ModuleSpec("test_queues"),
    ModuleSpec("test_taskgroups"),
    ModuleSpec("test_timeouts"),
    ModuleSpec("test_waitfor"),
    ModuleSpec("test_context"),
    ModuleSpec("test_threads"),
    ModuleSpec("test_eager_task_factory", since=(3, 12)),
    # asyncio.run()/Runner: the suite's BaseTest.new_loop builds a mocked BaseEventLoop; we rebind
    # it to the loop under test, instrumented the way that method instruments its mock (see
    # _runner_loop), since tearDown checks the flag.
    ModuleSpec("test_runners", rebind={"BaseTest": "new_loop:runner"}),
    ModuleSpec("test_ssl"),
    ModuleSpec(
        "test_sslproto",
        rebind={"SelectorStartTLSTests": "new_loop"},
        drop={
            "SslProtoHandshakeTests": "asyncio.sslproto.SSLProtocol internals, driven by mocks",
            "ProactorStartTLSTests": _WINDOWS,
        },
    ),
    ModuleSpec(
        "test_subprocess",
        compose=(
            Composed("SubjectSubprocessTests", ("SubprocessMixin", "test_utils.TestCase"), "setUp"),
        ),
        drop={
            "SubprocessTransportTests": "asyncio.base_subprocess internals, driven by mocks",
            "SubprocessThreadedWatcherTests": "asyncio's child watchers (one loop each); "
            "SubjectSubprocessTests runs the same SubprocessMixin on the loop under test",
            "SubprocessSafeWatcherTests": "asyncio's child watchers, see above",
            "SubprocessFastWatcherTests": "asyncio's child watchers, see above",
            "SubprocessPidfdWatcherTests": "asyncio's child watchers, see above",
            "SubprocessMultiLoopWatcherTests": "asyncio's child watchers, see above",
            "MultiLoopChildWatcherTests": "asyncio's child watchers (deprecation warning)",
            "GenericWatcherTests": "asyncio's child watcher protocol, with a mock watcher",
            "SubprocessProactorTests": _WINDOWS,
        },
    ),
)

# Whole modules that do not run, and why. Printed with --list.
EXCLUDED_MODULES: Mapping[str, str] = {
    "test_base_events": "tests BaseEventLoop itself (private methods, mocked selector and sockets)",
    "test_selector_events": "BaseSelectorEventLoop and selector transports' internals, mocked",
    "test_unix_events": "tests _UnixSelectorEventLoop internals and asyncio's child watchers",
    "test_proactor_events": "Windows ProactorEventLoop internals",
    "test_windows_events": "Windows only",
    "test_windows_utils": "Windows only",
    "test_transports": "asyncio's abstract transport classes and _FlowControlMixin, no loop",
    "test_protocols": "asyncio's abstract protocol classes, no loop",
    "test_pep492": "runs on a mocked asyncio.BaseEventLoop built inline in setUp (no factory "
    "method to point elsewhere)",
}

# -- the child: one module, one subject ---------------------------------------------------------

_loops_made = 0


def _subject_factory(subject: str, poller: str | None) -> Callable[[], asyncio.AbstractEventLoop]:
    if subject == "treadle":
        import treadle

        def treadle_loop() -> asyncio.AbstractEventLoop:
            return treadle.new_event_loop(poller=poller)

        return treadle_loop
    return asyncio.SelectorEventLoop


def _install_subject(subject: str, poller: str | None) -> Callable[[], asyncio.AbstractEventLoop]:
    """Make the policy (and every reset of it) produce counted loops under test."""
    factory = _subject_factory(subject, poller)

    def make_loop() -> asyncio.AbstractEventLoop:
        global _loops_made
        _loops_made += 1
        return factory()

    base: type[asyncio.AbstractEventLoopPolicy]
    if subject == "treadle":
        import treadle

        base = treadle.EventLoopPolicy
    else:
        base = asyncio.DefaultEventLoopPolicy

    class SubjectPolicy(base):  # type: ignore[misc,valid-type]  # base chosen at run time
        def new_event_loop(self) -> asyncio.AbstractEventLoop:
            return make_loop()

    # asyncio.events re-creates the policy from the package attribute after
    # set_event_loop_policy(None); see the module docstring.
    asyncio.DefaultEventLoopPolicy = SubjectPolicy
    asyncio.set_event_loop_policy(SubjectPolicy())
    return make_loop


def _patch_test_utils(make_loop: Callable[[], asyncio.AbstractEventLoop]) -> None:
    # CPython's test package ships without type information.
    from test.test_asyncio import utils as test_utils  # type: ignore[import-not-found]

    original_new_test_loop = test_utils.TestCase.new_test_loop
    original_close_loop = test_utils.TestCase.close_loop

    def new_test_loop(self: Any, gen: Any = None) -> asyncio.AbstractEventLoop:
        if gen is not None:
            return original_new_test_loop(self, gen)  # type: ignore[no-any-return]  # untyped
        loop = make_loop()
        self.set_event_loop(loop)
        return loop

    def close_loop(loop: asyncio.AbstractEventLoop) -> None:
        if isinstance(loop, asyncio.BaseEventLoop):
            original_close_loop(loop)
            return
        if not loop.is_closed():
            loop.run_until_complete(loop.shutdown_default_executor())
        loop.close()

    test_utils.TestCase.new_test_loop = new_test_loop
    test_utils.TestCase.close_loop = staticmethod(close_loop)


def _runner_loop(make_loop: Callable[[], asyncio.AbstractEventLoop]) -> asyncio.AbstractEventLoop:
    """test_runners' BaseTest.tearDown asserts ``loop.shutdown_ag_run``; its mock sets it."""
    loop = make_loop()
    real_shutdown = loop.shutdown_asyncgens

    async def shutdown_asyncgens() -> None:
        loop.shutdown_ag_run = True  # type: ignore[attr-defined]
        await real_shutdown()

    loop.shutdown_ag_run = False  # type: ignore[attr-defined]
    loop.shutdown_asyncgens = shutdown_asyncgens  # type: ignore[method-assign]
    return loop


def _apply_spec(
    module: ModuleType, spec: ModuleSpec, make_loop: Callable[[], asyncio.AbstractEventLoop]
) -> list[type[unittest.TestCase]]:
    """Rebind, compose and drop; return the test classes to run."""
    from test.test_asyncio import utils as test_utils

    for class_name, method in spec.rebind.items():
        cls = getattr(module, class_name, None)
        if cls is None:
            continue
        if method == "new_loop:runner":
            cls.new_loop = lambda self: _runner_loop(make_loop)
        else:
            setattr(cls, method, lambda self: make_loop())

    classes = [
        value
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, unittest.TestCase)
        and name not in spec.drop
        and value.__module__ == module.__name__
    ]
    for composed in spec.compose:
        bases = tuple(
            test_utils.TestCase if b == "test_utils.TestCase" else getattr(module, b)
            for b in composed.bases
        )
        classes.append(_compose(composed, bases, module.__name__, make_loop))
    return classes


def _compose(
    composed: Composed,
    bases: tuple[type, ...],
    module_name: str,
    make_loop: Callable[[], asyncio.AbstractEventLoop],
) -> type[unittest.TestCase]:
    namespace: dict[str, Any] = {"__module__": module_name}
    if composed.hook != "setUp":
        namespace[composed.hook] = lambda self: make_loop()
    cls: type[unittest.TestCase] = type(composed.name, bases, namespace)
    if composed.hook == "setUp":

        def setUp(self: Any) -> None:
            super(cls, self).setUp()
            self.loop = make_loop()
            self.set_event_loop(self.loop)

        cls.setUp = setUp  # type: ignore[method-assign]  # built at run time on purpose
    return cls


class RecordingResult(unittest.TestResult):
    """Writes one JSON line per event, flushed, so a killed child loses nothing already run."""

    def __init__(self, out: TextIO, per_test_timeout: float) -> None:
        super().__init__()
        self._out = out
        self._timeout = per_test_timeout
        self._outcome: str | None = None
        self._detail = ""
        self._loops_at_start = 0
        self._started = 0.0

    def _emit(self, **record: Any) -> None:
        self._out.write(json.dumps(record) + "\n")
        self._out.flush()

    def startTest(self, test: unittest.TestCase) -> None:
        super().startTest(test)
        self._outcome, self._detail = None, ""
        self._loops_at_start = _loops_made
        self._started = time.monotonic()
        self._emit(event="start", id=test.id())
        print(f"--- {test.id()}", file=sys.stderr, flush=True)
        faulthandler.dump_traceback_later(self._timeout, exit=True, file=sys.stderr)

    def stopTest(self, test: unittest.TestCase) -> None:
        faulthandler.cancel_dump_traceback_later()
        super().stopTest(test)
        self._emit(
            event="end",
            id=test.id(),
            outcome=self._outcome or "pass",
            on_loop=_loops_made > self._loops_at_start,
            seconds=round(time.monotonic() - self._started, 3),
            detail=self._detail,
        )

    def _set(self, outcome: str, detail: str = "") -> None:
        # The first failure wins: a failing subtest followed by an error in tearDown is a failure.
        if self._outcome in (None, "pass"):
            self._outcome, self._detail = outcome, detail

    def addSuccess(self, test: unittest.TestCase) -> None:
        self._set("pass")

    def addFailure(self, test: unittest.TestCase, err: Any) -> None:
        super().addFailure(test, err)
        self._set("fail", _format(err))

    def addError(self, test: Any, err: Any) -> None:
        super().addError(test, err)
        if not isinstance(test, unittest.TestCase):
            # setUpClass/tearDownModule failures arrive with a placeholder "test".
            self._emit(
                event="end",
                id=str(test),
                outcome="error",
                on_loop=False,
                seconds=0,
                detail=_format(err),
            )
            return
        self._set("error", _format(err))

    def addSkip(self, test: unittest.TestCase, reason: str) -> None:
        super().addSkip(test, reason)
        self._set("skip", reason)

    def addExpectedFailure(self, test: unittest.TestCase, err: Any) -> None:
        self._set("pass")

    def addUnexpectedSuccess(self, test: unittest.TestCase) -> None:
        self._set("fail", "unexpected success")

    def addSubTest(self, test: unittest.TestCase, subtest: unittest.TestCase, err: Any) -> None:
        if err is not None:
            kind = "fail" if issubclass(err[0], test.failureException) else "error"
            self._set(kind, f"[{subtest._subDescription()}] " + _format(err))  # type: ignore[attr-defined]


def _format(err: tuple[type[BaseException], BaseException, TracebackType | None]) -> str:
    lines = traceback.format_exception(*err)
    text = "".join(lines)
    return text[-3000:]


def _iter_tests(suite: unittest.TestSuite) -> Iterator[unittest.TestCase]:
    for item in suite:
        if isinstance(item, unittest.TestSuite):
            yield from _iter_tests(item)
        else:
            yield item


def child_main(args: argparse.Namespace) -> int:
    spec = next(s for s in MODULES if s.name == args.child)
    make_loop = _install_subject(args.subject, args.poller)
    _patch_test_utils(make_loop)
    module = importlib.import_module(f"test.test_asyncio.{spec.name}")
    classes = _apply_spec(module, spec, make_loop)
    skip = set(Path(args.skip_file).read_text().split()) if args.skip_file else set()
    only = set(Path(args.only_file).read_text().split()) if args.only_file else None
    loader = unittest.TestLoader()
    suite = unittest.TestSuite()
    planned = []
    for cls in sorted(classes, key=lambda c: c.__name__):
        for test in _iter_tests(loader.loadTestsFromTestCase(cls)):
            if (
                test.id() not in skip
                and (not args.match or args.match in test.id())
                and (only is None or test.id() in only)
            ):
                suite.addTest(test)
                planned.append(test.id())
    with open(args.results, "a", encoding="utf-8") as out:
        out.write(json.dumps({"event": "plan", "ids": planned}) + "\n")
        out.flush()
        # unittest.main's default: show each warning once, as the suite's authors saw them.
        with warnings.catch_warnings():
            warnings.simplefilter("default")
            suite.run(RecordingResult(out, args.per_test_timeout))
    return 0


# -- the parent: one child per module, restarted after a hang -----------------------------------


@dataclasses.dataclass
class Outcome:
    outcome: str  # pass | fail | error | skip | hang | notrun
    on_loop: bool
    seconds: float
    detail: str


@dataclasses.dataclass
class ModuleRun:
    name: str
    tests: dict[str, Outcome]
    seconds: float
    log: Path

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.tests.values() if o.outcome == outcome)

    @property
    def on_loop(self) -> int:
        return sum(1 for o in self.tests.values() if o.on_loop)


def run_module(
    spec: ModuleSpec,
    subject: str,
    args: argparse.Namespace,
    workdir: Path,
    deadline: float,
    only: set[str] | None = None,
) -> ModuleRun:
    tests: dict[str, Outcome] = {}
    planned: list[str] = []
    log = workdir / f"{spec.name}.{subject}.log"
    results = workdir / f"{spec.name}.{subject}.jsonl"
    skip_file = workdir / f"{spec.name}.{subject}.skip"
    started = time.monotonic()
    cwd = workdir / f"cwd-{spec.name}-{subject}"
    cwd.mkdir(exist_ok=True)
    for _attempt in range(args.max_restarts + 1):
        skip_file.write_text("\n".join(tests))
        offset = results.stat().st_size if results.exists() else 0
        cmd = [
            sys.executable,
            "-X",
            "faulthandler",
            os.path.abspath(__file__),
            "--child",
            spec.name,
            "--subject",
            subject,
            "--results",
            str(results),
            "--skip-file",
            str(skip_file),
            "--per-test-timeout",
            str(args.per_test_timeout),
        ]
        if args.poller:
            cmd += ["--poller", args.poller]
        if args.match:
            cmd += ["--match", args.match]
        if only is not None:
            only_file = workdir / f"{spec.name}.{subject}.only"
            only_file.write_text("\n".join(sorted(only)))
            cmd += ["--only-file", str(only_file)]
        with open(log, "a", encoding="utf-8") as log_file:
            try:
                proc = subprocess.run(
                    cmd,
                    cwd=cwd,
                    stdout=log_file,
                    stderr=log_file,
                    stdin=subprocess.DEVNULL,
                    timeout=max(1.0, deadline - time.monotonic()),
                    check=False,
                )
                returncode: int | None = proc.returncode
            except subprocess.TimeoutExpired:
                returncode = None
        last_started = _read_results(results, offset, tests, planned)
        finished = returncode == 0 and last_started is None
        if finished or returncode is None:
            break
        if last_started is not None:
            # The watchdog (or a crash) ended the child inside this test.
            tests[last_started] = Outcome(
                "hang" if returncode == 1 else "error",
                True,
                args.per_test_timeout,
                f"child exited with {returncode} inside this test; stack in {log}",
            )
        else:
            # It died before or after running tests (import error, module teardown): no restart.
            tests.setdefault(
                f"{spec.name} (child)",
                Outcome("error", False, 0, f"child exited with {returncode}; see {log}"),
            )
            break
    for test_id in planned:
        tests.setdefault(test_id, Outcome("notrun", False, 0, "module time budget exhausted"))
    return ModuleRun(spec.name, tests, time.monotonic() - started, log)


def _read_results(
    path: Path, offset: int, tests: dict[str, Outcome], planned: list[str]
) -> str | None:
    """Fold new result lines into ``tests``; return the id of a test that started, never ended."""
    if not path.exists():
        return None
    open_test: str | None = None
    with open(path, encoding="utf-8") as f:
        f.seek(offset)
        for line in f:
            with contextlib.suppress(json.JSONDecodeError):  # a line cut by the kill
                record = json.loads(line)
                if record["event"] == "plan":
                    planned.extend(i for i in record["ids"] if i not in planned)
                elif record["event"] == "start":
                    open_test = record["id"]
                else:
                    tests[record["id"]] = Outcome(
                        record["outcome"], record["on_loop"], record["seconds"], record["detail"]
                    )
                    if record["id"] == open_test:
                        open_test = None
    return open_test


# -- reporting ----------------------------------------------------------------------------------

COLUMNS = ("tests", "pass", "fail", "error", "skip", "hang", "notrun", "on-loop", "secs")


def _row(name: str, run: ModuleRun | None) -> str:
    if run is None:
        return f"{name:<26}" + " (not run)"
    values = [
        len(run.tests),
        run.count("pass"),
        run.count("fail"),
        run.count("error"),
        run.count("skip"),
        run.count("hang"),
        run.count("notrun"),
        run.on_loop,
        round(run.seconds),
    ]
    return f"{name:<26}" + "".join(f"{v:>8}" for v in values)


def print_table(title: str, runs: list[ModuleRun]) -> None:
    print(f"\n{title}")
    print(f"{'module':<26}" + "".join(f"{c:>8}" for c in COLUMNS))
    for run in runs:
        print(_row(run.name, run))
    total = ModuleRun("TOTAL", {}, sum(r.seconds for r in runs), Path())
    for run in runs:
        total.tests.update({f"{run.name}:{k}": v for k, v in run.tests.items()})
    print(_row("TOTAL", total))


def _bad(o: Outcome | None) -> bool:
    return o is not None and o.outcome in ("fail", "error", "hang", "notrun")


def _summary_line(detail: str) -> str:
    lines = [ln for ln in detail.strip().splitlines() if ln.strip()]
    return lines[-1].strip()[:160] if lines else ""


def print_failures(
    subject_runs: list[ModuleRun], baseline_runs: list[ModuleRun] | None, details: bool
) -> None:
    base = {r.name: r for r in baseline_runs or []}
    only_here: list[tuple[str, Outcome]] = []
    also_baseline: list[tuple[str, Outcome]] = []
    for run in subject_runs:
        for test_id, outcome in sorted(run.tests.items()):
            if not _bad(outcome):
                continue
            other = base.get(run.name)
            if other is not None and _bad(other.tests.get(test_id)):
                also_baseline.append((test_id, outcome))
            else:
                only_here.append((test_id, outcome))
    label = "failing on treadle only" if baseline_runs is not None else "failing on treadle"
    _print_grouped(f"{label}: {len(only_here)}", only_here, details)
    if baseline_runs is not None:
        title = f"failing on asyncio's loop too (environment or harness): {len(also_baseline)}"
        _print_grouped(title, also_baseline, False)
        here = {run.name: run for run in subject_runs}
        asyncio_only = [
            (test_id, outcome)
            for run in baseline_runs
            for test_id, outcome in sorted(run.tests.items())
            if _bad(outcome)
            and run.name in here
            and getattr(here[run.name].tests.get(test_id), "outcome", None) == "pass"
        ]
        title = f"failing on asyncio's loop only (treadle passes): {len(asyncio_only)}"
        _print_grouped(title, asyncio_only, False)


def _print_grouped(title: str, failures: list[tuple[str, Outcome]], details: bool) -> None:
    """Failures grouped by their error line (numbers blanked); each test listed, since the
    test id (class.method) says what to read."""
    print(f"\n{title}")
    groups: dict[str, list[tuple[str, Outcome]]] = {}
    for test_id, outcome in failures:
        key = f"{outcome.outcome}: " + re.sub(r"\d+", "N", _summary_line(outcome.detail))
        groups.setdefault(key, []).append((test_id, outcome))
    for message, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"  {len(members):>4} x {message}")
        for test_id, outcome in members:
            print(f"         {test_id.removeprefix('test.test_asyncio.')}")
            if details:
                print("           " + outcome.detail.strip().replace("\n", "\n           "))


def _suite_dir() -> Path | None:
    try:
        import test.test_asyncio as package  # type: ignore[import-not-found]
    except ImportError:
        return None
    return Path(package.__file__).parent if package.__file__ else None


def parent_main(args: argparse.Namespace) -> int:
    suite_dir = _suite_dir()
    version = ".".join(map(str, sys.version_info[:3]))
    if suite_dir is None:
        print(
            f"SKIP: Python {version} ({sys.executable}) does not ship test.test_asyncio "
            "(Debian: install libpython3.X-testsuite); nothing to run."
        )
        return 0
    specs = [s for s in MODULES if sys.version_info[:2] >= s.since]
    if args.modules:
        wanted = set(args.modules.split(","))
        unknown = wanted - {s.name for s in MODULES}
        if unknown:
            sys.exit(f"unknown modules: {sorted(unknown)} (see --list)")
        specs = [s for s in specs if s.name in wanted]
    if args.list:
        for s in specs:
            print(f"{s.name}: runs" + "".join(f"\n    drops {k}: {v}" for k, v in s.drop.items()))
        for name, reason in EXCLUDED_MODULES.items():
            print(f"{name}: excluded: {reason}")
        return 0

    if args.gate or args.record:
        return gate_main(args, specs, version)
    subjects = ["asyncio"] if args.baseline or args.baseline_only else []
    subjects += [] if args.baseline_only else ["treadle"]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="treadle-cpython-asyncio-"))
    workdir.mkdir(parents=True, exist_ok=True)
    print(f"CPython test.test_asyncio from {suite_dir}\nPython {version}; logs in {workdir}")
    runs: dict[str, list[ModuleRun]] = {}
    for subject in subjects:
        deadline_total = time.monotonic() + args.budget
        runs[subject] = []
        for spec in specs:
            deadline = min(deadline_total, time.monotonic() + args.module_timeout)
            run = run_module(spec, subject, args, workdir, deadline)
            runs[subject].append(run)
            if args.progress:
                print(_row(spec.name, run) + f"   [{subject}]", flush=True)
    poller = args.poller or "default poller"
    for subject in subjects:
        loop_name = f"treadle ({poller})" if subject == "treadle" else "asyncio SelectorEventLoop"
        print_table(f"== loop under test: {loop_name}, Python {version}", runs[subject])
    if "treadle" in runs:
        print_failures(runs["treadle"], runs.get("asyncio"), args.details)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    subject: {
                        r.name: {k: dataclasses.asdict(v) for k, v in r.tests.items()}
                        for r in subject_runs
                    }
                    for subject, subject_runs in runs.items()
                },
                indent=1,
            )
        )
    return 0


# -- the regression gate ------------------------------------------------------------------------
# tests/conformance/expected/cpython-3.X.txt lists, per Python minor version, the tests treadle
# passed when it was recorded (our own list of test ids, no test code). --gate fails when one of
# them does not pass any more; tests that start passing are reported, to be recorded.

_ID_PREFIX = "test.test_asyncio."
EXPECTED_DIR = Path(__file__).resolve().parent / "expected"


def expected_path() -> Path:
    return EXPECTED_DIR / f"cpython-{sys.version_info[0]}.{sys.version_info[1]}.txt"


def read_expected(path: Path) -> set[str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return {_ID_PREFIX + ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")}


def write_expected(path: Path, passed: set[str], version: str) -> None:
    header = [
        f"# CPython {version}'s test.test_asyncio tests that treadle passes (ids without",
        f"# '{_ID_PREFIX}'). Written by: python tests/conformance/cpython_asyncio.py --record",
        "# Checked by --gate (.ci/run): each listed test must still pass. Add; never drop one",
        "# without saying why in docs/conformance.md.",
    ]
    ids = sorted(i.removeprefix(_ID_PREFIX) for i in passed)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(header + ids) + "\n", encoding="utf-8")


def _run_treadle(
    specs: list[ModuleSpec], args: argparse.Namespace, workdir: Path, only: set[str] | None
) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    deadline_total = time.monotonic() + args.budget
    for spec in specs:
        wanted = None
        if only is not None:
            wanted = {i for i in only if i.startswith(f"{_ID_PREFIX}{spec.name}.")}
            if not wanted:
                continue
        deadline = min(deadline_total, time.monotonic() + args.module_timeout)
        run = run_module(spec, "treadle", args, workdir, deadline, wanted)
        outcomes.update(run.tests)
        if args.progress:
            print(_row(spec.name, run) + "   [treadle]", flush=True)
    return outcomes


def gate_main(args: argparse.Namespace, specs: list[ModuleSpec], version: str) -> int:
    """--record writes the passing set; --gate fails on a recorded test that no longer passes.

    A regression is run once more on its own before it counts: on a loaded machine a test may
    miss a deadline once (the per-test watchdog), and the gate is about behaviour, not load.
    """
    path = expected_path()
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="treadle-cpython-gate-"))
    workdir.mkdir(parents=True, exist_ok=True)
    expected: set[str] = set()
    if args.gate:
        if not path.exists():
            print(f"FAIL: no recorded results for Python {version}: {path} is missing")
            return 1
        selected = tuple(f"{_ID_PREFIX}{spec.name}." for spec in specs)
        expected = {i for i in read_expected(path) if i.startswith(selected)}  # --modules
    print(f"Python {version}; treadle side only; logs in {workdir}", flush=True)
    started = time.monotonic()
    outcomes = _run_treadle(specs, args, workdir, None)
    passed = {i for i, o in outcomes.items() if o.outcome == "pass"}
    if args.record:
        write_expected(path, passed, version)
        print(f"recorded {len(passed)} passing tests of {len(outcomes)} in {path}")
        return 0
    regressed = expected - passed
    flaky: set[str] = set()
    if regressed:
        print(f"{len(regressed)} recorded tests did not pass; running them once more", flush=True)
        (workdir / "retry").mkdir(exist_ok=True)
        retry = _run_treadle(specs, args, workdir / "retry", regressed)
        flaky = {i for i in regressed if getattr(retry.get(i), "outcome", None) == "pass"}
        regressed -= flaky
    new = passed - expected
    seconds = time.monotonic() - started
    print(
        f"gate, Python {version}: {len(expected)} recorded, {len(passed)} passed now, "
        f"{len(regressed)} regressed, {len(flaky)} passed on retry, {len(new)} newly passing; "
        f"{seconds:.0f} s"
    )
    for test_id in sorted(flaky):
        print(f"  passed on retry: {test_id.removeprefix(_ID_PREFIX)}")
    if new:
        print(f"  {len(new)} tests pass that are not recorded: --record adds them")
    for test_id in sorted(regressed):
        outcome = outcomes.get(test_id)
        why = f"{outcome.outcome}: {_summary_line(outcome.detail)}" if outcome else "not run"
        print(f"  REGRESSED {test_id.removeprefix(_ID_PREFIX)}  ({why})")
    if regressed:
        return 1
    if not args.workdir:
        shutil.rmtree(workdir, ignore_errors=True)  # nothing to read when all is well (CI)
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--baseline",
        action="store_true",
        help="also run the same selection on asyncio's own loop and compare",
    )
    parser.add_argument("--baseline-only", action="store_true", help="only asyncio's loop")
    parser.add_argument("--modules", help="comma-separated subset, e.g. test_tasks,test_streams")
    parser.add_argument("--match", help="only tests whose id contains this string")
    parser.add_argument("--poller", help="treadle poller (epoll, poll, select); default: best")
    parser.add_argument("--per-test-timeout", type=float, default=10.0)
    parser.add_argument("--module-timeout", type=float, default=180.0)
    parser.add_argument(
        "--budget", type=float, default=600.0, help="seconds per subject for all modules"
    )
    parser.add_argument("--max-restarts", type=int, default=20)
    parser.add_argument("--details", action="store_true", help="print failure tracebacks")
    parser.add_argument("--progress", action="store_true", help="print each module as it ends")
    parser.add_argument("--list", action="store_true", help="list modules, drops and exclusions")
    parser.add_argument("--json", help="write every outcome to this file")
    parser.add_argument("--workdir", help="where logs go (default: a new temp dir)")
    parser.add_argument(
        "--gate",
        action="store_true",
        help="treadle only; exit 1 when a test listed in expected/cpython-3.X.txt does not pass",
    )
    parser.add_argument(
        "--record", action="store_true", help="treadle only; write expected/cpython-3.X.txt"
    )
    # internal: the child process
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--subject", help=argparse.SUPPRESS)
    parser.add_argument("--results", help=argparse.SUPPRESS)
    parser.add_argument("--skip-file", help=argparse.SUPPRESS)
    parser.add_argument("--only-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child_main(args)
    return parent_main(args)


if __name__ == "__main__":
    sys.exit(main())
