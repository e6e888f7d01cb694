"""loop.subprocess_exec/shell and asyncio.create_subprocess_*: asyncio's loop vs treadle's.

Every test body runs on asyncio's loop (the oracle) and on each treadle poller, with real
children (``sys.executable -c``, ``true``, ``cat``, ``sh``).
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from subprocess_helpers import PY, RecordingProtocol, zombie_children

Loop = asyncio.AbstractEventLoop
PIPE = subprocess.PIPE

ECHO_REVERSED = "import sys; d = sys.stdin.buffer.read(); sys.stdout.buffer.write(d[::-1])"


def test_communicate_several_mib_both_ways(loop: Loop) -> None:
    payload = os.urandom(4 * 1024 * 1024)
    script = (
        "import sys; d = sys.stdin.buffer.read(); "
        "sys.stdout.buffer.write(d); sys.stderr.buffer.write(d[:3 * 1024 * 1024])"
    )

    async def main() -> tuple[bytes, bytes, int | None]:
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", script, stdin=PIPE, stdout=PIPE, stderr=PIPE
        )
        out, err = await proc.communicate(payload)
        return out, err, proc.returncode

    out, err, code = loop.run_until_complete(main())
    assert out == payload
    assert err == payload[: 3 * 1024 * 1024]
    assert code == 0


def test_shell_runs_through_sh(loop: Loop) -> None:
    async def main() -> tuple[bytes, int]:
        proc = await asyncio.create_subprocess_shell("echo $((6 * 7)); exit 3", stdout=PIPE)
        out, _ = await proc.communicate()
        return out, await proc.wait()

    assert loop.run_until_complete(main()) == (b"42\n", 3)


def test_protocol_callbacks_in_documented_order(loop: Loop) -> None:
    async def main() -> tuple[list[str], dict[int, bytearray], Any]:
        transport, protocol = await loop.subprocess_exec(
            RecordingProtocol,
            PY,
            "-c",
            "import sys; sys.stdout.write('out'); sys.stderr.write('err'); sys.stdin.read()",
        )
        assert protocol.events == ["connection_made"]
        assert transport.get_pipe_transport(0) is not None
        transport.get_pipe_transport(0).close()
        await protocol.done
        returncode = transport.get_returncode()
        transport.close()
        return protocol.events, protocol.data, returncode

    events, data, returncode = loop.run_until_complete(main())
    assert returncode == 0
    assert data == {1: bytearray(b"out"), 2: bytearray(b"err")}
    assert events[0] == "connection_made"
    assert events[-1] == "connection_lost None"
    middle = sorted(event for event in events[1:-1] if not event.startswith("data"))
    assert middle == [
        "pipe_connection_lost 0 None",
        "pipe_connection_lost 1 None",
        "pipe_connection_lost 2 None",
        "process_exited",
    ]


def test_transport_accessors(loop: Loop) -> None:
    async def main() -> None:
        transport, protocol = await loop.subprocess_exec(
            RecordingProtocol, "true", stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        popen = transport.get_extra_info("subprocess")
        assert isinstance(popen, subprocess.Popen)
        assert transport.get_pid() == popen.pid
        assert transport.get_pipe_transport(0) is None
        assert isinstance(transport.get_pipe_transport(1), asyncio.ReadTransport)
        assert transport.get_pipe_transport(2) is None
        assert transport.get_protocol() is protocol
        assert not transport.is_closing()
        await protocol.done
        assert transport.get_returncode() == 0
        assert popen.returncode == 0  # the loop reaped it and told Popen
        transport.close()
        assert transport.is_closing()
        transport.close()  # idempotent

    loop.run_until_complete(main())


def test_wait_returns_after_exit_and_pipes(loop: Loop) -> None:
    async def main() -> list[str]:
        transport, protocol = await loop.subprocess_exec(RecordingProtocol, PY, "-c", "pass")
        code = await transport._wait()
        assert code == 0
        events = list(protocol.events)
        transport.close()
        return events

    events = loop.run_until_complete(main())
    assert "process_exited" in events
    assert events[-1] == "connection_lost None"


# -- errors --------------------------------------------------------------------------------------

EXEC_MISUSE: list[tuple[dict[str, Any], str]] = [
    ({"universal_newlines": True}, "universal_newlines must be False"),
    ({"shell": True}, "shell must be False"),
    ({"bufsize": 1}, "bufsize must be 0"),
    ({"bufsize": -1}, "bufsize must be 0"),
    ({"text": True}, "text must be False"),
    ({"encoding": "utf-8"}, "encoding must be None"),
    ({"errors": "strict"}, "errors must be None"),
    ({"universal_newlines": True, "shell": True}, "universal_newlines must be False"),
]


@pytest.mark.parametrize(("kwargs", "message"), EXEC_MISUSE)
def test_subprocess_exec_rejects_text_mode_and_shell(
    loop: Loop, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        loop.run_until_complete(loop.subprocess_exec(asyncio.SubprocessProtocol, "true", **kwargs))


SHELL_MISUSE: list[tuple[Any, dict[str, Any], str]] = [
    (["true"], {}, "cmd must be a string"),
    (None, {}, "cmd must be a string"),
    ("true", {"universal_newlines": True}, "universal_newlines must be False"),
    ("true", {"shell": False}, "shell must be True"),
    ("true", {"bufsize": 4096}, "bufsize must be 0"),
    ("true", {"text": True}, "text must be False"),
    ("true", {"encoding": "ascii"}, "encoding must be None"),
    ("true", {"errors": "ignore"}, "errors must be None"),
]


@pytest.mark.parametrize(("cmd", "kwargs", "message"), SHELL_MISUSE)
def test_subprocess_shell_rejects_lists_and_text_mode(
    loop: Loop, cmd: Any, kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        loop.run_until_complete(loop.subprocess_shell(asyncio.SubprocessProtocol, cmd, **kwargs))


def test_create_subprocess_exec_text_is_rejected(loop: Loop) -> None:
    async def main() -> None:
        await asyncio.create_subprocess_exec("true", text=True)

    with pytest.raises(ValueError, match=r"^text must be False$"):
        loop.run_until_complete(main())


def test_missing_program_raises_file_not_found(loop: Loop, tmp_path: Path) -> None:
    missing = str(tmp_path / "no-such-program")

    async def main() -> None:
        await asyncio.create_subprocess_exec(missing, stdout=PIPE)

    with pytest.raises(FileNotFoundError) as info:
        loop.run_until_complete(main())
    assert info.value.filename == missing


def test_non_executable_file_raises_permission_error(loop: Loop, tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)

    async def main() -> None:
        await asyncio.create_subprocess_exec(str(script), stdin=PIPE, stdout=PIPE)

    with pytest.raises(PermissionError):
        loop.run_until_complete(main())


def test_popen_keyword_errors_come_from_popen(loop: Loop) -> None:
    async def main() -> None:
        await loop.subprocess_exec(asyncio.SubprocessProtocol, "true", no_such_option=1)

    with pytest.raises(TypeError, match="no_such_option"):
        loop.run_until_complete(main())


def test_missing_cwd_raises(loop: Loop, tmp_path: Path) -> None:
    async def main() -> None:
        await asyncio.create_subprocess_exec("true", cwd=str(tmp_path / "missing"))

    with pytest.raises(FileNotFoundError):
        loop.run_until_complete(main())


# -- standard streams and Popen options ----------------------------------------------------------


def test_stderr_to_stdout_and_devnull(loop: Loop) -> None:
    script = "import sys; sys.stdout.write('a'); sys.stdout.flush(); sys.stderr.write('b')"

    async def main() -> tuple[bytes, bytes | None]:
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", script, stdin=subprocess.DEVNULL, stdout=PIPE, stderr=subprocess.STDOUT
        )
        return await proc.communicate()

    assert loop.run_until_complete(main()) == (b"ab", None)


def test_stdout_to_file_object_and_fd(loop: Loop, tmp_path: Path) -> None:
    async def main(out: BinaryIO, err: BinaryIO) -> None:
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", "import sys; print('o'); print('e', file=sys.stderr)",
            stdout=out, stderr=err.fileno(),
        )  # fmt: skip
        assert proc.stdout is None
        assert proc.stderr is None
        assert await proc.wait() == 0

    with open(tmp_path / "out", "wb") as out, open(tmp_path / "err", "wb") as err:
        loop.run_until_complete(main(out, err))
    assert (tmp_path / "out").read_bytes() == b"o\n"
    assert (tmp_path / "err").read_bytes() == b"e\n"


def test_popen_options_pass_through(loop: Loop, tmp_path: Path) -> None:
    read_fd, write_fd = os.pipe()
    script = (
        "import os, sys; os.write(int(sys.argv[1]), b'x'); "
        "print(os.getcwd(), os.environ['TREADLE_TEST'], os.getsid(0) == os.getpid(), "
        "oct(os.umask(0)))"
    )

    async def main() -> bytes:
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", script, str(write_fd),
            stdout=PIPE, cwd=str(tmp_path), env={"TREADLE_TEST": "yes"},
            pass_fds=(write_fd,), start_new_session=True, umask=0o027,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return out

    try:
        out = loop.run_until_complete(main())
        assert os.read(read_fd, 1) == b"x"
    finally:
        os.close(read_fd)
        os.close(write_fd)
    assert out.decode().split() == [str(tmp_path), "yes", "True", "0o27"]


@pytest.mark.skipif(sys.version_info < (3, 11), reason="process_group is 3.11+")
def test_process_group_passes_through(loop: Loop) -> None:
    async def main() -> bytes:
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", "import os; print(os.getpgid(0) == os.getpid())",
            stdout=PIPE, process_group=0,
        )  # fmt: skip
        out, _ = await proc.communicate()
        return out

    assert loop.run_until_complete(main()) == b"True\n"


def test_streams_read_lines_and_write(loop: Loop) -> None:
    async def main() -> list[bytes]:
        proc = await asyncio.create_subprocess_exec("cat", stdin=PIPE, stdout=PIPE)
        assert proc.stdin is not None
        assert proc.stdout is not None
        lines = []
        for word in (b"one\n", b"two\n"):
            proc.stdin.write(word)
            await proc.stdin.drain()
            lines.append(await proc.stdout.readline())
        proc.stdin.close()
        await proc.stdin.wait_closed()
        lines.append(await proc.stdout.read())
        assert await proc.wait() == 0
        return lines

    assert loop.run_until_complete(main()) == [b"one\n", b"two\n", b""]


def test_no_zombie_after_wait(loop: Loop) -> None:
    async def main() -> int:
        proc = await asyncio.create_subprocess_exec("true")
        await proc.wait()
        return proc.pid

    pid = loop.run_until_complete(main())
    assert pid not in zombie_children()


def test_no_pipes_connection_made_has_run_when_exec_returns(loop: Loop) -> None:
    async def main() -> list[str]:
        transport, protocol = await loop.subprocess_exec(
            RecordingProtocol, "true", stdin=None, stdout=None, stderr=None
        )
        assert protocol.events == ["connection_made"]
        assert protocol.transport is transport
        await protocol.done
        transport.close()
        return protocol.events

    assert loop.run_until_complete(main()) == [
        "connection_made",
        "process_exited",
        "connection_lost None",
    ]


class FailingConnectionMade(RecordingProtocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        raise RuntimeError("connection_made failed")


def test_no_pipes_connection_made_error_goes_to_handler(
    loop: Loop, exception_contexts: list[dict[str, Any]]
) -> None:
    async def main() -> int | None:
        transport, protocol = await loop.subprocess_exec(
            FailingConnectionMade, "true", stdin=None, stdout=None, stderr=None
        )
        await protocol.done
        transport.close()
        return transport.get_returncode()

    assert loop.run_until_complete(main()) == 0
    assert len(exception_contexts) == 1
    context = exception_contexts[0]
    assert context["message"].startswith("Exception in callback ")
    assert isinstance(context["exception"], RuntimeError)
    assert isinstance(context["handle"], asyncio.Handle)


def test_send_signal_and_terminate(loop: Loop) -> None:
    async def main() -> tuple[int, int]:
        first = await asyncio.create_subprocess_exec("sleep", "30")
        first.send_signal(signal.SIGINT)
        second = await asyncio.create_subprocess_exec("sleep", "30")
        second.terminate()
        codes = (await first.wait(), await second.wait())
        with pytest.raises(ProcessLookupError):
            first.kill()  # the transport has finished: asyncio raises
        return codes

    assert loop.run_until_complete(main()) == (-signal.SIGINT, -signal.SIGTERM)


def test_debug_mode_logs_spawn_and_exit(loop: Loop, caplog: pytest.LogCaptureFixture) -> None:
    loop.set_debug(True)

    async def main() -> int:
        proc = await asyncio.create_subprocess_exec("true", stdout=PIPE)
        await proc.communicate()
        return await proc.wait()

    with caplog.at_level(logging.DEBUG, logger="asyncio"):
        assert loop.run_until_complete(main()) == 0
    messages = [record.getMessage() for record in caplog.records]
    assert any(m.startswith("execute program 'true' stdout=<pipe>") for m in messages)
    assert any(m.startswith("process 'true' created: pid ") for m in messages)
    assert any("exited with return code 0" in m for m in messages)


def test_extra_becomes_transport_extra_info(loop: Loop) -> None:
    async def main() -> Any:
        transport, protocol = await loop.subprocess_exec(
            RecordingProtocol, "true", stdin=None, stdout=None, stderr=None, extra={"tag": 7}
        )
        await protocol.done
        transport.close()
        return transport.get_extra_info("tag")

    assert loop.run_until_complete(main()) == 7


@pytest.mark.skipif(os.geteuid() != 0, reason="setgroups() needs root, even to the same groups")
def test_user_group_extra_groups_pass_through(loop: Loop) -> None:
    script = "import os; print(os.getuid(), os.getgid(), os.getgroups())"

    async def main() -> bytes:
        proc = await asyncio.create_subprocess_exec(
            PY, "-c", script, stdout=PIPE, user=0, group=0, extra_groups=[0]
        )
        out, _ = await proc.communicate()
        return out

    assert loop.run_until_complete(main()) == b"0 0 [0]\n"
