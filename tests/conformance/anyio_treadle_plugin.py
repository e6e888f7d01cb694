"""pytest plugin loaded by anyio_suite.py into AnyIO's own test suite (``-p anyio_treadle_plugin``).

It is not a test module: it only chooses the loop under test, keeps traffic on loopback, and
records outcomes. ``TREADLE_CONFORMANCE_SUBJECT`` picks the subject:

- ``treadle``: every test that uses the ``anyio_backend`` fixture without parametrizing it itself
  gets ``("asyncio", {"debug": True, "loop_factory": <treadle>})`` (plus an eager-task variant on
  3.12+, mirroring the suite's own ``asyncio+eager``) instead of the conftest's params. This goes
  through the suite's own parametrization: a ``parametrize`` mark on ``anyio_backend``, which
  pytest prefers over the fixture's params. Tests that pin ``anyio_backend`` themselves (AnyIO's
  ``asyncio_params``, ``["asyncio"]``) and sync tests calling ``anyio.run(backend="asyncio")``
  reach treadle through ``treadle.EventLoopPolicy``, installed for the session.
- ``asyncio``: the suite's own asyncio params, untouched (the baseline).
- ``backend``: the native backend, ``anyio_backend = ("treadle", {"debug": True})``, for every
  test that does not pin its backends; tests pinned to asyncio are deselected (they are about
  asyncio, and the baseline runs them).

``TREADLE_CONFORMANCE_PLAIN=1`` (the gate) also deselects the asyncio params with a loop factory
(``asyncio+eager``, uvloop), so the baseline runs each test once, like the backend run.

In both modes the trio backend and the uvloop/winloop params are deselected: the comparison is
asyncio's loop against treadle as asyncio's loop. So are the tests in ``INTERNET_TESTS``, and, on
hosts where "localhost" has no IPv6 address, the suite's IPv6 ``family`` params.

Every test records whether it created a treadle loop ("on_loop"), so the report can tell tests
that exercised treadle from those that never touched it (e.g. fixtures building
``asyncio.EventLoop()`` directly on 3.13).
"""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import json
import os
import socket
import sys
import threading
from collections.abc import Generator
from typing import Any

import pytest

SUBJECT = os.environ.get("TREADLE_CONFORMANCE_SUBJECT", "treadle")
REPORT = os.environ.get("TREADLE_CONFORMANCE_REPORT")
PLAIN = os.environ.get("TREADLE_CONFORMANCE_PLAIN") == "1"

# Tests that need the Internet, by node id (relative to the suite's rootdir), and why. The rest of
# the suite's ``network`` mark covers tests that only resolve "localhost"; they stay.
INTERNET_TESTS: dict[str, str] = {
    "tests/test_sockets.py::test_getaddrinfo": "resolves faß.de / fass.de through real DNS",
    "tests/test_lazyimport.py::test_sourceless_install": "makes a venv, pip-installs from PyPI",
}

# -- the loop under test ------------------------------------------------------------------------

_lock = threading.Lock()
_treadle_loops = 0


def _count() -> None:
    global _treadle_loops
    with _lock:
        _treadle_loops += 1


def treadle_loop() -> asyncio.AbstractEventLoop:
    import treadle

    _count()
    return treadle.new_event_loop()


def treadle_eager_loop() -> asyncio.AbstractEventLoop:
    # The suite's own asyncio+eager factory, on treadle.
    loop = treadle_loop()
    loop.set_task_factory(asyncio.eager_task_factory)  # type: ignore[attr-defined,unused-ignore]
    return loop


def _treadle_params() -> list[Any]:
    params = [
        pytest.param(
            ("asyncio", {"debug": True, "loop_factory": treadle_loop}), id="asyncio+treadle"
        ),
    ]
    if sys.version_info >= (3, 12):
        params.append(
            pytest.param(
                ("asyncio", {"debug": True, "loop_factory": treadle_eager_loop}),
                id="asyncio+treadle+eager",
            )
        )
    return params


def _backend_params() -> list[Any]:
    return [pytest.param(("treadle", {"debug": True}), id="treadle")]


def _install_treadle_policy() -> None:
    import treadle

    class CountingPolicy(treadle.EventLoopPolicy):
        def new_event_loop(self) -> treadle.EventLoop:
            _count()
            return super().new_event_loop()

    asyncio.set_event_loop_policy(CountingPolicy())


# -- loopback only ------------------------------------------------------------------------------


def _is_local_host(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return host is None
    if host in ("", "localhost", socket.gethostname()) or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or address.is_unspecified


def _is_literal(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    try:
        ipaddress.ip_address(str(host).split("%", 1)[0])
    except ValueError:
        return False
    return True


def _loopback_only(event: str, args: tuple[Any, ...]) -> None:
    """Audit hook: refuse connect/sendto/getaddrinfo that would leave this machine."""
    if event in ("socket.connect", "socket.sendto"):
        sock, address = args[0], args[-1]
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_local_host(address[0]):
            raise OSError(errno.ENETUNREACH, f"conformance run is loopback-only: {address!r}")
    elif event == "socket.getaddrinfo" and not _is_local_host(args[0]) and not _is_literal(args[0]):
        # Resolving a name other than localhost would query DNS; an address literal would not.
        raise socket.gaierror(socket.EAI_NONAME, f"conformance run is loopback-only: {args[0]!r}")


# -- pytest hooks -------------------------------------------------------------------------------


def _localhost_has_ipv6() -> bool:
    try:
        return bool(socket.getaddrinfo("localhost", 0, socket.AF_INET6, socket.SOCK_STREAM))
    except OSError:
        return False


# Some hosts (containers, gVisor) list only 127.0.0.1 for localhost. The suite's IPv6 params then
# fail on every loop alike and leave '::' sockets behind that later tests trip over as
# ResourceWarnings; so they are deselected on such hosts, with this reason.
_NO_IPV6_LOCALHOST = "environment: 'localhost' has no IPv6 address on this host"
_localhost_ipv6 = True


def pytest_configure(config: pytest.Config) -> None:
    global _localhost_ipv6
    _localhost_ipv6 = _localhost_has_ipv6()
    sys.addaudithook(_loopback_only)
    if SUBJECT == "treadle":
        _install_treadle_policy()
    if SUBJECT == "backend":
        import treadle  # noqa: F401  # makes backend="treadle" known to AnyIO


@pytest.hookimpl(tryfirst=True)
def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if SUBJECT not in ("treadle", "backend") or "anyio_backend" not in metafunc.fixturenames:
        return
    for mark in metafunc.definition.iter_markers("parametrize"):
        names = mark.args[0] if mark.args else mark.kwargs.get("argnames", "")
        if "anyio_backend" in (names.split(",") if isinstance(names, str) else names):
            return  # the test pins its backends; the policy covers its "asyncio"
    # pytest's fixture manager skips a fixture's own params when a parametrize mark names it.
    params = _backend_params() if SUBJECT == "backend" else _treadle_params()
    metafunc.definition.add_marker(pytest.mark.parametrize("anyio_backend", params, indirect=True))


def _deselect_reason(item: pytest.Item) -> str | None:
    if item.nodeid in INTERNET_TESTS or item.nodeid.split("[")[0] in INTERNET_TESTS:
        return "internet"
    callspec = getattr(item, "callspec", None)
    params = callspec.params if callspec is not None else {}
    if not _localhost_ipv6 and any(
        isinstance(v, int) and v == socket.AF_INET6 for v in params.values()
    ):
        return _NO_IPV6_LOCALHOST
    backend = params.get("anyio_backend")
    if backend is None and SUBJECT == "backend":
        return "does not use the anyio_backend fixture (the baseline runs it)"
    if backend is None:
        # Tests that take the backend as their own parameter (test_run_natively, pytester runs).
        return "trio backend" if "trio" in params.values() else None
    name, options = (backend, {}) if isinstance(backend, str) else backend
    if SUBJECT == "backend":
        return None if name == "treadle" else f"pinned to the {name} backend"
    if name != "asyncio":
        return f"{name} backend"
    if PLAIN and options.get("loop_factory") is not None:
        return "asyncio with a loop factory (the gate runs plain asyncio only)"
    factory = options.get("loop_factory")
    if factory is not None and getattr(factory, "__module__", "").split(".")[0] in (
        "uvloop",
        "winloop",
    ):
        return "uvloop"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    keep: list[pytest.Item] = []
    drop: list[pytest.Item] = []
    for item in items:
        (drop if _deselect_reason(item) else keep).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep
        _write({"event": "deselected", "ids": [(i.nodeid, _deselect_reason(i)) for i in drop]})


_on_loop: dict[str, bool] = {}
_results: dict[str, dict[str, Any]] = {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None]:
    before = _treadle_loops
    yield
    record = _results.pop(item.nodeid, None)
    if record is not None:
        record["on_loop"] = _treadle_loops > before
        _write(record)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    record = _results.setdefault(
        report.nodeid,
        {"event": "result", "id": report.nodeid, "outcome": "pass", "seconds": 0.0, "detail": ""},
    )
    record["seconds"] = round(record["seconds"] + report.duration, 3)
    if record["outcome"] not in ("pass", "xfail"):
        return  # the first bad phase decides
    if report.failed:
        record["outcome"] = "fail" if report.when == "call" else "error"
        record["detail"] = f"[{report.when}] " + report.longreprtext[-3000:]
    elif report.skipped:
        if hasattr(report, "wasxfail"):
            record["outcome"] = "xfail"
        elif record["outcome"] == "pass":
            record["outcome"] = "skip"
            record["detail"] = (
                str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
            )


def _write(record: dict[str, Any]) -> None:
    if REPORT:
        with open(REPORT, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=repr) + "\n")
