"""connect_read_pipe / connect_write_pipe on asyncio's loop (the oracle) and on treadle's.

Real pipes only: os.pipe(), FIFOs under tmp_path, socket pairs, a pty, and the stdin/stdout
pipes of real `python -c` children.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import pty
import socket
import subprocess
import sys
import tty
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest

Loop = asyncio.AbstractEventLoop


class PipeRecorder(asyncio.Protocol):
    """Records every callback of a pipe protocol; ``lost`` resolves with connection_lost's arg."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.data = bytearray()
        self.transport: Any = None
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("made")
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.data += data
        if self.events[-1] != "data":
            self.events.append("data")

    def eof_received(self) -> bool | None:
        self.events.append("eof")
        return None

    def pause_writing(self) -> None:
        self.events.append("pause_writing")

    def resume_writing(self) -> None:
        self.events.append(f"resume_writing at {self.transport.get_write_buffer_size()}")

    def connection_lost(self, exc: BaseException | None) -> None:
        self.events.append(f"lost {type(exc).__name__ if exc else None}")
        self.lost.set_result(exc)


async def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    async with asyncio.timeout(timeout):
        # Polling: the conditions are on protocol state that callbacks change; an Event per
        # condition would make every test longer than what it checks.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


def run(loop: Loop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


async def read_end(loop: Loop, pipe: Any) -> tuple[Any, PipeRecorder]:
    transport, protocol = await loop.connect_read_pipe(PipeRecorder, pipe)
    assert isinstance(protocol, PipeRecorder)
    return transport, protocol


async def write_end(loop: Loop, pipe: Any) -> tuple[Any, PipeRecorder]:
    transport, protocol = await loop.connect_write_pipe(PipeRecorder, pipe)
    assert isinstance(protocol, PipeRecorder)
    return transport, protocol


@pytest.fixture
def pipe_files() -> Iterator[tuple[BinaryIO, BinaryIO]]:
    """(read file, write file) of one os.pipe(); closed at the end unless a transport did."""
    r, w = os.pipe()
    reader = open(r, "rb", buffering=0)  # noqa: SIM115 - closed below or by the transport
    writer = open(w, "wb", buffering=0)  # noqa: SIM115
    yield reader, writer
    reader.close()
    writer.close()


def python_child(code: str, **kwargs: Any) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-c", code], **kwargs)


# -- reading ------------------------------------------------------------------------------------


def test_read_pipe_receives_data_then_eof_then_lost(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]
) -> None:
    reader, writer = pipe_files

    async def main() -> None:
        transport, proto = await read_end(loop, reader)
        assert proto.events == ["made"]
        assert transport.get_extra_info("pipe") is reader
        assert not os.get_blocking(reader.fileno())
        writer.write(b"hello ")
        writer.write(b"pipe")
        await eventually(lambda: proto.data == b"hello pipe")
        writer.close()
        assert await proto.lost is None
        assert proto.events == ["made", "data", "eof", "lost None"]
        assert transport.is_closing()
        assert reader.closed  # the transport closes the file object it was given

    run(loop, main())


def test_read_pipe_pause_and_resume_reading(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]
) -> None:
    reader, writer = pipe_files

    async def main() -> None:
        transport, proto = await read_end(loop, reader)
        assert transport.is_reading()
        transport.pause_reading()
        assert not transport.is_reading()
        writer.write(b"held back")
        await asyncio.sleep(0.02)
        assert proto.data == b""
        transport.resume_reading()
        transport.resume_reading()  # idempotent
        await eventually(lambda: proto.data == b"held back")
        transport.close()
        assert await proto.lost is None
        assert proto.events == ["made", "data", "lost None"]  # close() is not an EOF
        assert not transport.is_reading()

    run(loop, main())


def test_read_pipe_close_is_idempotent(loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]) -> None:
    reader, _ = pipe_files

    async def main() -> None:
        transport, proto = await read_end(loop, reader)
        transport.close()
        transport.close()
        await proto.lost
        await asyncio.sleep(0.01)
        assert proto.events == ["made", "lost None"]

    run(loop, main())


def test_read_pipe_from_fifo(loop: Loop, tmp_path: Path) -> None:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    # O_NONBLOCK lets the read end open before a writer exists.
    reader = open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb", buffering=0)  # noqa: SIM115
    writer_fd = os.open(path, os.O_WRONLY)

    async def main() -> None:
        _transport, proto = await read_end(loop, reader)
        os.write(writer_fd, b"through a fifo")
        await eventually(lambda: proto.data == b"through a fifo")
        os.close(writer_fd)
        assert await proto.lost is None
        assert proto.events[-2:] == ["eof", "lost None"]

    run(loop, main())


def test_read_pipe_from_socket(loop: Loop) -> None:
    a, b = socket.socketpair()

    async def main() -> None:
        _transport, proto = await read_end(loop, a)
        b.sendall(b"socket as a pipe")
        await eventually(lambda: proto.data == b"socket as a pipe")
        b.close()
        assert await proto.lost is None
        assert a.fileno() == -1

    run(loop, main())


def test_read_pipe_from_pty_ends_quietly_on_eio(loop: Loop) -> None:
    master, slave = pty.openpty()
    tty.setraw(slave)  # no line discipline: bytes arrive as written
    master_file = open(master, "rb", buffering=0)  # noqa: SIM115 - the transport closes it

    async def main() -> None:
        _transport, proto = await read_end(loop, master_file)
        os.write(slave, b"from a tty")
        await eventually(lambda: proto.data == b"from a tty")
        os.close(slave)
        # Linux reports a hung-up pty as EIO: connection_lost gets it, the handler does not.
        exc = await proto.lost
        assert isinstance(exc, OSError)
        assert exc.errno == errno.EIO

    run(loop, main())


@pytest.mark.parametrize("kind", ["read", "write"])
def test_regular_file_is_refused(loop: Loop, tmp_path: Path, kind: str) -> None:
    path = tmp_path / "regular"
    path.write_bytes(b"")

    async def main(file: BinaryIO) -> None:
        connect = loop.connect_read_pipe if kind == "read" else loop.connect_write_pipe
        with pytest.raises(ValueError, match=r"^Pipe transport is ") as info:
            await connect(PipeRecorder, file)
        assert not file.closed
        expected = (
            "Pipe transport is for pipes/sockets only."
            if kind == "read"
            else "Pipe transport is only for pipes, sockets and character devices"
        )
        assert str(info.value) == expected

    with open(path, "rb" if kind == "read" else "wb") as file:
        run(loop, main(file))


def test_read_pipe_protocol_error_goes_to_handler(
    loop: Loop,
    pipe_files: tuple[BinaryIO, BinaryIO],
    exception_contexts: list[dict[str, Any]],
) -> None:
    reader, writer = pipe_files

    class Failing(PipeRecorder):
        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            raise ZeroDivisionError("bad protocol")

    async def main() -> None:
        transport, proto = await loop.connect_read_pipe(Failing, reader)
        assert isinstance(proto, Failing)
        writer.write(b"x")
        await eventually(lambda: bool(exception_contexts))
        assert isinstance(exception_contexts[0]["exception"], ZeroDivisionError)
        assert exception_contexts[0]["message"].startswith("Exception in callback ")
        transport.close()
        await proto.lost

    run(loop, main())


# -- writing ------------------------------------------------------------------------------------


def test_write_pipe_to_read_pipe(loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]) -> None:
    reader, writer = pipe_files

    async def main() -> None:
        _rt, rproto = await read_end(loop, reader)
        wt, wproto = await write_end(loop, writer)
        assert not os.get_blocking(writer.fileno())
        assert wt.get_extra_info("pipe") is writer
        assert wt.can_write_eof()
        wt.write(b"one ")
        wt.writelines([b"two ", bytearray(b"three "), memoryview(b"four")])
        wt.write(b"")  # nothing, not an EOF
        await eventually(lambda: rproto.data == b"one two three four")
        wt.write_eof()
        assert wt.is_closing()
        assert await wproto.lost is None
        assert await rproto.lost is None
        assert rproto.events == ["made", "data", "eof", "lost None"]
        assert wproto.events == ["made", "lost None"]

    run(loop, main())


def test_write_pipe_buffer_is_a_copy_of_the_callers_bytearray(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]
) -> None:
    reader, writer = pipe_files

    async def main() -> None:
        rt, rproto = await read_end(loop, reader)
        rt.pause_reading()
        wt, wproto = await write_end(loop, writer)
        chunk = bytearray(b"a" * (1 << 20))
        wt.write(chunk)  # more than a pipe holds: most of it is buffered
        assert wt.get_write_buffer_size() > 0
        chunk[:] = b"b" * len(chunk)
        rt.resume_reading()
        await eventually(lambda: len(rproto.data) == 1 << 20)
        assert rproto.data == b"a" * (1 << 20)
        wt.close()
        await wproto.lost
        await rproto.lost

    run(loop, main())


def test_large_write_pauses_and_resumes_writing(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]
) -> None:
    reader, writer = pipe_files
    payload = bytes(range(256)) * (4 * 4096)  # 4 MiB

    async def main() -> None:
        rt, rproto = await read_end(loop, reader)
        rt.pause_reading()
        wt, wproto = await write_end(loop, writer)
        assert wt.get_write_buffer_limits() == (16384, 65536)
        wt.write(payload)
        size = wt.get_write_buffer_size()
        assert 0 < size < len(payload)
        assert wproto.events == ["made", "pause_writing"]
        wt.write(b"tail")
        assert wt.get_write_buffer_size() == size + 4
        rt.resume_reading()
        await eventually(lambda: len(rproto.data) == len(payload) + 4)
        assert bytes(rproto.data) == payload + b"tail"
        # As asyncio does for pipes: resumed once, when the buffer is empty.
        assert wproto.events == ["made", "pause_writing", "resume_writing at 0"]
        wt.close()
        assert await wproto.lost is None
        assert await rproto.lost is None

    run(loop, main())


def test_write_pipe_written_again_after_draining_keeps_order_and_says_idle(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]
) -> None:
    # treadle keeps the writer registered for a moment after a drain; nothing may show it.
    reader, writer = pipe_files
    first, second = b"a" * 300_000, b"b" * 300_000

    async def main() -> None:
        rt, rproto = await read_end(loop, reader)
        rt.pause_reading()
        wt, wproto = await write_end(loop, writer)
        wt.write(first)
        assert "polling" in repr(wt)
        rt.resume_reading()
        await eventually(lambda: wt.get_write_buffer_size() == 0)
        assert "idle bufsize=0" in repr(wt)
        wt.write(second)
        await eventually(lambda: len(rproto.data) == len(first) + len(second))
        assert bytes(rproto.data) == first + second
        for _ in range(3):
            await asyncio.sleep(0)
        assert "idle bufsize=0" in repr(wt)
        assert wproto.events == ["made"] + ["pause_writing", "resume_writing at 0"] * 2
        wt.close()
        assert await wproto.lost is None
        rt.close()
        assert await rproto.lost is None

    run(loop, main())


def test_write_buffer_limits_validation(loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]) -> None:
    _, writer = pipe_files

    async def main() -> None:
        wt, wproto = await write_end(loop, writer)
        wt.set_write_buffer_limits(high=100)
        assert wt.get_write_buffer_limits() == (25, 100)
        with pytest.raises(ValueError, match="must be") as info:
            wt.set_write_buffer_limits(high=1, low=2)
        assert str(info.value) == "high (1) must be >= low (2) must be >= 0"
        wt.close()
        await wproto.lost

    run(loop, main())


def test_close_flushes_buffered_data_first(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]
) -> None:
    reader, writer = pipe_files

    async def main() -> None:
        rt, rproto = await read_end(loop, reader)
        rt.pause_reading()
        wt, wproto = await write_end(loop, writer)
        wt.write(b"z" * 300_000)
        wt.close()
        assert wt.is_closing()
        await asyncio.sleep(0.01)
        assert not wproto.lost.done()
        rt.resume_reading()
        assert await wproto.lost is None
        assert await rproto.lost is None
        assert rproto.data == b"z" * 300_000

    run(loop, main())


def test_abort_drops_buffered_data(loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]) -> None:
    reader, writer = pipe_files

    async def main() -> None:
        rt, rproto = await read_end(loop, reader)
        rt.pause_reading()
        wt, wproto = await write_end(loop, writer)
        wt.write(b"z" * 300_000)
        wt.abort()
        assert wt.get_write_buffer_size() == 0
        assert await wproto.lost is None
        rt.resume_reading()
        assert await rproto.lost is None
        assert 0 < len(rproto.data) < 300_000  # what the pipe held, not more

    run(loop, main())


def test_peer_closing_with_data_buffered_is_broken_pipe(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]
) -> None:
    reader, writer = pipe_files

    async def main() -> None:
        wt, wproto = await write_end(loop, writer)
        wt.write(b"x" * 1_000_000)
        assert wt.get_write_buffer_size() > 0
        reader.close()
        exc = await wproto.lost
        assert isinstance(exc, BrokenPipeError)
        assert wt.get_write_buffer_size() == 0

    run(loop, main())


def test_peer_closing_with_nothing_buffered_is_a_clean_loss(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]
) -> None:
    reader, writer = pipe_files

    async def main() -> None:
        wt, wproto = await write_end(loop, writer)
        wt.write(b"fits")
        reader.close()
        assert await wproto.lost is None
        assert wproto.events == ["made", "lost None"]

    run(loop, main())


def test_peer_closing_after_a_drain_is_a_clean_loss(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO]
) -> None:
    # After a drain treadle's writer may still be registered beside the peer-close reader.
    reader, writer = pipe_files

    async def main() -> None:
        wt, wproto = await write_end(loop, writer)
        wt.write(b"x" * 100_000)  # more than the pipe holds: buffered, then drained below
        assert wt.get_write_buffer_size() > 0
        received = 0
        while received < 100_000:
            await asyncio.sleep(0)
            try:
                received += len(os.read(reader.fileno(), 65536))
            except BlockingIOError:
                pass
        await eventually(lambda: wt.get_write_buffer_size() == 0)
        reader.close()
        assert await wproto.lost is None
        assert wproto.events == ["made", "lost None"]

    os.set_blocking(reader.fileno(), False)
    run(loop, main())


def test_writes_after_close_are_dropped_with_a_warning(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO], caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = pipe_files

    async def main() -> None:
        wt, wproto = await write_end(loop, writer)
        wt.close()
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            for _ in range(7):
                wt.write(b"too late")
        await wproto.lost
        expected = "pipe closed by peer or os.write(pipe, data) raised exception."
        assert [r.getMessage() for r in caplog.records] == [expected] * 2
        assert reader.read() == b""  # EOF: nothing was written

    run(loop, main())


@pytest.mark.parametrize("data", ["text", 12, None])
def test_write_non_bytes_fails_as_asyncio_does(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO], data: Any
) -> None:
    _, writer = pipe_files

    async def main() -> None:
        wt, wproto = await write_end(loop, writer)
        # asyncio asserts here; the message is the repr of what was passed.
        with pytest.raises(AssertionError) as info:
            wt.write(data)
        assert str(info.value) == repr(data)
        wt.close()
        await wproto.lost

    run(loop, main())


def test_exception_in_pause_writing_is_reported(
    loop: Loop,
    pipe_files: tuple[BinaryIO, BinaryIO],
    exception_contexts: list[dict[str, Any]],
) -> None:
    _, writer = pipe_files

    async def main() -> None:
        wt, wproto = await write_end(loop, writer)

        def broken() -> None:
            raise RuntimeError("cannot pause")

        wproto.pause_writing = broken  # type: ignore[method-assign]
        wt.write(b"x" * 200_000)
        [context] = exception_contexts
        assert context["message"] == "protocol.pause_writing() failed"
        assert context["transport"] is wt
        assert context["protocol"] is wproto
        wt.abort()
        await wproto.lost

    run(loop, main())


def test_write_pipe_to_socket(loop: Loop) -> None:
    a, b = socket.socketpair()

    async def main() -> None:
        wt, wproto = await write_end(loop, a)
        wt.write(b"over a socket")
        assert b.recv(100) == b"over a socket"
        wt.close()
        assert await wproto.lost is None
        assert b.recv(100) == b""

    with b:
        run(loop, main())


def test_write_pipe_to_pty(loop: Loop) -> None:
    master, slave = pty.openpty()
    tty.setraw(slave)
    slave_file = open(slave, "wb", buffering=0)  # noqa: SIM115 - the transport closes it

    async def main() -> None:
        wt, wproto = await write_end(loop, slave_file)
        wt.write(b"to a tty")
        assert os.read(master, 100) == b"to a tty"
        wt.close()
        assert await wproto.lost is None

    try:
        run(loop, main())
    finally:
        os.close(master)


def test_pipe_fd_belongs_to_its_transport(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO], is_oracle: bool
) -> None:
    reader, _ = pipe_files

    async def main() -> None:
        transport, proto = await read_end(loop, reader)
        if is_oracle:
            pass  # asyncio does not record pipe transports, so add_reader() would steal the fd
        else:
            with pytest.raises(RuntimeError, match="is used by transport"):
                loop.add_reader(reader.fileno(), lambda: None)
        transport.close()
        await proto.lost

    run(loop, main())


# -- real child processes ----------------------------------------------------------------------


def test_child_stdin_and_stdout_as_pipes(loop: Loop) -> None:
    code = "import sys\ndata = sys.stdin.buffer.read()\nsys.stdout.buffer.write(data[::-1])\n"
    proc = python_child(code, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert proc.stdin is not None
    assert proc.stdout is not None
    payload = os.urandom(300_000)

    async def main() -> None:
        wt, wproto = await write_end(loop, proc.stdin)
        _rt, rproto = await read_end(loop, proc.stdout)
        wt.write(payload)
        wt.close()
        assert await wproto.lost is None
        assert await rproto.lost is None
        assert bytes(rproto.data) == payload[::-1]
        assert rproto.events[-2:] == ["eof", "lost None"]

    try:
        run(loop, main())
    finally:
        proc.kill()
        proc.wait()
    assert proc.stdin.closed
    assert proc.stdout.closed


def test_child_large_output_with_paused_reader(loop: Loop) -> None:
    code = "import sys\nsys.stdout.buffer.write(b'0123456789abcdef' * 131072)\n"  # 2 MiB
    proc = python_child(code, stdout=subprocess.PIPE)
    assert proc.stdout is not None

    class SlowReader(PipeRecorder):
        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            self.transport.pause_reading()
            asyncio.get_running_loop().call_later(0.001, self.transport.resume_reading)

    async def main() -> None:
        _rt, rproto = await loop.connect_read_pipe(SlowReader, proc.stdout)
        assert isinstance(rproto, SlowReader)
        assert await rproto.lost is None
        assert bytes(rproto.data) == b"0123456789abcdef" * 131072

    try:
        run(loop, main())
    finally:
        proc.kill()
        proc.wait()


def test_child_exiting_without_reading_breaks_the_pipe(loop: Loop) -> None:
    proc = python_child("import sys; sys.stdin.close()", stdin=subprocess.PIPE)
    assert proc.stdin is not None

    async def main() -> None:
        wt, wproto = await write_end(loop, proc.stdin)
        wt.write(b"y" * 4_000_000)  # far more than the pipe holds
        exc = await wproto.lost
        assert isinstance(exc, BrokenPipeError)

    try:
        run(loop, main())
    finally:
        proc.kill()
        proc.wait()


def test_debug_mode_logs_and_works(
    loop: Loop, pipe_files: tuple[BinaryIO, BinaryIO], caplog: pytest.LogCaptureFixture
) -> None:
    reader, writer = pipe_files

    async def main() -> None:
        loop.set_debug(True)
        with caplog.at_level(logging.DEBUG, logger="asyncio"):
            rt, rproto = await read_end(loop, reader)
            wt, wproto = await write_end(loop, writer)
            rt.pause_reading()
            rt.resume_reading()
            wt.write(b"debug")
            await eventually(lambda: rproto.data == b"debug")
            wt.close()
            await wproto.lost
            await rproto.lost
        messages = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("Read pipe ") and " connected: " in m for m in messages)
        assert any(m.startswith("Write pipe ") and " connected: " in m for m in messages)
        assert any(m.endswith("was closed by peer") for m in messages)
        loop.set_debug(False)

    run(loop, main())
