"""README's "Serving with uvicorn / aiohttp", run as written: real servers, real requests.

The programs and the uvicorn command are read from README.md (the blocks marked
``<!-- readme-test: NAME -->``), so the README cannot drift from what is tested. Each server runs
in a child process on 127.0.0.1 with port 0 (read back from its output) or a socket we bound; a
request checks the answer came from a treadle loop; SIGINT then stops it, and it must exit cleanly.
"""

from __future__ import annotations

import http.client
import re
import shlex
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("uvicorn")
pytest.importorskip("aiohttp")

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(
    r"^<!-- readme-test: (?P<name>[\w-]+) -->\n```\w+\n(?P<code>.*?)^```$", re.M | re.S
)

pytestmark = pytest.mark.slow


def readme_block(name: str) -> str:
    blocks = {m["name"]: m["code"] for m in BLOCK.finditer(README.read_text())}
    return blocks[name]


def _get(port: int) -> tuple[int, str]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10.0)
    try:
        connection.request("GET", "/")
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


def _wait_for_line(child: subprocess.Popen[str], pattern: str) -> re.Match[str]:
    """Read the child's merged output until a line matches; fail with what it printed."""
    assert child.stdout is not None
    seen = []
    for line in child.stdout:
        seen.append(line)
        match = re.search(pattern, line)
        if match:
            return match
    pytest.fail(f"the server exited before printing {pattern!r}:\n{''.join(seen)}")


def _stop(child: subprocess.Popen[str]) -> str:
    child.send_signal(signal.SIGINT)
    rest, _ = child.communicate(timeout=30)
    return rest


@pytest.fixture
def server_dir(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(readme_block("uvicorn-app"))
    (tmp_path / "serve_aiohttp.py").write_text(readme_block("aiohttp-runner"))
    return tmp_path


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    with sock:
        yield sock


def _spawn(args: list[str], cwd: Path, pass_fds: tuple[int, ...] = ()) -> subprocess.Popen[str]:
    return subprocess.Popen(
        args,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        cwd=cwd,
        pass_fds=pass_fds,
    )


def test_uvicorn_with_the_readme_loop_option(server_dir: Path) -> None:
    command = shlex.split(readme_block("uvicorn-command"))
    assert command[:2] == ["uvicorn", "app:app"]
    assert "treadle:new_event_loop" in command
    args = [sys.executable, "-m", *command, "--host", "127.0.0.1", "--port", "0"]
    with _spawn(args, server_dir) as child:
        try:
            match = _wait_for_line(child, r"Uvicorn running on http://127\.0\.0\.1:(\d+)")
            assert _get(int(match[1])) == (200, "treadle: True\n")
        finally:
            rest = _stop(child)
    assert child.returncode == 0, rest
    assert "Finished server process" in rest


def test_aiohttp_runner_on_treadle_run(server_dir: Path) -> None:
    script = server_dir / "serve_aiohttp.py"
    source = script.read_text()
    assert '"127.0.0.1", 8080' in source
    script.write_text(source.replace('"127.0.0.1", 8080', '"127.0.0.1", 0'))  # never a fixed port
    with _spawn([sys.executable, "-W", "error", str(script)], server_dir) as child:
        try:
            match = _wait_for_line(child, r"serving on http://127\.0\.0\.1:(\d+)")
            assert _get(int(match[1])) == (200, "treadle: True\n")
        finally:
            rest = _stop(child)
    # Ctrl-C: treadle.run unwinds main, the shielded runner.cleanup() finishes, and then
    # KeyboardInterrupt is raised, its traceback ending where main was waiting.
    assert child.returncode == -signal.SIGINT, rest
    assert rest.startswith("stopped\n"), rest
    assert rest.rstrip().endswith("KeyboardInterrupt"), rest
    assert "await asyncio.Event().wait()  # until Ctrl-C" in rest


RUN_APP = """\
import asyncio
import socket
import sys

from aiohttp import web

import treadle


async def hello(request: web.Request) -> web.Response:
    on_treadle = isinstance(asyncio.get_running_loop(), treadle.EventLoop)
    return web.Response(text=f"treadle: {on_treadle}\\n")


app = web.Application()
app.add_routes([web.get("/", hello)])
sock = socket.socket(fileno=int(sys.argv[1]))
web.run_app(app, sock=sock, loop=treadle.new_event_loop(), print=lambda *a: print("up", flush=True))
"""


def test_aiohttp_run_app_with_a_treadle_loop(tmp_path: Path, listener: socket.socket) -> None:
    # The README's one-line form, run_app(app, ..., loop=treadle.new_event_loop()), on a socket
    # bound here (port 0) and handed to the child.
    assert "loop=treadle.new_event_loop()" in README.read_text()
    script = tmp_path / "run_app.py"
    script.write_text(RUN_APP)
    fd = listener.fileno()
    args = [sys.executable, "-W", "error", str(script), str(fd)]
    with _spawn(args, tmp_path, pass_fds=(fd,)) as child:
        try:
            _wait_for_line(child, r"^up$")
            assert _get(listener.getsockname()[1]) == (200, "treadle: True\n")
        finally:
            rest = _stop(child)
    assert child.returncode == 0, rest  # run_app turns Ctrl-C into a clean shutdown
    assert rest == "", rest  # no warning (an unclosed loop, say) and no traceback
