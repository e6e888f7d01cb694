"""create_datagram_endpoint and DatagramTransport, on asyncio's loop (the oracle) and on treadle's.

Real sockets only: UDP on 127.0.0.1 and ::1, Unix datagram sockets under tmp_path (or a shorter
temporary directory). Misuse is compared by exception type and message, which differ between
3.11/3.12 and 3.13 in places.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import sys
import tempfile
from asyncio.trsock import TransportSocket
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

Loop = asyncio.AbstractEventLoop

PY313 = sys.version_info >= (3, 13)
# 3.13 counts 8 bytes of header per queued datagram (gh-113812).
HEADER = 8 if PY313 else 0


def _ipv6_works() -> bool:
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


HOSTS = [
    pytest.param("127.0.0.1", id="ipv4"),
    pytest.param(
        "::1",
        id="ipv6",
        marks=pytest.mark.skipif(not _ipv6_works(), reason="no IPv6 loopback here"),
    ),
]


class Recorder(asyncio.DatagramProtocol):
    """Records every callback; ``lost`` resolves with connection_lost's argument."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.datagrams: list[tuple[bytes, Any]] = []
        self.errors: list[OSError] = []
        self.transport: Any = None
        self.lost: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("made")
        self.transport = transport

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.datagrams.append((data, addr))

    def error_received(self, exc: Exception) -> None:
        assert isinstance(exc, OSError)
        self.errors.append(exc)
        self.events.append(f"error_received {type(exc).__name__}")

    def pause_writing(self) -> None:
        self.events.append(f"pause_writing at {self.transport.get_write_buffer_size()}")

    def resume_writing(self) -> None:
        self.events.append(f"resume_writing at {self.transport.get_write_buffer_size()}")

    def connection_lost(self, exc: BaseException | None) -> None:
        self.events.append(f"lost {type(exc).__name__ if exc else None}")
        self.lost.set_result(exc)


async def eventually(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    """Wait (polling every millisecond) until ``condition()`` holds."""
    async with asyncio.timeout(timeout):
        # Polling: the conditions are on protocol state that callbacks change; an Event per
        # condition would make every test longer than what it checks.
        while not condition():  # noqa: ASYNC110
            await asyncio.sleep(0.001)


async def closed(transport: asyncio.BaseTransport, protocol: Recorder) -> BaseException | None:
    transport.close()
    return await protocol.lost


async def endpoint(loop: Loop, *args: Any, **kwargs: Any) -> tuple[Any, Recorder]:
    transport, protocol = await loop.create_datagram_endpoint(Recorder, *args, **kwargs)
    assert isinstance(protocol, Recorder)
    return transport, protocol


async def failure(awaitable: Any) -> BaseException:
    """The exception an awaitable raises (the test fails if it raises none)."""
    try:
        await awaitable
    except BaseException as exc:  # what is raised is the subject: any type may be expected
        return exc
    pytest.fail("expected an exception")


def run(loop: Loop, coro: Any) -> Any:
    return loop.run_until_complete(coro)


@pytest.fixture
def sock_dir(tmp_path: Path) -> Iterator[Path]:
    """tmp_path, or a shorter private directory when socket paths under it would not fit in
    sun_path (108 bytes on Linux, 104 on macOS)."""
    if len(str(tmp_path / "receiver.sock")) < 100:
        yield tmp_path
        return
    with tempfile.TemporaryDirectory(prefix="treadle-") as directory:
        yield Path(directory)


@pytest.fixture
def closed_udp_port() -> int:
    """A UDP port on 127.0.0.1 that nothing listens on (it was bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


# -- round trips ---------------------------------------------------------------------------------


@pytest.mark.parametrize("host", HOSTS)
def test_udp_echo_round_trip(loop: Loop, host: str) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=(host, 0))
        server_addr = server.get_extra_info("sockname")
        client, client_proto = await endpoint(loop, remote_addr=server_addr[:2])
        client.sendto(b"ping")
        await eventually(lambda: bool(server_proto.datagrams))
        data, addr = server_proto.datagrams[0]
        assert data == b"ping"
        assert addr[:2] == client.get_extra_info("sockname")[:2]
        server.sendto(b"pong", addr)
        await eventually(lambda: bool(client_proto.datagrams))
        assert client_proto.datagrams[0][0] == b"pong"
        assert await closed(client, client_proto) is None
        assert await closed(server, server_proto) is None
        assert server_proto.events == ["made", "lost None"]

    run(loop, main())


def test_many_datagrams_arrive_in_order(loop: Loop) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        client, client_proto = await endpoint(loop, remote_addr=server.get_extra_info("sockname"))
        for i in range(200):
            client.sendto(b"%d" % i)
            if i % 8 == 7:  # stay well below the socket buffers: UDP may drop on overflow
                await eventually(lambda: len(server_proto.datagrams) == i + 1)  # noqa: B023
        await eventually(lambda: len(server_proto.datagrams) == 200)
        assert [d for d, _ in server_proto.datagrams] == [b"%d" % i for i in range(200)]
        await closed(client, client_proto)
        await closed(server, server_proto)

    run(loop, main())


def test_extra_info_of_connected_endpoint(loop: Loop, is_oracle: bool) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        server_addr = server.get_extra_info("sockname")
        client, client_proto = await endpoint(loop, remote_addr=server_addr)
        assert client.get_extra_info("peername") == server_addr
        sock = client.get_extra_info("socket")
        assert isinstance(sock, TransportSocket)
        assert sock.type == socket.SOCK_DGRAM
        assert client.get_extra_info("sockname") == sock.getsockname()
        assert server.get_extra_info("peername") is None
        assert client.get_extra_info("no such key", "default") == "default"
        if not is_oracle or sys.version_info >= (3, 12):  # 3.11's is not one (fixed in 3.12)
            assert isinstance(client, asyncio.DatagramTransport)
        assert client.get_protocol() is client_proto
        await closed(client, client_proto)
        await closed(server, server_proto)

    run(loop, main())


def test_sendto_accepts_bytearray_and_memoryview(loop: Loop) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        client, client_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        addr = server.get_extra_info("sockname")
        client.sendto(bytearray(b"one"), addr)
        client.sendto(memoryview(b"xtwox")[1:4], addr)
        await eventually(lambda: len(server_proto.datagrams) == 2)
        assert [d for d, _ in server_proto.datagrams] == [b"one", b"two"]
        await closed(client, client_proto)
        await closed(server, server_proto)

    run(loop, main())


def test_empty_datagram_is_sent_on_313_and_dropped_before(loop: Loop) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        client, client_proto = await endpoint(loop, remote_addr=server.get_extra_info("sockname"))
        client.sendto(b"")
        client.sendto(b"last")
        await eventually(lambda: [d for d, _ in server_proto.datagrams][-1:] == [b"last"])
        expected = [b"", b"last"] if PY313 else [b"last"]
        assert [d for d, _ in server_proto.datagrams] == expected
        await closed(client, client_proto)
        await closed(server, server_proto)

    run(loop, main())


def test_set_protocol_redirects_datagrams(loop: Loop) -> None:
    async def main() -> None:
        server, first = await endpoint(loop, local_addr=("127.0.0.1", 0))
        second = Recorder()
        server.set_protocol(second)
        assert server.get_protocol() is second
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"hi", server.get_extra_info("sockname"))
            await eventually(lambda: bool(second.datagrams))
        assert first.datagrams == []
        server.close()
        assert await second.lost is None
        assert not first.lost.done()

    run(loop, main())


# -- errors from the network ---------------------------------------------------------------------


def test_error_received_on_icmp_port_unreachable(loop: Loop, closed_udp_port: int) -> None:
    async def main() -> None:
        client, proto = await endpoint(loop, remote_addr=("127.0.0.1", closed_udp_port))
        client.sendto(b"anyone?")
        await eventually(lambda: bool(proto.errors))
        assert isinstance(proto.errors[0], ConnectionRefusedError)
        assert proto.errors[0].errno == errno.ECONNREFUSED
        assert not client.is_closing()  # a network error leaves the endpoint usable
        client.sendto(b"still here?")
        await closed(client, proto)
        assert proto.events[:2] == ["made", "error_received ConnectionRefusedError"]

    run(loop, main())


def test_sendto_without_address_when_unconnected_is_fatal(
    loop: Loop, exception_contexts: list[dict[str, Any]]
) -> None:
    async def main() -> None:
        transport, proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        transport.sendto(b"where to?")
        exc = await proto.lost
        assert isinstance(exc, TypeError)
        [context] = exception_contexts
        assert context["message"] == "Fatal write error on datagram transport"
        assert context["exception"] is exc
        assert context["transport"] is transport
        assert context["protocol"] is proto

    run(loop, main())


def test_exception_in_datagram_received_goes_to_handler(
    loop: Loop, exception_contexts: list[dict[str, Any]]
) -> None:
    class Failing(Recorder):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            super().datagram_received(data, addr)
            raise ZeroDivisionError("bad protocol")

    async def main() -> None:
        transport, proto = await loop.create_datagram_endpoint(Failing, local_addr=("127.0.0.1", 0))
        assert isinstance(proto, Failing)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"1", transport.get_extra_info("sockname"))
            sender.sendto(b"2", transport.get_extra_info("sockname"))
            await eventually(lambda: len(proto.datagrams) == 2)
        # asyncio treats it as a failing callback: reported, and the endpoint keeps working.
        assert not transport.is_closing()
        assert len(exception_contexts) == 2
        assert exception_contexts[0]["message"].startswith("Exception in callback ")
        assert isinstance(exception_contexts[0]["exception"], ZeroDivisionError)
        await closed(transport, proto)

    run(loop, main())


# -- misuse, compared with asyncio ---------------------------------------------------------------


def test_sendto_to_other_address_on_connected_endpoint_raises(loop: Loop) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        addr = server.get_extra_info("sockname")
        client, client_proto = await endpoint(loop, remote_addr=addr)
        with pytest.raises(ValueError, match=r"^Invalid address: must be None or \(") as info:
            client.sendto(b"x", ("127.0.0.1", addr[1] + 1))
        assert str(info.value) == f"Invalid address: must be None or {addr}"
        client.sendto(b"same address is fine", addr)
        await eventually(lambda: bool(server_proto.datagrams))
        await closed(client, client_proto)
        await closed(server, server_proto)

    run(loop, main())


@pytest.mark.parametrize("data", ["text", 42, None, [b"x"]])
def test_sendto_non_bytes_raises_type_error(loop: Loop, data: Any) -> None:
    async def main() -> None:
        transport, proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        with pytest.raises(TypeError) as info:
            transport.sendto(data, ("127.0.0.1", 9))
        expected = f"data argument must be a bytes-like object, not {type(data).__name__!r}"
        assert str(info.value) == expected
        await closed(transport, proto)

    run(loop, main())


def test_no_address_and_no_family_raises(loop: Loop) -> None:
    async def main() -> None:
        exc = await failure(loop.create_datagram_endpoint(Recorder))
        assert type(exc) is ValueError
        assert str(exc) == "unexpected address family"

    run(loop, main())


@pytest.mark.parametrize(
    "kwargs",
    [
        {"local_addr": ("127.0.0.1",)},
        {"local_addr": ["127.0.0.1", 0]},
        {"remote_addr": ("127.0.0.1", 1, 0)},
        {"remote_addr": "127.0.0.1:9"},
    ],
    ids=["short-tuple", "list", "long-tuple", "string"],
)
def test_address_must_be_a_2_tuple(loop: Loop, kwargs: dict[str, Any]) -> None:
    async def main() -> None:
        exc = await failure(loop.create_datagram_endpoint(Recorder, **kwargs))
        assert type(exc) is TypeError
        assert str(exc) == "2-tuple is expected"

    run(loop, main())


def test_unix_family_requires_string_addresses(loop: Loop) -> None:
    async def main() -> None:
        not_a_path: Any = (b"path", 0)
        exc = await failure(
            loop.create_datagram_endpoint(Recorder, local_addr=not_a_path, family=socket.AF_UNIX)
        )
        assert type(exc) is TypeError
        assert str(exc) == "string is expected"

    run(loop, main())


def test_addresses_of_different_families_raise(loop: Loop) -> None:
    if not _ipv6_works():
        pytest.skip("no IPv6 loopback here")

    async def main() -> None:
        exc = await failure(
            loop.create_datagram_endpoint(
                Recorder, local_addr=("127.0.0.1", 0), remote_addr=("::1", 9)
            )
        )
        assert type(exc) is ValueError
        assert str(exc) == "can not get address information"

    run(loop, main())


def test_resolution_error_propagates(loop: Loop) -> None:
    async def main() -> None:
        # An IPv4 literal asked for as IPv6 goes to getaddrinfo, which refuses it.
        exc = await failure(
            loop.create_datagram_endpoint(
                Recorder, local_addr=("127.0.0.1", 0), family=socket.AF_INET6
            )
        )
        assert type(exc) is socket.gaierror
        with pytest.raises(socket.gaierror) as direct:
            socket.getaddrinfo("127.0.0.1", 0, socket.AF_INET6, socket.SOCK_DGRAM)
        assert str(exc) == str(direct.value)

    run(loop, main())


def test_name_needing_resolution_is_resolved(loop: Loop) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        port = server.get_extra_info("sockname")[1]
        # "127.1" is not an address literal for inet_pton(), so it goes through getaddrinfo().
        client, client_proto = await endpoint(
            loop, remote_addr=("127.1", str(port)), family=socket.AF_INET
        )
        assert client.get_extra_info("peername") == ("127.0.0.1", port)
        client.sendto(b"resolved")
        await eventually(lambda: bool(server_proto.datagrams))
        await closed(client, client_proto)
        await closed(server, server_proto)

    run(loop, main())


def test_bind_error_is_raised(loop: Loop) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        exc = await failure(
            loop.create_datagram_endpoint(Recorder, local_addr=server.get_extra_info("sockname"))
        )
        assert type(exc) is OSError
        assert isinstance(exc, OSError)
        assert exc.errno == errno.EADDRINUSE
        await closed(server, server_proto)

    run(loop, main())


def test_reuse_address_is_not_a_parameter(loop: Loop) -> None:
    async def main() -> None:
        # Raised by the call itself, before there is a coroutine to await.
        create: Any = loop.create_datagram_endpoint
        with pytest.raises(TypeError) as info:
            create(Recorder, local_addr=("127.0.0.1", 0), reuse_address=True)
        exc = info.value
        # The qualified name differs (BaseEventLoop vs EventLoop); the rest is Python's.
        assert str(exc).endswith(
            "create_datagram_endpoint() got an unexpected keyword argument 'reuse_address'"
        )

    run(loop, main())


def test_stream_socket_is_refused(loop: Loop) -> None:
    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            exc = await failure(loop.create_datagram_endpoint(Recorder, sock=sock))
            assert type(exc) is ValueError
            if PY313:
                assert str(exc) == f"A datagram socket was expected, got {sock!r}"
            else:
                assert str(exc) == f"A UDP Socket was expected, got {sock!r}"

    run(loop, main())


def test_seqpacket_socket_accepted_only_on_313(loop: Loop) -> None:
    async def main() -> None:
        a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        with b:
            if not PY313:
                with a:
                    exc = await failure(loop.create_datagram_endpoint(Recorder, sock=a))
                    assert str(exc) == f"A UDP Socket was expected, got {a!r}"
                return
            transport, proto = await endpoint(loop, sock=a)
            b.send(b"packet")
            await eventually(lambda: bool(proto.datagrams))
            assert proto.datagrams[0][0] == b"packet"
            await closed(transport, proto)

    run(loop, main())


@pytest.mark.parametrize(
    ("kwargs", "problems"),
    [
        ({"local_addr": ("127.0.0.1", 0)}, "local_addr=('127.0.0.1', 0)"),
        ({"family": socket.AF_INET, "flags": 1}, "family=2, flags=1"),
        ({"reuse_port": True, "allow_broadcast": True}, "reuse_port=True, allow_broadcast=True"),
        ({"proto": 17, "remote_addr": ("127.0.0.1", 9)}, "remote_addr=('127.0.0.1', 9), proto=17"),
    ],
)
def test_socket_modifiers_with_sock_are_refused(
    loop: Loop, kwargs: dict[str, Any], problems: str
) -> None:
    async def main() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            exc = await failure(loop.create_datagram_endpoint(Recorder, sock=sock, **kwargs))
            assert type(exc) is ValueError
            assert str(exc) == (
                "socket modifier keyword arguments can not be used when sock is specified. "
                f"({problems})"
            )

    run(loop, main())


@pytest.mark.skipif(sys.version_info < (3, 12), reason="only 3.12+ check the fd")
def test_sock_in_use_by_another_transport_is_refused(loop: Loop) -> None:
    async def main() -> None:
        transport, proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        sock = transport.get_extra_info("socket")
        made: list[object] = []

        def factory() -> Recorder:
            made.append(1)
            return Recorder()

        with socket.socket(fileno=sock.fileno()) as same:
            exc = await failure(loop.create_datagram_endpoint(factory, sock=same))
            prefix = f"File descriptor {same!r} is used by transport "
            same.detach()  # the fd belongs to the transport; only drop this second handle
        assert type(exc) is RuntimeError
        assert str(exc).startswith(prefix)
        assert made == [1]  # asyncio calls the factory before it checks the fd
        await closed(transport, proto)

    run(loop, main())


# -- sock=, options, Unix datagram sockets -------------------------------------------------------


def test_given_socket_is_made_non_blocking_and_used(loop: Loop) -> None:
    async def main() -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind(("127.0.0.1", 0))
        transport, proto = await endpoint(loop, sock=sock)
        assert not sock.getblocking()
        assert transport.get_extra_info("sockname") == sock.getsockname()
        await closed(transport, proto)
        assert sock.fileno() == -1  # the transport closed it

    run(loop, main())


def test_given_connected_socket_sends_to_its_peer(loop: Loop) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.connect(server.get_extra_info("sockname"))
        client, client_proto = await endpoint(loop, sock=sock)
        assert client.get_extra_info("peername") == server.get_extra_info("sockname")
        client.sendto(b"via send()")
        await eventually(lambda: bool(server_proto.datagrams))
        await closed(client, client_proto)
        await closed(server, server_proto)

    run(loop, main())


@pytest.mark.skipif(not hasattr(socket, "SO_REUSEPORT"), reason="no SO_REUSEPORT")
def test_reuse_port_lets_two_endpoints_share_a_port(loop: Loop) -> None:
    async def main() -> None:
        first, first_proto = await endpoint(loop, local_addr=("127.0.0.1", 0), reuse_port=True)
        addr = first.get_extra_info("sockname")
        second, second_proto = await endpoint(loop, local_addr=addr, reuse_port=True)
        assert second.get_extra_info("sockname") == addr
        sock = second.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT)
        await closed(first, first_proto)
        await closed(second, second_proto)

    run(loop, main())


def test_allow_broadcast_sets_option_and_leaves_socket_unconnected(loop: Loop) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        addr = server.get_extra_info("sockname")
        client, client_proto = await endpoint(loop, remote_addr=addr, allow_broadcast=True)
        sock = client.get_extra_info("socket")
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST)
        assert client.get_extra_info("peername") is None
        # remote_addr is still the default destination, and the only one allowed.
        client.sendto(b"default")
        with pytest.raises(ValueError, match="Invalid address"):
            client.sendto(b"x", ("127.0.0.1", 9))
        await eventually(lambda: bool(server_proto.datagrams))
        await closed(client, client_proto)
        await closed(server, server_proto)

    run(loop, main())


def test_family_only_creates_unbound_socket(loop: Loop) -> None:
    async def main() -> None:
        transport, proto = await endpoint(loop, family=socket.AF_INET)
        assert transport.get_extra_info("sockname") == ("0.0.0.0", 0)
        await closed(transport, proto)

    run(loop, main())


def test_unix_datagram_endpoints_by_path(loop: Loop, sock_dir: Path) -> None:
    async def main() -> None:
        server_path = str(sock_dir / "server.sock")
        client_path = str(sock_dir / "client.sock")
        server, server_proto = await endpoint(loop, local_addr=server_path, family=socket.AF_UNIX)
        client, client_proto = await endpoint(
            loop, local_addr=client_path, remote_addr=server_path, family=socket.AF_UNIX
        )
        assert client.get_extra_info("peername") == server_path
        client.sendto(b"over a path")
        await eventually(lambda: bool(server_proto.datagrams))
        assert server_proto.datagrams == [(b"over a path", client_path)]
        server.sendto(b"back", client_path)
        await eventually(lambda: bool(client_proto.datagrams))
        assert client_proto.datagrams == [(b"back", server_path)]
        await closed(client, client_proto)
        await closed(server, server_proto)

    run(loop, main())


@pytest.mark.skipif(sys.platform != "linux", reason="abstract socket names are Linux-only")
def test_unix_abstract_namespace(loop: Loop) -> None:
    async def main() -> None:
        name = f"\0treadle-test-{id(loop)}"
        server, server_proto = await endpoint(loop, local_addr=name, family=socket.AF_UNIX)
        assert server.get_extra_info("sockname") == name.encode()
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"abstract", name)
            await eventually(lambda: bool(server_proto.datagrams))
        assert server_proto.datagrams[0][0] == b"abstract"
        await closed(server, server_proto)

    run(loop, main())


def test_unix_stale_socket_file_is_replaced(loop: Loop, sock_dir: Path) -> None:
    async def main() -> None:
        path = str(sock_dir / "stale.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as old:
            old.bind(path)  # closing leaves the file behind
        transport, proto = await endpoint(loop, local_addr=path, family=socket.AF_UNIX)
        assert transport.get_extra_info("sockname") == path
        await closed(transport, proto)

    run(loop, main())


def test_unix_path_that_is_not_a_socket_is_kept(loop: Loop, tmp_path: Path) -> None:
    async def main() -> None:
        path = tmp_path / "regular-file"
        path.write_text("keep me")
        exc = await failure(
            loop.create_datagram_endpoint(Recorder, local_addr=str(path), family=socket.AF_UNIX)
        )
        assert isinstance(exc, OSError)
        assert exc.errno == errno.EADDRINUSE
        assert path.read_text() == "keep me"

    run(loop, main())


# -- reading ------------------------------------------------------------------------------------


def test_pause_and_resume_reading(loop: Loop) -> None:
    async def main() -> None:
        transport, proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        assert transport.is_reading()
        transport.pause_reading()
        transport.pause_reading()  # idempotent
        assert not transport.is_reading()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(b"held", transport.get_extra_info("sockname"))
            await asyncio.sleep(0.02)
            assert proto.datagrams == []
            transport.resume_reading()
            assert transport.is_reading()
            await eventually(lambda: bool(proto.datagrams))
        await closed(transport, proto)
        assert not transport.is_reading()

    run(loop, main())


async def queued_endpoint(
    loop: Loop, protocol_factory: Callable[[], Recorder], count: int
) -> tuple[Any, Recorder]:
    """An endpoint with ``count`` datagrams waiting in its socket, not read yet (paused)."""
    transport, proto = await loop.create_datagram_endpoint(
        protocol_factory, local_addr=("127.0.0.1", 0)
    )
    assert isinstance(proto, Recorder)
    transport.pause_reading()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
        for n in range(count):
            sender.sendto(b"%d" % n, transport.get_extra_info("sockname"))
    return transport, proto


def test_pause_reading_in_datagram_received_stops_delivery(loop: Loop) -> None:
    class PausingOnce(Recorder):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            super().datagram_received(data, addr)
            if len(self.datagrams) == 1:
                self.transport.pause_reading()

    async def main() -> None:
        transport, proto = await queued_endpoint(loop, PausingOnce, 5)
        transport.resume_reading()
        await asyncio.sleep(0.02)
        assert [data for data, _ in proto.datagrams] == [b"0"]
        transport.resume_reading()
        await eventually(lambda: len(proto.datagrams) == 5)
        assert [data for data, _ in proto.datagrams] == [b"0", b"1", b"2", b"3", b"4"]
        await closed(transport, proto)

    run(loop, main())


def test_callbacks_scheduled_in_datagram_received_run_before_the_next_datagram(
    loop: Loop,
) -> None:
    class Scheduling(Recorder):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            super().datagram_received(data, addr)
            self.events.append(f"datagram {data.decode()}")
            asyncio.get_running_loop().call_soon(self.events.append, f"callback {data.decode()}")

    async def main() -> None:
        transport, proto = await queued_endpoint(loop, Scheduling, 3)
        transport.resume_reading()
        await eventually(lambda: len(proto.events) == 7)
        assert proto.events == [
            "made",
            "datagram 0",
            "callback 0",
            "datagram 1",
            "callback 1",
            "datagram 2",
            "callback 2",
        ]
        await closed(transport, proto)

    run(loop, main())


def test_no_datagram_lost_when_lone_datagrams_turn_into_a_burst(loop: Loop) -> None:
    # treadle stops trying for a second datagram per event after a run of events that held one
    # each; a burst after that must still arrive whole and in order.
    async def main() -> None:
        transport, proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        address = transport.get_extra_info("sockname")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            for n in range(12):
                sender.sendto(b"lone %d" % n, address)
                await eventually(lambda count=n + 1: len(proto.datagrams) == count)
            for n in range(40):
                sender.sendto(b"burst %d" % n, address)
            await eventually(lambda: len(proto.datagrams) == 52)
        expected = [b"lone %d" % n for n in range(12)] + [b"burst %d" % n for n in range(40)]
        assert [data for data, _ in proto.datagrams] == expected
        await closed(transport, proto)

    run(loop, main())


def test_stop_in_datagram_received_ends_the_run_after_that_datagram(loop: Loop) -> None:
    class Stopping(Recorder):
        def datagram_received(self, data: bytes, addr: Any) -> None:
            super().datagram_received(data, addr)
            asyncio.get_running_loop().stop()

    transport, proto = run(loop, queued_endpoint(loop, Stopping, 3))
    try:
        transport.resume_reading()
        loop.run_forever()
        assert [data for data, _ in proto.datagrams] == [b"0"]
    finally:
        run(loop, closed(transport, proto))


# -- writing, flow control and closing ------------------------------------------------------------


@pytest.fixture
def unix_pair(sock_dir: Path) -> tuple[str, str]:
    """Two paths for a Unix datagram sender and a receiver; the receiver's queue is small."""
    return str(sock_dir / "sender.sock"), str(sock_dir / "receiver.sock")


async def blocked_sender(
    loop: Loop, unix_pair: tuple[str, str], high: int
) -> tuple[Any, Recorder, Any, Recorder]:
    """A connected Unix datagram sender whose receiver does not read, so sends block."""
    sender_path, receiver_path = unix_pair
    receiver, receiver_proto = await endpoint(loop, local_addr=receiver_path, family=socket.AF_UNIX)
    receiver.pause_reading()
    sender, sender_proto = await endpoint(
        loop, local_addr=sender_path, remote_addr=receiver_path, family=socket.AF_UNIX
    )
    sender.set_write_buffer_limits(high=high)
    return sender, sender_proto, receiver, receiver_proto


def test_write_buffer_limits_defaults_and_validation(loop: Loop) -> None:
    async def main() -> None:
        transport, proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        assert transport.get_write_buffer_size() == 0
        assert transport.get_write_buffer_limits() == (16384, 65536)
        transport.set_write_buffer_limits(high=1000)
        assert transport.get_write_buffer_limits() == (250, 1000)
        transport.set_write_buffer_limits(low=100)
        assert transport.get_write_buffer_limits() == (100, 400)
        with pytest.raises(ValueError, match="must be") as info:
            transport.set_write_buffer_limits(high=10, low=20)
        assert str(info.value) == "high (10) must be >= low (20) must be >= 0"
        with pytest.raises(ValueError, match="must be") as info:
            transport.set_write_buffer_limits(high=-4)
        assert str(info.value) == "high (-4) must be >= low (-1) must be >= 0"
        await closed(transport, proto)

    run(loop, main())


def test_sends_queue_when_the_socket_blocks_and_flow_control_pauses(
    loop: Loop, unix_pair: tuple[str, str], is_oracle: bool
) -> None:
    async def main() -> None:
        sender, sender_proto, receiver, receiver_proto = await blocked_sender(
            loop, unix_pair, high=4096
        )
        sent = 0
        while not any(e.startswith("pause_writing") for e in sender_proto.events):
            sender.sendto(b"%05d" % sent + b"." * 995)
            sent += 1
            assert sent < 10_000, "sends never blocked"
        queued = sender.get_write_buffer_size()
        assert queued > 4096
        assert queued % (1000 + HEADER) == 0  # whole datagrams, each with its header allowance
        assert sender_proto.events[-1] == f"pause_writing at {queued}"
        receiver.resume_reading()
        await eventually(lambda: len(receiver_proto.datagrams) == sent)
        assert [d[:5] for d, _ in receiver_proto.datagrams] == [b"%05d" % i for i in range(sent)]
        resumes = [e for e in sender_proto.events if e.startswith("resume_writing")]
        assert len(resumes) == 1
        if not (is_oracle and (3, 13) <= sys.version_info < (3, 13, 6)):
            # asyncio 3.13.0-3.13.5 never subtracts the header allowance again (gh-135444).
            assert sender.get_write_buffer_size() == 0
        await closed(sender, sender_proto)
        await closed(receiver, receiver_proto)

    run(loop, main())


def test_close_flushes_queued_datagrams_first(loop: Loop, unix_pair: tuple[str, str]) -> None:
    async def main() -> None:
        sender, sender_proto, receiver, receiver_proto = await blocked_sender(
            loop, unix_pair, high=1 << 20
        )
        sent = 0
        while sender.get_write_buffer_size() == 0:
            sender.sendto(b"%d" % sent)
            sent += 1
        for _ in range(5):
            sender.sendto(b"%d" % sent)
            sent += 1
        sender.close()
        assert sender.is_closing()
        await asyncio.sleep(0.01)
        assert not sender_proto.lost.done()  # still waiting to flush
        receiver.resume_reading()
        assert await sender_proto.lost is None
        await eventually(lambda: len(receiver_proto.datagrams) == sent)
        assert [d for d, _ in receiver_proto.datagrams] == [b"%d" % i for i in range(sent)]
        await closed(receiver, receiver_proto)

    run(loop, main())


def test_abort_drops_queued_datagrams(
    loop: Loop, unix_pair: tuple[str, str], is_oracle: bool
) -> None:
    async def main() -> None:
        sender, sender_proto, receiver, receiver_proto = await blocked_sender(
            loop, unix_pair, high=1 << 20
        )
        sent = 0
        while sender.get_write_buffer_size() == 0:
            sender.sendto(b"%d" % sent)
            sent += 1
        sender.abort()
        assert sender.is_closing()
        if not is_oracle:
            # asyncio empties the queue but keeps reporting its old size; we report 0.
            assert sender.get_write_buffer_size() == 0
        assert await sender_proto.lost is None
        assert sender_proto.events == ["made", "lost None"]
        receiver.resume_reading()
        await eventually(lambda: len(receiver_proto.datagrams) == sent - 1)
        await asyncio.sleep(0.01)
        assert len(receiver_proto.datagrams) == sent - 1  # the queued one never went out
        await closed(receiver, receiver_proto)

    run(loop, main())


def test_exception_in_pause_writing_is_reported(
    loop: Loop, unix_pair: tuple[str, str], exception_contexts: list[dict[str, Any]]
) -> None:
    async def main() -> None:
        sender, sender_proto, receiver, receiver_proto = await blocked_sender(
            loop, unix_pair, high=0
        )

        def broken() -> None:
            raise RuntimeError("cannot pause")

        sender_proto.pause_writing = broken  # type: ignore[method-assign]
        while not exception_contexts:
            sender.sendto(b"x" * 100)
        [context] = exception_contexts
        assert context["message"] == "protocol.pause_writing() failed"
        assert str(context["exception"]) == "cannot pause"
        assert context["transport"] is sender
        sender.abort()
        await sender_proto.lost
        await closed(receiver, receiver_proto)

    run(loop, main())


def test_close_is_idempotent_and_connection_lost_runs_once(loop: Loop) -> None:
    async def main() -> None:
        transport, proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        transport.close()
        transport.close()
        transport.abort()
        assert transport.is_closing()
        await proto.lost
        await asyncio.sleep(0.01)
        assert proto.events == ["made", "lost None"]

    run(loop, main())


def test_sendto_after_connected_endpoint_closed_is_dropped_with_warning(
    loop: Loop, caplog: pytest.LogCaptureFixture
) -> None:
    async def main() -> None:
        server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
        client, client_proto = await endpoint(loop, remote_addr=server.get_extra_info("sockname"))
        await closed(client, client_proto)
        with caplog.at_level(logging.WARNING, logger="asyncio"):
            for _ in range(7):
                client.sendto(b"into the void")
        warnings = [
            r for r in caplog.records if r.getMessage() == "socket.send() raised exception."
        ]
        assert len(warnings) == 3  # from the fifth attempt on
        await asyncio.sleep(0.01)
        assert server_proto.datagrams == []
        await closed(server, server_proto)

    run(loop, main())


def test_cancelled_creation_leaves_nothing_open(loop: Loop) -> None:
    async def main() -> None:
        made: list[Recorder] = []

        def factory() -> Recorder:
            proto = Recorder()
            made.append(proto)
            return proto

        task = asyncio.ensure_future(
            loop.create_datagram_endpoint(factory, local_addr=("127.0.0.1", 0))
        )
        # One step in, the task waits for connection_made(), which is only scheduled yet.
        await asyncio.sleep(0)
        assert made
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert await made[0].lost is None

    run(loop, main())


def test_debug_mode_logs_and_works(loop: Loop, caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        loop.set_debug(True)
        with caplog.at_level(logging.DEBUG, logger="asyncio"):
            server, server_proto = await endpoint(loop, local_addr=("127.0.0.1", 0))
            client, client_proto = await endpoint(
                loop, remote_addr=server.get_extra_info("sockname")
            )
            client.pause_reading()
            client.resume_reading()
            client.sendto(b"debug")
            await eventually(lambda: bool(server_proto.datagrams))
            await closed(client, client_proto)
            await closed(server, server_proto)
        messages = [r.getMessage() for r in caplog.records]
        assert any(m.startswith("Datagram endpoint local_addr=") for m in messages)
        assert any(m.startswith("Datagram endpoint remote_addr=") for m in messages)
        assert any(m.endswith("pauses reading") for m in messages)
        loop.set_debug(False)

    run(loop, main())
