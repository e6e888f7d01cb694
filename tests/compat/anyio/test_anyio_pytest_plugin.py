"""treadle's pytest plugin, exercised in a separate pytest process on generated test files."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

USES_BACKEND_AND_TLS = """
import ssl
import asyncio
import anyio
import pytest
import treadle

CLOCK = treadle.testing.MockClock(autojump_threshold=0)

@pytest.fixture(params=["treadle", ("treadle", {"clock": CLOCK})])
def anyio_backend(request):
    return request.param

@pytest.mark.anyio
async def test_on_treadle():
    assert isinstance(asyncio.get_running_loop(), treadle.EventLoop)
    await anyio.sleep(0)

def test_tls_contexts(treadle_ca, treadle_server_context, treadle_client_context):
    assert treadle_server_context.protocol == ssl.PROTOCOL_TLS_SERVER
    assert treadle_client_context.verify_mode == ssl.CERT_REQUIRED
"""

USES_PYTEST_ASYNCIO = """
import asyncio
import pytest
import treadle

@pytest.mark.asyncio
async def test_loop_is_treadle():
    assert isinstance(asyncio.get_running_loop(), treadle.EventLoop)
"""


def _pytest(tmp_path: Path, source: str, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "test_generated.py").write_text(source)
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=50,
        check=False,
    )


def test_anyio_backend_treadle_and_tls_fixtures(tmp_path: Path) -> None:
    result = _pytest(tmp_path, USES_BACKEND_AND_TLS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


@pytest.mark.skipif(
    importlib.util.find_spec("pytest_asyncio") is not None, reason="pytest-asyncio is installed"
)
def test_asyncio_opt_in_without_pytest_asyncio_is_a_usage_error(tmp_path: Path) -> None:
    result = _pytest(tmp_path, "def test_nothing():\n    pass\n", "--treadle-asyncio")
    assert result.returncode == pytest.ExitCode.USAGE_ERROR
    assert "pytest-asyncio 1.4" in result.stderr


@pytest.mark.skipif(
    importlib.util.find_spec("pytest_asyncio") is None, reason="needs pytest-asyncio 1.4+"
)
def test_asyncio_opt_in_runs_pytest_asyncio_tests_on_treadle(tmp_path: Path) -> None:
    result = _pytest(tmp_path, USES_PYTEST_ASYNCIO, "--treadle-asyncio")
    assert result.returncode == 0, result.stdout + result.stderr


def test_plugin_changes_nothing_without_opt_in(tmp_path: Path) -> None:
    source = "import asyncio\n\ndef test_plain():\n    asyncio.run(asyncio.sleep(0))\n"
    result = _pytest(tmp_path, source)
    assert result.returncode == 0, result.stdout + result.stderr
