"""create_connection and connect_accepted_socket: addresses, failures, Happy Eyeballs, checks.

Tests that need a name resolving to several addresses give the loop a static resolver (an
instance attribute ``getaddrinfo``), since the suite never relies on ``localhost``: both loops
call ``loop.getaddrinfo`` for names that are not IP literals, and the sockets stay real.
A listener whose accept queue is full stands in for an unresponsive address: connecting to it
hangs (the kernel drops the SYN), which is what Happy Eyeballs must route around.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from stream_pairs import HAS_IPV6, Endpoint, Loop, Recorder, run_body

from treadle.core._happy_eyeballs import interleave

needs_ipv6 = pytest.mark.skipif(not HAS_IPV6, reason="no ::1")
PY312 = sys.version_info >= (3, 12)
PY313 = sys.version_info >= (3, 13)


def static_resolver(loop: Loop, *addresses: tuple[Any, ...]) -> None:
    """Make every name resolve to ``addresses`` (sockaddr tuples), in this order."""

    async def getaddrinfo(
        host: Any, port: Any, *, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[tuple[Any, ...]]:
        infos = []
        for address in addresses:
            af = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
            if family in (0, af):
                infos.append((af, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", address))
        return infos

    loop.getaddrinfo = getaddrinfo  # type: ignore[method-assign]


def refused_port(host: str) -> int:
    """A port nothing listens on (bound, then closed) on ``host``."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
    return port


@contextmanager
def listener(host: str) -> Iterator[tuple[Any, ...]]:
    """A listening socket on ``host`` (accepting in the kernel's queue); its address."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as sock:
        sock.bind((host, 0))
        sock.listen(16)
        yield sock.getsockname()


@contextmanager
def unresponsive(host: str = "127.0.0.1") -> Iterator[tuple[Any, ...]]:
    """An address where connect() hangs: a listener with a full accept queue."""
    with socket.socket() as sock, socket.socket() as filler:
        sock.bind((host, 0))
        sock.listen(0)
        filler.connect(sock.getsockname())  # takes the one slot backlog 0 leaves
        yield sock.getsockname()


async def close_connection(transport: asyncio.BaseTransport, protocol: Recorder) -> None:
    transport.close()
    await protocol.lost


# -- plain connections --------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", pytest.param("::1", marks=needs_ipv6)])
def test_connection_refused_says_where(loop: Loop, host: str) -> None:
    port = refused_port(host)

    async def body() -> None:
        with pytest.raises(ConnectionRefusedError) as info:
            await loop.create_connection(Recorder, host, port)
        address = (host, port) if host == "127.0.0.1" else (host, port, 0, 0)
        assert str(info.value) == f"[Errno {errno.ECONNREFUSED}] Connect call failed {address}"

    run_body(loop, body)


def test_port_as_string_and_local_addr(loop: Loop) -> None:
    async def body() -> None:
        with listener("127.0.0.1") as (host, port):
            transport, protocol = await loop.create_connection(
                Recorder, host, str(port), local_addr=("127.0.0.1", 0)
            )
            assert transport.get_extra_info("peername") == (host, port)
            assert transport.get_extra_info("sockname")[0] == "127.0.0.1"
            await close_connection(transport, protocol)

    run_body(loop, body)


@needs_ipv6
def test_local_addr_of_another_family(loop: Loop) -> None:
    async def body() -> None:
        with listener("::1") as address:
            with pytest.raises(OSError, match=r"^no matching local address") as info:
                await loop.create_connection(
                    Recorder, address[0], address[1], local_addr=("127.0.0.1", 0)
                )
            assert type(info.value) is OSError
            assert str(info.value) == (
                f"no matching local address with family={socket.AF_INET6!r} found"
            )

    run_body(loop, body)


def test_local_addr_in_use(loop: Loop) -> None:
    async def body() -> None:
        with listener("127.0.0.1") as target, listener("127.0.0.1") as taken:
            with pytest.raises(OSError, match="error while attempting to bind") as info:
                await loop.create_connection(Recorder, *target, local_addr=taken)
            assert info.value.errno == errno.EADDRINUSE
            reason = str(OSError(errno.EADDRINUSE, "Address already in use")).lower()
            if not PY313:
                reason = "address already in use"
            assert str(info.value).endswith(
                f"error while attempting to bind on address {taken!r}: {reason}"
            )

    run_body(loop, body)


def test_existing_socket(loop: Loop) -> None:
    async def body() -> None:
        with listener("127.0.0.1") as address:
            sock = socket.socket()
            sock.connect(address)
            transport, protocol = await loop.create_connection(Recorder, sock=sock)
            assert transport.get_extra_info("socket").fileno() == sock.fileno()
            assert sock.gettimeout() == 0  # made non-blocking
            await close_connection(transport, protocol)
            assert sock.fileno() == -1  # the transport closed it

    run_body(loop, body)


def test_argument_errors(loop: Loop) -> None:
    async def body() -> None:
        async def error(**kwargs: Any) -> str:
            with pytest.raises((ValueError, TypeError)) as info:
                await loop.create_connection(Recorder, **kwargs)
            return f"{type(info.value).__name__}: {info.value}"

        with socket.socket() as sock, socket.socket(type=socket.SOCK_DGRAM) as udp:
            assert await error(host="127.0.0.1", port=1, sock=sock) == (
                "ValueError: host/port and sock can not be specified at the same time"
            )
            assert await error() == (
                "ValueError: host and port was not specified and no sock specified"
            )
            assert (await error(sock=udp)).startswith(
                "ValueError: A Stream Socket was expected, got <socket.socket"
            )
        assert await error(host="127.0.0.1", port=1, server_hostname="x") == (
            "ValueError: server_hostname is only meaningful with ssl"
        )
        assert await error(host="127.0.0.1", port=1, ssl_handshake_timeout=1) == (
            "ValueError: ssl_handshake_timeout is only meaningful with ssl"
        )
        assert await error(host="127.0.0.1", port=1, ssl_shutdown_timeout=1) == (
            "ValueError: ssl_shutdown_timeout is only meaningful with ssl"
        )
        assert await error(port=1, ssl=True) == (
            "ValueError: You must set server_hostname when using ssl without a host"
        )

    run_body(loop, body)


def test_protocol_factory_error_propagates(loop: Loop, is_oracle: bool) -> None:
    if is_oracle:
        pytest.skip("asyncio leaves the connected socket to the collector (ResourceWarning)")

    def broken() -> asyncio.Protocol:
        raise LookupError("no protocol today")

    async def body() -> None:
        with listener("127.0.0.1") as address, pytest.raises(LookupError):
            await loop.create_connection(broken, *address)

    run_body(loop, body)


def test_connect_accepted_socket(loop: Loop) -> None:
    async def body() -> None:
        left, right = socket.socketpair()
        t1, p1 = await loop.connect_accepted_socket(Recorder, left)
        _, p2 = await loop.create_connection(Recorder, sock=right)
        t1.write(b"across")
        assert await p2.received(6) == b"across"
        await close_connection(t1, p1)
        await p2.lost

    run_body(loop, body)


def test_connect_accepted_socket_checks(loop: Loop) -> None:
    async def body() -> None:
        with (
            socket.socket(type=socket.SOCK_DGRAM) as udp,
            pytest.raises(ValueError, match=r"^A Stream Socket was expected, got"),
        ):
            await loop.connect_accepted_socket(Recorder, udp)
        left, right = socket.socketpair()
        with (
            left,
            right,
            pytest.raises(ValueError, match=r"^ssl_handshake_timeout is only meaningful with ssl$"),
        ):
            await loop.connect_accepted_socket(Recorder, left, ssl_handshake_timeout=1)

    run_body(loop, body)


# -- several addresses --------------------------------------------------------------------------


def test_every_address_failing_lists_each_error(loop: Loop) -> None:
    first, second = refused_port("127.0.0.1"), refused_port("127.0.0.1")
    static_resolver(loop, ("127.0.0.1", first), ("127.0.0.1", second))

    async def body() -> None:
        with pytest.raises(OSError, match=r"^Multiple exceptions: ") as info:
            await loop.create_connection(Recorder, "two.test", 80)
        assert type(info.value) is OSError
        refused = f"[Errno {errno.ECONNREFUSED}] Connect call failed"
        assert str(info.value) == (
            f"Multiple exceptions: {refused} ('127.0.0.1', {first}), "
            f"{refused} ('127.0.0.1', {second})"
        )

    run_body(loop, body)


def test_identical_errors_are_raised_as_one(loop: Loop) -> None:
    port = refused_port("127.0.0.1")
    static_resolver(loop, ("127.0.0.1", port), ("127.0.0.1", port))

    async def body() -> None:
        with pytest.raises(ConnectionRefusedError):
            await loop.create_connection(Recorder, "same.test", 80)

    run_body(loop, body)


def test_all_errors_raises_a_group(loop: Loop, is_oracle: bool) -> None:
    if is_oracle and not PY312:
        pytest.skip("all_errors is 3.12+ in asyncio (treadle: every version)")
    first, second = refused_port("127.0.0.1"), refused_port("127.0.0.1")
    static_resolver(loop, ("127.0.0.1", first), ("127.0.0.1", second))

    async def body() -> None:
        with pytest.raises(ExceptionGroup) as info:
            await loop.create_connection(Recorder, "two.test", 80, all_errors=True)
        assert info.value.message == "create_connection failed"
        assert [type(exc) for exc in info.value.exceptions] == [ConnectionRefusedError] * 2

    run_body(loop, body)


def test_empty_resolution(loop: Loop) -> None:
    static_resolver(loop)

    async def body() -> None:
        with pytest.raises(OSError, match="returned empty list") as info:
            await loop.create_connection(Recorder, "nowhere.test", 80)
        assert str(info.value) == "getaddrinfo() returned empty list"

    run_body(loop, body)


def test_second_address_used_when_first_refuses(loop: Loop) -> None:
    async def body() -> None:
        with listener("127.0.0.1") as good:
            static_resolver(loop, ("127.0.0.1", refused_port("127.0.0.1")), good)
            transport, protocol = await loop.create_connection(Recorder, "two.test", 80)
            assert transport.get_extra_info("peername") == good
            await close_connection(transport, protocol)

    run_body(loop, body)


# -- Happy Eyeballs -----------------------------------------------------------------------------


@needs_ipv6
@pytest.mark.parametrize("listening", ["127.0.0.1", "::1"])
def test_happy_eyeballs_finds_the_listening_family(loop: Loop, listening: str) -> None:
    async def body() -> None:
        with listener(listening) as address:
            port = address[1]
            other = "::1" if listening == "127.0.0.1" else "127.0.0.1"
            # The other family has nothing on that port (or something else: refused anyway).
            static_resolver(loop, (other, port), (listening, port))
            transport, protocol = await loop.create_connection(
                Recorder, "dual.test", port, happy_eyeballs_delay=0.25
            )
            assert transport.get_extra_info("peername")[0] == listening
            await close_connection(transport, protocol)

    run_body(loop, body)


def test_happy_eyeballs_routes_around_an_unresponsive_address(loop: Loop) -> None:
    async def body() -> None:
        with unresponsive() as slow, listener("127.0.0.1") as good:
            static_resolver(loop, slow, good)
            started = time.monotonic()
            transport, protocol = await loop.create_connection(
                Recorder, "slow.test", 80, happy_eyeballs_delay=0.05
            )
            assert time.monotonic() - started < 2.0
            assert transport.get_extra_info("peername") == good
            await close_connection(transport, protocol)
        # The losing attempt's socket is closed: the fd tripwire checks it after the test.

    run_body(loop, body)


def test_happy_eyeballs_every_address_failing(loop: Loop) -> None:
    first, second = refused_port("127.0.0.1"), refused_port("127.0.0.1")
    static_resolver(loop, ("127.0.0.1", first), ("127.0.0.1", second))

    async def body() -> None:
        with pytest.raises(OSError, match=r"^Multiple exceptions: "):
            await loop.create_connection(Recorder, "two.test", 80, happy_eyeballs_delay=0.01)

    run_body(loop, body)


@pytest.mark.parametrize("delay", [None, 0.01])
def test_cancelling_a_hanging_connect_closes_its_sockets(loop: Loop, delay: float | None) -> None:
    async def body() -> None:
        with unresponsive() as slow, unresponsive() as slower:
            static_resolver(loop, slow, slower)
            attempt = asyncio.ensure_future(
                loop.create_connection(Recorder, "hang.test", 80, happy_eyeballs_delay=delay)
            )
            await asyncio.sleep(0.1)
            attempt.cancel()
            with pytest.raises(asyncio.CancelledError):
                await attempt

    run_body(loop, body)


def test_interleave_alternates_families() -> None:
    v4 = [(socket.AF_INET, 1, 6, "", (f"10.0.0.{i}", 80)) for i in range(3)]
    v6 = [(socket.AF_INET6, 1, 6, "", (f"fe80::{i}", 80, 0, 0)) for i in range(2)]
    mixed = [v6[0], v6[1], v4[0], v4[1], v4[2]]
    assert interleave(mixed) == [v6[0], v4[0], v6[1], v4[1], v4[2]]
    assert interleave(mixed, 2) == [v6[0], v6[1], v4[0], v4[1], v4[2]]
    assert interleave([]) == []


def test_unix_connection_endpoint_smoke(loop: Loop, unix_endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await unix_endpoint.serve(loop, Recorder)
        transport, protocol = await unix_endpoint.connect(
            loop, Recorder, unix_endpoint.address_of(server)
        )
        await close_connection(transport, protocol)
        server.close()
        await server.wait_closed()

    run_body(loop, body)
