"""loop.sock_* behaviour over real sockets, on asyncio's loop (the oracle) and on treadle's.

Every body calls the loop's public methods, so the same test proves both loops alike. Where
exact errors matter, a scenario runs on the test's loop and on a fresh asyncio loop and the two
outcomes (return value, or exception type and message) must be equal.
"""

from __future__ import annotations

import array
import asyncio
import contextlib
import errno
import io
import os
import socket
import ssl
import sys
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

Loop = asyncio.AbstractEventLoop
Scenario = Callable[[Loop], Awaitable[Any]]

PAYLOAD = bytes(range(256)) * 4


def _has_ipv6() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        return False
    return True


HAS_IPV6 = _has_ipv6()
HOSTS = [
    "127.0.0.1",
    pytest.param("::1", marks=pytest.mark.skipif(not HAS_IPV6, reason="no IPv6 loopback")),
]


# --- helpers ---------------------------------------------------------------------------------


class Sockets:
    """Every socket a test opens, closed at teardown (the fd tripwire checks it)."""

    def __init__(self) -> None:
        self._opened: list[socket.socket] = []

    def track(self, sock: socket.socket) -> socket.socket:
        sock.setblocking(False)
        self._opened.append(sock)
        return sock

    def new(self, family: int = socket.AF_INET, type: int = socket.SOCK_STREAM) -> socket.socket:
        return self.track(socket.socket(family, type))

    def pair(self, type: int = socket.SOCK_STREAM) -> tuple[socket.socket, socket.socket]:
        a, b = socket.socketpair(type=type)
        return self.track(a), self.track(b)

    def listener(self, host: str = "127.0.0.1", backlog: int = 8) -> socket.socket:
        sock = self.new(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.bind((host, 0))
        sock.listen(backlog)
        return sock

    def udp(self, host: str = "127.0.0.1") -> socket.socket:
        sock = self.new(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((host, 0))
        return sock

    def close_all(self) -> None:
        for sock in self._opened:
            sock.close()


@pytest.fixture
def socks() -> Iterator[Sockets]:
    opened = Sockets()
    yield opened
    opened.close_all()


@pytest.fixture
def oracle() -> Iterator[Loop]:
    """A plain asyncio loop to compare outcomes with."""
    ev_loop = asyncio.new_event_loop()
    yield ev_loop
    ev_loop.run_until_complete(ev_loop.shutdown_default_executor())
    ev_loop.close()


def outcome(ev_loop: Loop, scenario: Scenario) -> tuple[Any, ...]:
    try:
        value = ev_loop.run_until_complete(scenario(ev_loop))
    except Exception as exc:  # the outcome under comparison
        return ("raised", type(exc), str(exc))
    return ("returned", value)


def assert_same_outcome(loop: Loop, oracle: Loop, scenario: Scenario) -> tuple[Any, ...]:
    expected = outcome(oracle, scenario)
    assert outcome(loop, scenario) == expected
    return expected


def assert_same_outcomes(
    loop: Loop, oracle: Loop, cases: dict[Any, Scenario]
) -> dict[Any, tuple[Any, ...]]:
    """assert_same_outcome() for many cases, reporting every mismatch at once."""
    expected = {key: outcome(oracle, scenario) for key, scenario in cases.items()}
    actual = {key: outcome(loop, scenario) for key, scenario in cases.items()}
    assert {k: v for k, v in actual.items() if v != expected[k]} == {
        k: v for k, v in expected.items() if v != actual[k]
    }
    return expected


async def spin(times: int = 3) -> None:
    """Let the loop run a few iterations (enough for a parked call to register)."""
    for _ in range(times):
        await asyncio.sleep(0)


def drain(sock: socket.socket) -> bytes:
    """Whatever the kernel has buffered for *sock* right now."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(1 << 20)
        except BlockingIOError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def refused_address(socks: Sockets, host: str) -> tuple[Any, ...]:
    """An address nothing listens on: bound (so nobody else gets the port) but not listening."""
    holder = socks.new(socket.AF_INET6 if ":" in host else socket.AF_INET)
    holder.bind((host, 0))
    return holder.getsockname()  # type: ignore[no-any-return]


def is_registered_reader(loop: Loop, fd: int) -> bool:
    # remove_reader() says whether something was registered; on a clean fd it changes nothing.
    return loop.remove_reader(fd)


def is_registered_writer(loop: Loop, fd: int) -> bool:
    return loop.remove_writer(fd)


# --- receiving -------------------------------------------------------------------------------


def test_sock_recv_returns_data_already_there(loop: Loop, socks: Sockets) -> None:
    a, b = socks.pair()
    a.send(b"hello")
    assert loop.run_until_complete(loop.sock_recv(b, 100)) == b"hello"


def test_sock_recv_waits_for_data(loop: Loop, socks: Sockets) -> None:
    a, b = socks.pair()

    async def main() -> bytes:
        task = asyncio.ensure_future(loop.sock_recv(b, 100))
        await spin()
        assert not task.done()
        await loop.sock_sendall(a, b"late")
        return await task

    assert loop.run_until_complete(main()) == b"late"
    assert not is_registered_reader(loop, b.fileno())


@pytest.mark.parametrize("nbytes", [16 * 1024 - 1, 16 * 1024, 256 * 1024, 1024 * 1024])
def test_sock_recv_with_large_sizes_returns_exactly_what_was_sent(
    loop: Loop, socks: Sockets, nbytes: int
) -> None:
    # Large sizes take treadle's reused-buffer path; the bytes must be the same as with recv().
    a, b = socks.pair()
    payload = bytes(range(256)) * 2048  # 512 KiB, more than one buffer's worth

    async def main() -> bytes:
        sender = asyncio.ensure_future(loop.sock_sendall(a, payload))
        chunks = []
        while sum(map(len, chunks)) < len(payload):
            chunk = await loop.sock_recv(b, nbytes)
            assert 0 < len(chunk) <= nbytes
            chunks.append(chunk)
        await sender
        return b"".join(chunks)

    assert loop.run_until_complete(main()) == payload


def test_sock_recv_returns_empty_bytes_at_eof(loop: Loop, socks: Sockets) -> None:
    a, b = socks.pair()

    async def main() -> bytes:
        task = asyncio.ensure_future(loop.sock_recv(b, 100))
        await spin()
        a.shutdown(socket.SHUT_WR)
        return await task

    assert loop.run_until_complete(main()) == b""


def test_sock_recv_into_writes_into_buffer(loop: Loop, socks: Sockets) -> None:
    a, b = socks.pair()
    buf = bytearray(10)

    async def main() -> tuple[int, int]:
        a.send(b"abc")
        first = await loop.sock_recv_into(b, buf)
        task = asyncio.ensure_future(loop.sock_recv_into(b, memoryview(buf)[3:]))
        await spin()
        a.send(b"defgh")
        return first, await task

    assert loop.run_until_complete(main()) == (3, 5)
    assert buf == bytearray(b"abcdefgh\0\0")


@pytest.mark.parametrize("host", HOSTS)
def test_sock_recvfrom_returns_datagram_and_sender(loop: Loop, socks: Sockets, host: str) -> None:
    receiver, sender = socks.udp(host), socks.udp(host)

    async def main() -> tuple[bytes, Any]:
        task = asyncio.ensure_future(loop.sock_recvfrom(receiver, 100))
        await spin()
        assert not task.done()
        sent = await loop.sock_sendto(sender, b"datagram", receiver.getsockname())
        assert sent == len(b"datagram")
        return await task

    data, address = loop.run_until_complete(main())
    assert data == b"datagram"
    assert address == sender.getsockname()


def test_sock_recvfrom_into_honours_nbytes(loop: Loop, socks: Sockets) -> None:
    receiver, sender = socks.udp(), socks.udp()
    buf = bytearray(8)

    async def main() -> list[tuple[int, Any]]:
        results = []
        sender.sendto(b"0123456789", receiver.getsockname())
        results.append(await loop.sock_recvfrom_into(receiver, buf, 3))  # datagram truncated
        task = asyncio.ensure_future(loop.sock_recvfrom_into(receiver, buf))  # nbytes=0: all of buf
        await spin()
        sender.sendto(b"abcdefghij", receiver.getsockname())
        results.append(await task)
        return results

    (n1, addr1), (n2, addr2) = loop.run_until_complete(main())
    assert (n1, n2) == (3, 8)
    assert addr1 == addr2 == sender.getsockname()
    assert buf == bytearray(b"abcdefgh")


def test_sock_recvfrom_into_nbytes_beyond_buffer_matches_asyncio(loop: Loop, oracle: Loop) -> None:
    async def scenario(ev_loop: Loop) -> Any:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            return await ev_loop.sock_recvfrom_into(sock, bytearray(4), 5)

    assert assert_same_outcome(loop, oracle, scenario)[1] is ValueError


# --- sending ---------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", [bytes, bytearray, memoryview])
def test_sock_sendall_accepts_bytes_like(loop: Loop, socks: Sockets, kind: type) -> None:
    a, b = socks.pair()
    loop.run_until_complete(loop.sock_sendall(a, kind(PAYLOAD)))
    assert drain(b) == PAYLOAD


def test_sock_sendall_of_nothing_returns(loop: Loop, socks: Sockets) -> None:
    a, _ = socks.pair()
    assert loop.run_until_complete(loop.sock_sendall(a, b"")) is None


def test_sock_sendall_large_payload_to_slow_reader(loop: Loop, socks: Sockets) -> None:
    a, b = socks.pair()
    payload = os.urandom(4 * 1024 * 1024)

    async def reader() -> bytes:
        received = bytearray()
        while len(received) < len(payload):
            received += await loop.sock_recv(b, 256 * 1024)
            await asyncio.sleep(0.001)  # slower than the writer: the writer must park
        return bytes(received)

    async def main() -> bytes:
        task = asyncio.ensure_future(reader())
        await loop.sock_sendall(a, payload)
        assert not is_registered_writer(loop, a.fileno())
        return await task

    assert loop.run_until_complete(main()) == payload


def test_sock_sendall_counts_bytes_of_multibyte_buffers(
    loop: Loop, socks: Sockets, is_oracle: bool
) -> None:
    if is_oracle:
        pytest.skip("asyncio slices array('i') by items and spins forever (treadle counts bytes)")
    a, b = socks.pair()
    data = array.array("i", range(1000))
    loop.run_until_complete(asyncio.wait_for(loop.sock_sendall(a, data), 5))
    assert drain(b) == data.tobytes()


@pytest.mark.parametrize("host", HOSTS)
def test_sock_sendto_returns_bytes_sent(loop: Loop, socks: Sockets, host: str) -> None:
    sender, receiver = socks.udp(host), socks.udp(host)
    assert loop.run_until_complete(loop.sock_sendto(sender, b"x" * 7, receiver.getsockname())) == 7
    assert receiver.recvfrom(100) == (b"x" * 7, sender.getsockname())


# --- connecting and accepting ----------------------------------------------------------------


@pytest.mark.parametrize("host", HOSTS)
def test_tcp_connect_accept_and_echo(loop: Loop, socks: Sockets, host: str) -> None:
    listener = socks.listener(host)
    client = socks.new(listener.family)

    async def main() -> tuple[socket.socket, Any]:
        accepting = asyncio.ensure_future(loop.sock_accept(listener))
        await spin()
        assert not accepting.done()
        await loop.sock_connect(client, listener.getsockname())
        conn, address = await accepting
        socks.track(conn)
        await loop.sock_sendall(client, b"ping")
        assert await loop.sock_recv(conn, 10) == b"ping"
        await loop.sock_sendall(conn, b"pong")
        assert await loop.sock_recv(client, 10) == b"pong"
        return conn, address

    conn, address = loop.run_until_complete(main())
    assert address == client.getsockname()
    assert conn.getpeername() == client.getsockname()


def test_sock_accept_returns_non_blocking_socket(loop: Loop, socks: Sockets) -> None:
    listener = socks.listener()
    client = socket.create_connection(listener.getsockname())
    socks.track(client)
    conn, _ = loop.run_until_complete(loop.sock_accept(listener))
    socks.track(conn)
    assert conn.gettimeout() == 0.0


def test_unix_stream_connect_accept(loop: Loop, socks: Sockets, tmp_path: Path) -> None:
    path = str(tmp_path / "stream.sock")
    listener = socks.new(socket.AF_UNIX)
    listener.bind(path)
    listener.listen()
    client = socks.new(socket.AF_UNIX)

    async def main() -> bytes:
        accepting = asyncio.ensure_future(loop.sock_accept(listener))
        await loop.sock_connect(client, path)
        conn, _ = await accepting
        socks.track(conn)
        await loop.sock_sendall(client, b"over unix")
        return await loop.sock_recv(conn, 100)

    assert loop.run_until_complete(main()) == b"over unix"


def test_unix_datagram_sendto_recvfrom(loop: Loop, socks: Sockets, tmp_path: Path) -> None:
    receiver = socks.new(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(str(tmp_path / "rx.sock"))
    sender = socks.new(socket.AF_UNIX, socket.SOCK_DGRAM)
    sender.bind(str(tmp_path / "tx.sock"))

    async def main() -> tuple[bytes, Any]:
        task = asyncio.ensure_future(loop.sock_recvfrom(receiver, 100))
        await spin()
        await loop.sock_sendto(sender, b"unix datagram", str(tmp_path / "rx.sock"))
        return await task

    assert loop.run_until_complete(main()) == (b"unix datagram", str(tmp_path / "tx.sock"))


@pytest.mark.parametrize("host", HOSTS)
def test_sock_connect_refused_raises_asyncio_error(loop: Loop, socks: Sockets, host: str) -> None:
    address = refused_address(socks, host)
    client = socks.new(socket.AF_INET6 if ":" in host else socket.AF_INET)
    with pytest.raises(ConnectionRefusedError) as info:
        loop.run_until_complete(loop.sock_connect(client, address[:2]))
    # asyncio reports the resolved address: IPv6 ones always as a 4-tuple.
    assert info.value.errno == errno.ECONNREFUSED
    assert str(info.value) == f"[Errno {errno.ECONNREFUSED}] Connect call failed {address}"
    assert not is_registered_writer(loop, client.fileno())


def test_sock_connect_normalizes_ip_literal_address(loop: Loop, oracle: Loop) -> None:
    # A str port and a bytes host skip getaddrinfo and reach the error message normalized.
    async def scenario(ev_loop: Loop) -> Any:
        with socket.socket() as holder, socket.socket() as client:
            holder.bind(("127.0.0.1", 0))
            client.setblocking(False)
            port = holder.getsockname()[1]
            try:
                await ev_loop.sock_connect(client, (b"127.0.0.1", str(port)))
            except OSError as exc:
                return str(exc).replace(str(port), "PORT")
            return None

    expected = assert_same_outcome(loop, oracle, scenario)
    assert expected == ("returned", "[Errno 111] Connect call failed ('127.0.0.1', PORT)")


def test_sock_connect_resolves_host_name(loop: Loop, socks: Sockets) -> None:
    # The one place "localhost" appears: name resolution itself is under test (via /etc/hosts).
    listener = socks.listener("127.0.0.1")
    client = socks.new(socket.AF_INET)

    async def main() -> Any:
        accepting = asyncio.ensure_future(loop.sock_accept(listener))
        await loop.sock_connect(client, ("localhost", listener.getsockname()[1]))
        conn, _ = await accepting
        socks.track(conn)
        return client.getpeername()

    assert loop.run_until_complete(main()) == listener.getsockname()


def test_sock_connect_bad_address_matches_asyncio(loop: Loop, oracle: Loop) -> None:
    def connect_to(address: Any) -> Scenario:
        async def scenario(ev_loop: Loop) -> Any:
            with socket.socket() as client:
                client.setblocking(False)
                return await ev_loop.sock_connect(client, address)

        return scenario

    addresses: list[Any] = [
        ("127.0.0.1", "no-such-service"),  # not a port number: getaddrinfo() fails, without DNS
        ("127.0.0.1",),
        "127.0.0.1",
        None,
        ("127.0.0.1", 70000),
        ("127.0.0.1", 1, 2, 3, 4),
        (1234, 80),
    ]
    outcomes = assert_same_outcomes(loop, oracle, {repr(a): connect_to(a) for a in addresses})
    assert all(result[0] == "raised" for result in outcomes.values())


# --- cancellation ----------------------------------------------------------------------------


def test_cancelled_sock_recv_leaves_no_reader_and_loses_no_bytes(
    loop: Loop, socks: Sockets
) -> None:
    a, b = socks.pair()

    async def main() -> bytes:
        task = asyncio.ensure_future(loop.sock_recv(b, 100))
        await spin()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not is_registered_reader(loop, b.fileno())
        # A later add_reader on the same fd works: nothing stale answers instead.
        ready: asyncio.Future[None] = loop.create_future()

        def on_readable() -> None:
            if not ready.done():
                ready.set_result(None)

        loop.add_reader(b.fileno(), on_readable)
        a.send(b"after cancel")
        await asyncio.wait_for(ready, 5)
        assert loop.remove_reader(b.fileno())
        return await loop.sock_recv(b, 100)

    assert loop.run_until_complete(main()) == b"after cancel"


def test_sock_recv_cancelled_as_data_arrives_loses_no_bytes(
    loop: Loop, socks: Sockets, is_oracle: bool
) -> None:
    a, b = socks.pair()

    async def main() -> bytes:
        task = asyncio.ensure_future(loop.sock_recv(b, 100))
        await spin()
        a.send(b"racing")
        # Timers due now run after the I/O callbacks of the same iteration: the cancellation
        # lands after readiness was seen and before the task resumes.
        loop.call_later(0, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await spin()
        return drain(b)

    left = loop.run_until_complete(main())
    if is_oracle:
        assert left in (b"", b"racing")  # asyncio recv()s in its callback: the bytes may be lost
    else:
        assert left == b"racing"


def test_cancelling_superseded_sock_recv_keeps_newer_reader(loop: Loop, socks: Sockets) -> None:
    a, b = socks.pair()

    async def main() -> bytes:
        first = asyncio.ensure_future(loop.sock_recv(b, 100))
        await spin()
        second = asyncio.ensure_future(loop.sock_recv(b, 100))  # replaces first's reader
        await spin()
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        a.send(b"for the second")
        return await asyncio.wait_for(second, 5)

    assert loop.run_until_complete(main()) == b"for the second"


def test_cancelled_sock_accept_leaves_no_reader(loop: Loop, socks: Sockets) -> None:
    listener = socks.listener()

    async def main() -> None:
        task = asyncio.ensure_future(loop.sock_accept(listener))
        await spin()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not is_registered_reader(loop, listener.fileno())
        client = socks.new()
        await loop.sock_connect(client, listener.getsockname())
        conn, _ = await asyncio.wait_for(loop.sock_accept(listener), 5)
        socks.track(conn)

    loop.run_until_complete(main())


def test_cancelled_sock_connect_leaves_no_writer(loop: Loop, socks: Sockets) -> None:
    # A listener with a full accept queue drops new SYNs: the next connect stays in progress.
    listener = socks.listener(backlog=0)
    for _ in range(3):
        socks.new().connect_ex(listener.getsockname())
    client = socks.new()

    async def main() -> None:
        task = asyncio.ensure_future(loop.sock_connect(client, listener.getsockname()))
        await asyncio.sleep(0.05)
        if task.done():
            task.result()
            pytest.skip("this kernel completed the connect despite the full backlog")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not is_registered_writer(loop, client.fileno())

    loop.run_until_complete(main())


def test_cancelled_sock_sendall_leaves_no_writer_and_sends_a_prefix(
    loop: Loop, socks: Sockets
) -> None:
    a, b = socks.pair()
    payload = os.urandom(16 * 1024 * 1024)  # far more than the socket buffers hold

    async def main() -> None:
        task = asyncio.ensure_future(loop.sock_sendall(a, payload))
        await spin()
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not is_registered_writer(loop, a.fileno())
        sent = drain(b)
        assert 0 < len(sent) < len(payload)
        assert payload.startswith(sent)
        # The stream stays usable: the next send follows the prefix, nothing in between.
        await loop.sock_sendall(a, b"tail")
        assert drain(b) == b"tail"

    loop.run_until_complete(main())


def test_cancelled_sock_sendall_releases_the_callers_buffer(loop: Loop, socks: Sockets) -> None:
    a, _ = socks.pair()
    buf = bytearray(16 * 1024 * 1024)

    async def main() -> None:
        task = asyncio.ensure_future(loop.sock_sendall(a, buf))
        await spin()
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            buf.clear()  # while the traceback is alive: no export may pin the buffer
        assert task.cancelled()

    loop.run_until_complete(main())


# --- misuse ----------------------------------------------------------------------------------

NON_BLOCKING = r"^the socket must be non-blocking$"

METHODS = [
    "sock_recv",
    "sock_recv_into",
    "sock_recvfrom",
    "sock_recvfrom_into",
    "sock_sendall",
    "sock_sendto",
    "sock_connect",
    "sock_accept",
    "sock_sendfile",
]


async def call_method(ev_loop: Loop, name: str, sock: socket.socket, data_path: Path) -> Any:
    """One call of the sock_* method *name* on *sock*, with plausible arguments."""
    match name:
        case "sock_recv":
            return await ev_loop.sock_recv(sock, 10)
        case "sock_recv_into":
            return await ev_loop.sock_recv_into(sock, bytearray(10))
        case "sock_recvfrom":
            return await ev_loop.sock_recvfrom(sock, 10)
        case "sock_recvfrom_into":
            return await ev_loop.sock_recvfrom_into(sock, bytearray(10))
        case "sock_sendall":
            return await ev_loop.sock_sendall(sock, b"data")
        case "sock_sendto":
            return await ev_loop.sock_sendto(sock, b"data", ("127.0.0.1", 9))
        case "sock_connect":
            return await ev_loop.sock_connect(sock, ("127.0.0.1", 9))
        case "sock_accept":
            return await ev_loop.sock_accept(sock)
        case "sock_sendfile":
            with open(data_path, "rb") as file:  # noqa: ASYNC230  (a small tmp file)
                return await ev_loop.sock_sendfile(sock, file)
    raise AssertionError(name)


@pytest.fixture
def data_path(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(PAYLOAD)
    return path


def test_closed_socket_errors_match_asyncio(loop: Loop, oracle: Loop, data_path: Path) -> None:
    def closed_socket_call(name: str, family: int) -> Scenario:
        async def scenario(ev_loop: Loop) -> Any:
            sock = socket.socket(family, socket.SOCK_STREAM)
            sock.setblocking(False)
            sock.close()
            return await call_method(ev_loop, name, sock, data_path)

        return scenario

    # One test for all the cases: each loop-kind parametrization costs a tripwire teardown.
    cases = {
        (name, family): closed_socket_call(name, family)
        for name in METHODS
        for family in (socket.AF_INET, socket.AF_UNIX)
    }
    outcomes = assert_same_outcomes(loop, oracle, cases)
    assert all(result[0] == "raised" for result in outcomes.values())


# A bare client context: wrapping needs no certificates, and loading the system store per call
# costs more than the rest of these tests.
_TLS_CONTEXT = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _tls_socket() -> ssl.SSLSocket:
    return _TLS_CONTEXT.wrap_socket(
        socket.socket(), server_hostname="example.test", do_handshake_on_connect=False
    )


def test_ssl_socket_is_refused(loop: Loop, data_path: Path) -> None:
    for name in METHODS:
        with _tls_socket() as tls_sock:
            tls_sock.setblocking(False)
            with pytest.raises(TypeError) as info:
                loop.run_until_complete(call_method(loop, name, tls_sock, data_path))
        assert str(info.value) == "Socket cannot be of type SSLSocket", name


def test_blocking_socket_in_debug_mode_is_refused(loop: Loop, data_path: Path) -> None:
    loop.set_debug(True)
    for name in METHODS:
        with socket.socket() as sock, pytest.raises(ValueError, match=NON_BLOCKING) as info:
            loop.run_until_complete(call_method(loop, name, sock, data_path))
        assert str(info.value) == "the socket must be non-blocking", name


def test_blocking_ssl_socket_in_debug_mode_matches_asyncio(
    loop: Loop, oracle: Loop, data_path: Path
) -> None:
    # Both checks fail: asyncio reports the SSL one first, except in sock_sendfile.
    def blocking_tls_call(name: str) -> Scenario:
        async def scenario(ev_loop: Loop) -> Any:
            with _tls_socket() as tls_sock:
                return await call_method(ev_loop, name, tls_sock, data_path)

        return scenario

    loop.set_debug(True)
    oracle.set_debug(True)
    outcomes = assert_same_outcomes(
        loop, oracle, {name: blocking_tls_call(name) for name in METHODS}
    )
    assert outcomes["sock_recv"][1] is TypeError
    assert outcomes["sock_sendfile"][1] is ValueError


def test_blocking_socket_is_accepted_outside_debug_mode(loop: Loop, socks: Sockets) -> None:
    a, b = socks.pair()
    b.setblocking(True)
    a.send(b"ready")
    assert loop.run_until_complete(loop.sock_recv(b, 10)) == b"ready"


@settings(max_examples=40, deadline=None, database=None)
@given(nbytes=st.one_of(st.integers(-3, 2048), st.none(), st.floats(), st.text(max_size=2)))
def _recv_nbytes_cases(loop: Loop, oracle: Loop, nbytes: Any) -> None:
    async def scenario(ev_loop: Loop) -> Any:
        a, b = socket.socketpair()
        with a, b:
            b.setblocking(False)
            a.send(PAYLOAD)
            return await ev_loop.sock_recv(b, nbytes)

    assert_same_outcome(loop, oracle, scenario)


def test_sock_recv_nbytes_errors_match_asyncio(loop: Loop, oracle: Loop) -> None:
    _recv_nbytes_cases(loop, oracle)


_CONNECT_HOSTS = st.sampled_from(
    # No value here may need DNS: literals, None (loopback) and values that fail before a lookup.
    ["127.0.0.1", b"127.0.0.1", None, "::1", 1234, bytearray(b"127.0.0.1"), b"\xff", ["%"]]
)
_CONNECT_PORTS = st.sampled_from(
    ["REFUSED", "REFUSED-AS-STR", "REFUSED-AS-FLOAT", None, "", b"", -1, 65536, "no-such-service"]
)


def _port_value(port: Any, refused: int) -> Any:
    return (
        {
            "REFUSED": refused,
            "REFUSED-AS-STR": str(refused),
            "REFUSED-AS-FLOAT": refused + 0.5,
        }.get(port, port)
        if isinstance(port, str)
        else port
    )


@settings(max_examples=50, deadline=None, database=None)
@given(
    family=st.sampled_from([socket.AF_INET, socket.AF_INET6] if HAS_IPV6 else [socket.AF_INET]),
    host=_CONNECT_HOSTS,
    port=_CONNECT_PORTS,
    extra=st.lists(st.sampled_from([0, 1, -1, "x", 2**40]), max_size=3),
    shape=st.sampled_from([tuple, list]),
)
def _connect_address_cases(
    loop: Loop, oracle: Loop, family: int, host: Any, port: Any, extra: list[Any], shape: type
) -> None:
    async def scenario(ev_loop: Loop) -> Any:
        with socket.socket(family) as holder, socket.socket(family) as client:
            holder.bind(("::1" if family == socket.AF_INET6 else "127.0.0.1", 0))
            refused = holder.getsockname()[1]
            client.setblocking(False)
            address = shape([host, _port_value(port, refused), *extra])
            try:
                return await ev_loop.sock_connect(client, address)
            except Exception as exc:  # the port differs between the two runs: mask it
                return type(exc), str(exc).replace(str(refused), "PORT")

    assert_same_outcome(loop, oracle, scenario)


def test_sock_connect_address_errors_match_asyncio(loop: Loop, oracle: Loop) -> None:
    _connect_address_cases(loop, oracle)


# --- sendfile --------------------------------------------------------------------------------


@pytest.fixture
def data_file(data_path: Path) -> Iterator[io.BufferedReader]:
    with open(data_path, "rb") as file:
        yield file


async def receive_exactly(loop: Loop, sock: socket.socket, size: int) -> bytes:
    received = bytearray()
    while len(received) < size:
        chunk = await loop.sock_recv(sock, size - len(received))
        if not chunk:
            break
        received += chunk
    return bytes(received)


@pytest.mark.parametrize("transport", ["socketpair", "tcp"])
def test_sock_sendfile_sends_file_and_moves_position(
    loop: Loop, socks: Sockets, data_file: io.BufferedReader, transport: str
) -> None:
    if transport == "socketpair":
        a, b = socks.pair()
    else:
        listener = socks.listener()
        a = socks.track(socket.create_connection(listener.getsockname()))
        b = socks.track(listener.accept()[0])

    async def main() -> tuple[int, bytes]:
        sent = await loop.sock_sendfile(a, data_file)
        return sent, await receive_exactly(loop, b, len(PAYLOAD))

    assert loop.run_until_complete(main()) == (len(PAYLOAD), PAYLOAD)
    assert data_file.tell() == len(PAYLOAD)


@pytest.mark.parametrize("fallback_file", [False, True])
def test_sock_sendfile_offset_and_count(
    loop: Loop, socks: Sockets, data_file: io.BufferedReader, fallback_file: bool
) -> None:
    a, b = socks.pair()
    file: Any = io.BytesIO(PAYLOAD) if fallback_file else data_file
    sent = loop.run_until_complete(loop.sock_sendfile(a, file, 100, 50))
    assert sent == 50
    assert drain(b) == PAYLOAD[100:150]
    assert file.tell() == 150


def test_sock_sendfile_of_empty_file_returns_zero(
    loop: Loop, socks: Sockets, tmp_path: Path
) -> None:
    a, b = socks.pair()
    (tmp_path / "empty").write_bytes(b"")
    with open(tmp_path / "empty", "rb") as file:
        assert loop.run_until_complete(loop.sock_sendfile(a, file)) == 0
        assert file.tell() == 0
    assert drain(b) == b""


def test_sock_sendfile_large_file_to_slow_reader(
    loop: Loop, socks: Sockets, tmp_path: Path
) -> None:
    a, b = socks.pair()
    content = os.urandom(3 * 1024 * 1024)
    (tmp_path / "large").write_bytes(content)

    async def reader() -> bytes:
        received = bytearray()
        while len(received) < len(content):
            received += await loop.sock_recv(b, 256 * 1024)
            await asyncio.sleep(0.001)
        return bytes(received)

    async def main(file: io.BufferedReader) -> tuple[int, bytes]:
        task = asyncio.ensure_future(reader())
        sent = await loop.sock_sendfile(a, file)
        return sent, await task

    with open(tmp_path / "large", "rb") as file:
        assert loop.run_until_complete(main(file)) == (len(content), content)
        assert file.tell() == len(content)
    assert not is_registered_writer(loop, a.fileno())


def test_sock_sendfile_falls_back_for_file_without_fileno(loop: Loop, socks: Sockets) -> None:
    a, b = socks.pair()
    file = io.BytesIO(PAYLOAD)
    assert loop.run_until_complete(loop.sock_sendfile(a, file, 10)) == len(PAYLOAD) - 10
    assert drain(b) == PAYLOAD[10:]
    assert file.tell() == len(PAYLOAD)


def test_sock_sendfile_without_fallback_raises_when_unavailable(loop: Loop, socks: Sockets) -> None:
    a, b = socks.pair()
    file = io.BytesIO(PAYLOAD)
    with pytest.raises(asyncio.SendfileNotAvailableError) as info:
        loop.run_until_complete(loop.sock_sendfile(a, file, fallback=False))
    assert str(info.value) == "not a regular file"
    assert file.tell() == 0
    assert drain(b) == b""


@pytest.mark.parametrize(("count", "fallback"), [(None, True), (3, False), (3, True)])
def test_sock_sendfile_from_pipe_matches_asyncio(
    loop: Loop, oracle: Loop, count: int | None, fallback: bool
) -> None:
    # asyncio's quirks: st_size 0 sends nothing; os.sendfile() from a pipe fails; the fallback
    # sends, then seeks the pipe and raises io.UnsupportedOperation.
    async def scenario(ev_loop: Loop) -> Any:
        a, b = socket.socketpair()
        read_fd, write_fd = os.pipe()
        with a, b, open(read_fd, "rb") as file:  # noqa: ASYNC230  (a pipe we filled)
            a.setblocking(False)
            b.setblocking(False)
            os.write(write_fd, b"piped")
            os.close(write_fd)
            result: Any
            try:
                result = await ev_loop.sock_sendfile(a, file, count=count, fallback=fallback)
            except Exception as exc:
                result = (type(exc), str(exc))
            return result, drain(b)

    assert_same_outcome(loop, oracle, scenario)


@pytest.mark.parametrize(
    ("mode", "sock_type"),
    [("r", socket.SOCK_STREAM), ("rb", socket.SOCK_DGRAM)],
)
def test_sock_sendfile_rejects_text_file_and_datagram_socket(
    loop: Loop, data_path: Path, mode: str, sock_type: int
) -> None:
    with socket.socket(socket.AF_INET, sock_type) as sock, open(data_path, mode) as file:
        sock.setblocking(False)
        with pytest.raises(ValueError, match=r"^(file should|only SOCK_STREAM)") as info:
            loop.run_until_complete(loop.sock_sendfile(sock, file))
    expected = {
        "r": "file should be opened in binary mode",
        "rb": "only SOCK_STREAM type sockets are supported",
    }[mode]
    assert str(info.value) == expected


def test_sock_sendfile_huge_count_matches_asyncio(
    loop: Loop, oracle: Loop, data_path: Path
) -> None:
    # 3.13 caps each os.sendfile() call (gh-82500); before, 2**63 overflows a C ssize_t.
    async def scenario(ev_loop: Loop) -> Any:
        a, b = socket.socketpair()
        with a, b, open(data_path, "rb") as file:  # noqa: ASYNC230  (a small tmp file)
            a.setblocking(False)
            b.setblocking(False)
            result: Any
            try:
                result = await ev_loop.sock_sendfile(a, file, count=2**63)
            except Exception as exc:
                result = (type(exc), str(exc))
            return result, drain(b), file.tell()

    expected = assert_same_outcome(loop, oracle, scenario)
    if sys.version_info >= (3, 13):
        assert expected[1][0] == len(PAYLOAD)
    else:
        assert expected[1][0][0] is OverflowError


def test_cancelled_sock_sendfile_leaves_position_after_bytes_sent(
    loop: Loop, socks: Sockets, tmp_path: Path, is_oracle: bool
) -> None:
    a, b = socks.pair()
    (tmp_path / "large").write_bytes(os.urandom(8 * 1024 * 1024))

    async def main(file: io.BufferedReader) -> int:
        task = asyncio.ensure_future(loop.sock_sendfile(a, file))
        await spin()
        assert not task.done()
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert not is_registered_writer(loop, a.fileno())
        return len(drain(b))

    with open(tmp_path / "large", "rb") as file:
        received = loop.run_until_complete(main(file))
        assert received > 0
        if is_oracle:
            # asyncio moves the position only if the socket was writable in that iteration.
            assert file.tell() in (0, received)
        else:
            assert file.tell() == received


_SENDFILE_NUMBERS = st.one_of(
    st.integers(-3, 1100),
    st.integers(2**62, 2**70),
    st.none(),
    st.booleans(),
    st.floats(allow_nan=False),
    st.text(max_size=2),
)


@settings(max_examples=60, deadline=None, database=None)
@given(
    offset=_SENDFILE_NUMBERS,
    count=_SENDFILE_NUMBERS,
    fallback=st.booleans(),
    in_memory=st.booleans(),
)
def _sendfile_argument_cases(
    loop: Loop,
    oracle: Loop,
    data_path: Path,
    offset: Any,
    count: Any,
    fallback: bool,
    in_memory: bool,
) -> None:
    async def scenario(ev_loop: Loop) -> Any:
        a, b = socket.socketpair()
        file: Any = io.BytesIO(PAYLOAD) if in_memory else open(data_path, "rb")  # noqa: ASYNC230, SIM115
        with a, b, file:
            a.setblocking(False)
            b.setblocking(False)
            result: Any
            try:
                result = await ev_loop.sock_sendfile(a, file, offset, count, fallback=fallback)
            except Exception as exc:
                result = (type(exc), str(exc))
            return result, drain(b), file.tell()

    assert_same_outcome(loop, oracle, scenario)


def test_sock_sendfile_offset_count_match_asyncio(
    loop: Loop, oracle: Loop, data_path: Path
) -> None:
    _sendfile_argument_cases(loop, oracle, data_path)
