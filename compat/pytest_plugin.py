"""treadle's pytest plugin (entry point ``pytest11``, loaded whenever treadle is installed).

What it gives a test suite, and nothing more (it changes no test that does not ask for it):

- ``anyio_backend = "treadle"`` (or ``("treadle", {"clock": ..., "poller": ...})``) for
  AnyIO's ``@pytest.mark.anyio`` tests: loading the plugin imports treadle, which makes the
  backend name known to AnyIO (compat/anyio/_register.py).
- pytest-asyncio (1.4+) tests on treadle loops, opt-in: ``--treadle-asyncio`` or the ini option
  ``treadle_asyncio = true`` makes this plugin answer pytest-asyncio's
  ``pytest_asyncio_loop_factories`` hook with ``{"treadle": treadle.new_event_loop}``.
- TLS fixtures on trustme: ``treadle_ca`` (one CA per session), ``treadle_server_context`` and
  ``treadle_client_context`` (``ssl.SSLContext``s whose certificates that CA issued, for
  ``localhost``, ``127.0.0.1`` and ``::1``; the client context carries a client certificate and
  the server context trusts the CA, so mutual TLS is one ``verify_mode = ssl.CERT_REQUIRED``
  away). docs/pytest.md shows them in use.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from typing import Any

import pytest

import treadle

_OPT_IN_HELP = "run pytest-asyncio tests on treadle loops (pytest-asyncio 1.4+)"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("treadle")
    group.addoption("--treadle-asyncio", action="store_true", default=None, help=_OPT_IN_HELP)
    parser.addini("treadle_asyncio", _OPT_IN_HELP, type="bool", default=False)


def pytest_configure(config: pytest.Config) -> None:
    # pytest-asyncio asks every registered implementation of its hook, and an implementation
    # must answer; so ours is registered only when the user opted in.
    opted_in = config.getoption("treadle_asyncio") or config.getini("treadle_asyncio")
    if opted_in and config.pluginmanager.hasplugin("asyncio"):
        config.pluginmanager.register(AsyncioLoopFactories(), "treadle-asyncio-loop-factories")
    elif opted_in:
        raise pytest.UsageError(
            "--treadle-asyncio / treadle_asyncio needs pytest-asyncio 1.4 or later installed"
        )


class AsyncioLoopFactories:
    """pytest-asyncio's hook, answered with treadle's loop."""

    @pytest.hookimpl(optionalhook=True)
    def pytest_asyncio_loop_factories(
        self, config: pytest.Config, item: pytest.Item
    ) -> Mapping[str, Callable[[], Any]]:
        return {"treadle": treadle.new_event_loop}


# -- TLS with trustme ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def treadle_ca() -> Any:
    """A trustme certificate authority, created once per test session."""
    trustme = pytest.importorskip("trustme", reason="the TLS fixtures need trustme installed")
    return trustme.CA()


@pytest.fixture
def treadle_server_context(treadle_ca: Any) -> ssl.SSLContext:
    """A server context with a fresh leaf for localhost, 127.0.0.1 and ::1; trusts the CA."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    treadle_ca.issue_cert("localhost", "127.0.0.1", "::1").configure_cert(context)
    treadle_ca.configure_trust(context)  # so that verify_mode = CERT_REQUIRED checks clients
    return context


@pytest.fixture
def treadle_client_context(treadle_ca: Any) -> ssl.SSLContext:
    """A client context that trusts the CA and presents its own certificate when asked."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    treadle_ca.configure_trust(context)
    treadle_ca.issue_cert("client@treadle.test").configure_cert(context)
    return context
