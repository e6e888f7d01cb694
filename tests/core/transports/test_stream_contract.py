"""The stream transport contract, over TCP/IPv4, TCP/IPv6 and Unix, on asyncio's loop and ours.

Each test body runs unchanged on every loop kind (the ``loop`` fixture) and every stream kind
(the ``endpoint`` fixture). If asyncio's loop fails a test here, the test is wrong.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
from typing import Any

import pytest
from stream_pairs import Endpoint, Loop, Recorder, connected_pair, run_body

# Enough to fill the kernel's socket buffers on loopback, so that bytes stay in the transport.
BIG = 8 * 1024 * 1024


def fill_until_buffered(transport: Any, chunk: bytes = b"x" * 65536) -> int:
    """Write until the transport has to buffer (the peer is not reading); bytes written."""
    written = 0
    while transport.get_write_buffer_size() == 0:
        transport.write(chunk)
        written += len(chunk)
        assert written < 64 * BIG, "the kernel never pushed back"
    return written


# -- ordering and lifecycle ---------------------------------------------------------------------


def test_bytes_arrive_in_order_both_ways(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            sent = b"".join(bytes([i % 251]) * (i * 37 % 3000 + 1) for i in range(300))
            position = 0
            for i in range(300):
                size = i * 37 % 3000 + 1
                pair.client_transport.write(sent[position : position + size])
                position += size
            assert await pair.accepted.received(len(sent)) == sent
            pair.server_transport.writelines([b"one ", bytearray(b"two "), memoryview(b"three")])
            assert await pair.client.received(13) == b"one two three"

    run_body(loop, body)


def test_connection_made_and_lost_once_in_order(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.write(b"ping")
            await pair.accepted.received(4)
            pair.client_transport.close()
            assert await pair.client.lost is None
            assert await pair.accepted.lost is None
            # Both sides: made first, lost last, each once (Recorder.lost would raise otherwise).
            assert pair.client.events == ["made", "lost"]
            assert pair.accepted.events == ["made", "data", "eof", "lost"]
            await asyncio.sleep(0.01)
            assert pair.client.events == ["made", "lost"]

    run_body(loop, body)


def test_connection_made_before_create_connection_returns(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await endpoint.serve(loop, Recorder)
        transport, protocol = await endpoint.connect(loop, Recorder, endpoint.address_of(server))
        assert protocol.made.done()
        assert protocol.transport is transport
        assert transport.get_protocol() is protocol
        transport.close()
        await protocol.lost
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_is_closing_after_close_and_abort(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            assert not pair.client_transport.is_closing()
            assert not pair.server_transport.is_closing()
            pair.client_transport.close()
            pair.server_transport.abort()
            assert pair.client_transport.is_closing()
            assert pair.server_transport.is_closing()
            pair.client_transport.close()  # a second close is a no-op
            pair.server_transport.abort()
            await pair.client.lost
            await pair.accepted.lost

    run_body(loop, body)


# -- EOF and half-close -------------------------------------------------------------------------


def test_eof_received_false_closes_the_transport(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            assert pair.client_transport.can_write_eof()
            pair.client_transport.write(b"last words")
            pair.client_transport.write_eof()
            assert await pair.accepted.lost is None
            assert pair.accepted.events == ["made", "data", "eof", "lost"]
            assert bytes(pair.accepted.data) == b"last words"
            # The server closed in turn: the client sees EOF, and closes.
            assert await pair.client.lost is None
            assert pair.client.events == ["made", "eof", "lost"]

    run_body(loop, body)


def test_eof_received_true_keeps_the_transport_half_open(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        def server_protocol() -> Recorder:
            return Recorder(keep_open_on_eof=True)

        async with connected_pair(loop, endpoint, server_protocol) as pair:
            pair.client_transport.write(b"request")
            pair.client_transport.write_eof()
            await pair.accepted.wait_for(lambda: "eof" in pair.accepted.events)
            server = pair.server_transport
            assert not server.is_closing()
            server.write(b"response after eof")
            assert await pair.client.received(18) == b"response after eof"
            server.close()
            assert await pair.accepted.lost is None
            assert await pair.client.lost is None
            assert pair.accepted.events == ["made", "data", "eof", "lost"]

    run_body(loop, body)


def test_write_after_write_eof_raises(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            transport = pair.client_transport
            transport.write_eof()
            transport.write_eof()  # idempotent
            with pytest.raises(RuntimeError) as info:
                transport.write(b"more")
            assert str(info.value) == "Cannot call write() after write_eof()"
            with pytest.raises(RuntimeError) as info:
                transport.writelines([b"more"])
            method = "writelines" if sys.version_info >= (3, 12) else "write"
            assert str(info.value) == f"Cannot call {method}() after write_eof()"

    run_body(loop, body)


def test_write_eof_waits_for_buffered_bytes(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.pause_reading()
            written = fill_until_buffered(pair.server_transport)
            pair.server_transport.write_eof()
            pair.client_transport.resume_reading()
            await pair.client.wait_for(lambda: "eof" in pair.client.events)
            assert len(pair.client.data) == written

    run_body(loop, body)


# -- reading ------------------------------------------------------------------------------------


def test_pause_and_resume_reading(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            server = pair.server_transport
            assert server.is_reading()
            server.pause_reading()
            server.pause_reading()  # idempotent
            assert not server.is_reading()
            pair.client_transport.write(b"held back")
            await asyncio.sleep(0.05)
            assert pair.accepted.data == b""
            server.resume_reading()
            server.resume_reading()
            assert server.is_reading()
            assert await pair.accepted.received(9) == b"held back"
            server.close()
            assert not server.is_reading()
            server.resume_reading()  # no effect once closing
            assert not server.is_reading()

    run_body(loop, body)


def test_pause_reading_in_connection_made(loop: Loop, endpoint: Endpoint) -> None:
    class PausesAtOnce(Recorder):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            super().connection_made(transport)
            transport.pause_reading()  # type: ignore[attr-defined]

    async def body() -> None:
        async with connected_pair(loop, endpoint, PausesAtOnce) as pair:
            pair.client_transport.write(b"early")
            await asyncio.sleep(0.05)
            assert pair.accepted.data == b""
            pair.server_transport.resume_reading()
            await pair.accepted.received(5)

    run_body(loop, body)


# -- close vs abort -----------------------------------------------------------------------------


def test_close_flushes_buffered_bytes(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.pause_reading()
            server = pair.server_transport
            written = fill_until_buffered(server)
            server.write(b"tail")
            written += 4
            assert server.get_write_buffer_size() > 0
            server.close()
            assert server.is_closing()
            assert not pair.accepted.lost.done()
            pair.client_transport.resume_reading()
            assert await pair.accepted.lost is None
            await pair.client.lost
            assert len(pair.client.data) == written  # no byte lost
            assert pair.client.data.endswith(b"tail")
            assert pair.client.events == ["made", "data", "eof", "lost"]

    run_body(loop, body)


def test_write_while_closing_is_still_sent(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.pause_reading()
            server = pair.server_transport
            written = fill_until_buffered(server)
            server.close()
            server.write(b"after close, still buffered")  # asyncio queues it too
            written += 27
            pair.client_transport.resume_reading()
            await pair.client.lost
            assert len(pair.client.data) == written

    run_body(loop, body)


def test_abort_drops_buffered_bytes(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.pause_reading()
            server = pair.server_transport
            written = fill_until_buffered(server)
            server.abort()
            assert server.is_closing()
            assert server.get_write_buffer_size() == 0
            assert await pair.accepted.lost is None
            pair.client_transport.resume_reading()
            await pair.client.lost
            assert len(pair.client.data) < written

    run_body(loop, body)


def test_write_after_connection_lost_is_dropped_with_a_warning(
    loop: Loop, endpoint: Endpoint, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            transport = pair.client_transport
            transport.close()
            await pair.client.lost
            with caplog.at_level(logging.WARNING, logger="asyncio"):
                for _ in range(4):
                    transport.write(b"into the void")
                assert not caplog.records
                transport.write(b"fifth")  # asyncio counts the loss itself as the first
                transport.write(b"sixth")
            messages = [r.getMessage() for r in caplog.records]
            assert messages == ["socket.send() raised exception."] * 2
            assert transport.get_write_buffer_size() == 0

    run_body(loop, body)


# -- writing and flow control -------------------------------------------------------------------


def test_write_rejects_non_bytes(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            with pytest.raises(TypeError) as info:
                pair.client_transport.write("text")
            assert str(info.value) == "data argument must be a bytes-like object, not 'str'"
            pair.client_transport.write(b"")  # empty: nothing happens
            assert pair.client_transport.get_write_buffer_size() == 0

    run_body(loop, body)


def test_write_buffer_limits_defaults_and_validation(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            transport = pair.client_transport
            assert transport.get_write_buffer_limits() == (16384, 65536)
            transport.set_write_buffer_limits(high=1000)
            assert transport.get_write_buffer_limits() == (250, 1000)
            transport.set_write_buffer_limits(low=100)
            assert transport.get_write_buffer_limits() == (100, 400)
            transport.set_write_buffer_limits(high=0, low=0)
            assert transport.get_write_buffer_limits() == (0, 0)
            with pytest.raises(ValueError, match=r"^high \(1\)") as info:
                transport.set_write_buffer_limits(high=1, low=2)
            assert str(info.value) == "high (1) must be >= low (2) must be >= 0"
            with pytest.raises(ValueError, match=r"^high \(-4\)") as info:
                transport.set_write_buffer_limits(high=-4)
            assert str(info.value) == "high (-4) must be >= low (-1) must be >= 0"
            assert transport.get_write_buffer_limits() == (0, 0)

    run_body(loop, body)


def test_pause_and_resume_writing_at_the_marks(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.pause_reading()
            server = pair.server_transport
            server.set_write_buffer_limits(high=200_000, low=50_000)
            written = fill_until_buffered(server)
            while "pause_writing" not in pair.accepted.events:
                server.write(b"y" * 50_000)
                written += 50_000
            assert server.get_write_buffer_size() > 200_000
            assert pair.accepted.events.count("pause_writing") == 1
            server.write(b"z" * 50_000)  # already paused: no second call
            written += 50_000
            assert pair.accepted.events.count("pause_writing") == 1
            pair.client_transport.resume_reading()
            await pair.accepted.wait_for(lambda: "resume_writing" in pair.accepted.events)
            assert server.get_write_buffer_size() <= 50_000
            assert await pair.client.received(written)
            assert pair.accepted.events == ["made", "pause_writing", "resume_writing"]

    run_body(loop, body)


def test_set_write_buffer_limits_pauses_at_once(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.pause_reading()
            server = pair.server_transport
            fill_until_buffered(server)
            assert "pause_writing" not in pair.accepted.events
            server.set_write_buffer_limits(high=0)
            assert pair.accepted.events.count("pause_writing") == 1
            pair.client_transport.resume_reading()
            await pair.accepted.wait_for(lambda: "resume_writing" in pair.accepted.events)
            assert server.get_write_buffer_size() == 0

    run_body(loop, body)


def test_writelines_buffers_and_pauses_like_write(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.pause_reading()
            server = pair.server_transport
            written = fill_until_buffered(server)
            server.writelines([b"a" * 40_000, bytearray(b"b" * 40_000)])
            written += 80_000
            assert server.get_write_buffer_size() >= 80_000
            pair.client_transport.resume_reading()
            data = await pair.client.received(written)
            assert data.endswith(b"a" * 40_000 + b"b" * 40_000)

    run_body(loop, body)


def test_bytearray_changed_after_write_sends_the_original(
    loop: Loop, endpoint: Endpoint, is_oracle: bool
) -> None:
    if is_oracle and sys.version_info >= (3, 12):
        pytest.skip("asyncio 3.12+ queues a reference to the bytearray; treadle copies it")

    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.pause_reading()
            server = pair.server_transport
            written = fill_until_buffered(server)
            reused = bytearray(b"original")
            server.write(reused)
            reused[:] = b"CHANGED!"
            pair.client_transport.resume_reading()
            data = await pair.client.received(written + 8)
            assert data[written:] == b"original"

    run_body(loop, body)


# -- extra info and protocols -------------------------------------------------------------------


def test_extra_info(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            client, server = pair.client_transport, pair.server_transport
            sock = client.get_extra_info("socket")
            assert sock.family == endpoint.family
            assert sock.type == socket.SOCK_STREAM
            assert sock.fileno() >= 0
            assert client.get_extra_info("sockname") == sock.getsockname()
            assert client.get_extra_info("peername") == sock.getpeername()
            if endpoint.kind != "unix":
                assert client.get_extra_info("peername") == server.get_extra_info("sockname")
                assert server.get_extra_info("peername") == client.get_extra_info("sockname")
                assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
            assert client.get_extra_info("sslcontext") is None
            assert client.get_extra_info("no such key") is None
            assert client.get_extra_info("no such key", "default") == "default"

    run_body(loop, body)


def test_set_protocol_switches_the_receiver(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.write(b"first")
            await pair.accepted.received(5)
            replacement = Recorder()
            replacement.transport = pair.server_transport
            pair.server_transport.set_protocol(replacement)
            assert pair.server_transport.get_protocol() is replacement
            pair.client_transport.write(b"second")
            assert await replacement.received(6) == b"second"
            pair.server_transport.close()
            assert await replacement.lost is None
            assert not pair.accepted.lost.done()
            pair.accepted.lost.set_result(None)  # stand-in: the original never hears of it

    run_body(loop, body)


class Buffered(asyncio.BufferedProtocol):
    """A BufferedProtocol with a deliberately small buffer."""

    def __init__(self, size: int = 7) -> None:
        loop = asyncio.get_running_loop()
        self.buffer = bytearray(size)
        self.data = bytearray()
        self.sizes: list[int] = []
        self.transport: Any = None
        self.made: asyncio.Future[None] = loop.create_future()
        self.lost: asyncio.Future[BaseException | None] = loop.create_future()
        self.eof = loop.create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.made.set_result(None)

    def get_buffer(self, sizehint: int) -> bytearray:
        return self.buffer

    def buffer_updated(self, nbytes: int) -> None:
        self.sizes.append(nbytes)
        self.data += self.buffer[:nbytes]

    def eof_received(self) -> None:
        self.eof.set_result(None)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.lost.set_result(exc)


def test_buffered_protocol_receives_into_its_buffer(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint, Buffered) as pair:
            payload = bytes(range(256)) * 4
            pair.client_transport.write(payload)
            pair.client_transport.write_eof()
            await pair.accepted.eof
            assert bytes(pair.accepted.data) == payload
            assert max(pair.accepted.sizes) <= 7

    run_body(loop, body)


def test_set_protocol_between_protocol_kinds(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.write(b"plain")
            await pair.accepted.received(5)
            buffered = Buffered(size=3)
            pair.server_transport.set_protocol(buffered)
            pair.client_transport.write(b"into a buffer")
            pair.client_transport.write_eof()
            await buffered.eof
            assert bytes(buffered.data) == b"into a buffer"
            pair.server_transport.close()
            await buffered.lost
            pair.accepted.lost.set_result(None)

    run_body(loop, body)


# -- errors -------------------------------------------------------------------------------------


def test_exception_in_data_received_closes_and_reports(
    loop: Loop, endpoint: Endpoint, exception_contexts: list[dict[str, Any]]
) -> None:
    class Raises(Recorder):
        def data_received(self, data: bytes) -> None:
            raise ZeroDivisionError("in data_received")

    async def body() -> None:
        async with connected_pair(loop, endpoint, Raises) as pair:
            pair.client_transport.write(b"boom")
            exc = await pair.accepted.lost
            assert isinstance(exc, ZeroDivisionError)
            assert pair.server_transport.is_closing()
            await pair.client.lost  # the peer sees the connection end
            [context] = exception_contexts
            assert context["message"] == "Fatal error: protocol.data_received() call failed."
            assert context["exception"] is exc
            assert context["transport"] is pair.server_transport
            assert context["protocol"] is pair.accepted

    run_body(loop, body)


def test_exception_in_eof_received_closes_and_reports(
    loop: Loop, endpoint: Endpoint, exception_contexts: list[dict[str, Any]]
) -> None:
    class Raises(Recorder):
        def eof_received(self) -> bool:
            raise LookupError("in eof_received")

    async def body() -> None:
        async with connected_pair(loop, endpoint, Raises) as pair:
            pair.client_transport.write_eof()
            exc = await pair.accepted.lost
            assert isinstance(exc, LookupError)
            [context] = exception_contexts
            assert context["message"] == "Fatal error: protocol.eof_received() call failed."
            assert context["exception"] is exc

    run_body(loop, body)


def test_empty_buffer_from_get_buffer_is_fatal(
    loop: Loop, endpoint: Endpoint, exception_contexts: list[dict[str, Any]]
) -> None:
    def empty() -> Buffered:
        return Buffered(size=0)

    async def body() -> None:
        async with connected_pair(loop, endpoint, empty) as pair:
            pair.client_transport.write(b"x")
            exc = await pair.accepted.lost
            assert isinstance(exc, RuntimeError)
            assert str(exc) == "get_buffer() returned an empty buffer"
            [context] = exception_contexts
            assert context["message"] == "Fatal error: protocol.get_buffer() call failed."

    run_body(loop, body)


def test_exception_in_pause_writing_is_reported_and_writing_goes_on(
    loop: Loop, endpoint: Endpoint, exception_contexts: list[dict[str, Any]]
) -> None:
    class Raises(Recorder):
        def pause_writing(self) -> None:
            super().pause_writing()
            raise ValueError("in pause_writing")

    async def body() -> None:
        async with connected_pair(loop, endpoint, Raises) as pair:
            server = pair.server_transport
            server.set_write_buffer_limits(high=0)
            pair.client_transport.pause_reading()
            written = fill_until_buffered(server)
            [context] = exception_contexts
            assert context["message"] == "protocol.pause_writing() failed"
            assert isinstance(context["exception"], ValueError)
            assert context["transport"] is server
            assert not server.is_closing()
            pair.client_transport.resume_reading()
            await pair.client.received(written)

    run_body(loop, body)


def test_peer_reset_ends_the_connection_without_reporting(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            # Reset the client side: SO_LINGER 0 makes close() send RST on TCP.
            client_sock = pair.client_transport.get_extra_info("socket")
            if endpoint.kind != "unix":
                client_sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            pair.client_transport.abort()
            await pair.client.lost
            server = pair.server_transport
            for _ in range(100):
                if pair.accepted.lost.done():
                    break
                server.write(b"x" * 65536)  # into a dead connection
                await asyncio.sleep(0.001)
            exc = await pair.accepted.lost
            # An RST while idle reads as reset; a close() reads as EOF (lost(None)); writing
            # into the reset connection reads as a broken pipe. None is reported.
            assert exc is None or isinstance(exc, ConnectionError), exc

    run_body(loop, body)


def test_add_reader_on_a_transport_fd_raises(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            fd = pair.client_transport.get_extra_info("socket").fileno()
            with pytest.raises(RuntimeError) as info:
                loop.add_reader(fd, lambda: None)
            assert str(info.value).startswith(f"File descriptor {fd!r} is used by transport ")
            with pytest.raises(RuntimeError):
                loop.add_writer(fd, lambda: None)

    run_body(loop, body)
