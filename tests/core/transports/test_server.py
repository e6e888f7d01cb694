"""create_server and Server: serving, closing with clients, serve_forever, options, faults."""

from __future__ import annotations

import asyncio
import errno
import os
import resource
import socket
import sys
from collections.abc import Callable
from typing import Any

import pytest
from stream_pairs import HAS_IPV6, Endpoint, Loop, Recorder, connected_pair, run_body

PY312 = sys.version_info >= (3, 12)
PY313 = sys.version_info >= (3, 13)


class Echo(Recorder):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        self.transport.write(data)


async def echo_once(loop: Loop, endpoint: Endpoint, address: Any, payload: bytes) -> bytes:
    transport, protocol = await endpoint.connect(loop, Recorder, address)
    transport.write(payload)
    data = await protocol.received(len(payload))
    transport.close()
    await protocol.lost
    return data


def test_server_basics(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await endpoint.serve(loop, Echo)
        assert server.get_loop() is loop
        assert server.is_serving()
        [sock] = server.sockets  # type: ignore[attr-defined]
        assert sock.family == endpoint.family
        assert sock.type == socket.SOCK_STREAM
        assert repr(server).startswith(f"<{type(server).__name__} sockets=(")
        address = endpoint.address_of(server)
        assert await echo_once(loop, endpoint, address, b"echo me") == b"echo me"
        server.close()
        assert not server.is_serving()
        assert server.sockets == ()  # type: ignore[attr-defined]
        server.close()  # idempotent
        await server.wait_closed()

    run_body(loop, body)


def test_close_with_clients_connected(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await endpoint.serve(loop, Echo)
        address = endpoint.address_of(server)
        transport, client = await endpoint.connect(loop, Recorder, address)
        transport.write(b"before")
        await client.received(6)
        server.close()
        # The established connection outlives the server's listening socket.
        transport.write(b" after")
        assert await client.received(12) == b"before after"
        with pytest.raises((ConnectionRefusedError, FileNotFoundError)):
            await endpoint.connect(loop, Recorder, address)
        waiting = asyncio.ensure_future(server.wait_closed())
        await asyncio.sleep(0.02)
        # 3.12.1+: wait_closed() waits for the last client; 3.11 returned at once.
        assert waiting.done() is not PY312
        transport.close()
        await client.lost
        await waiting

    run_body(loop, body)


@pytest.mark.parametrize("method", ["close_clients", "abort_clients"])
def test_close_and_abort_clients(
    loop: Loop, endpoint: Endpoint, method: str, is_oracle: bool
) -> None:
    if is_oracle and not PY313:
        pytest.skip("close_clients/abort_clients are 3.13 in asyncio (treadle: every version)")

    async def body() -> None:
        accepted: list[Recorder] = []
        all_accepted = asyncio.Event()

        def factory() -> Recorder:
            accepted.append(Recorder())
            if len(accepted) == 3:
                all_accepted.set()
            return accepted[-1]

        server = await endpoint.serve(loop, factory)
        address = endpoint.address_of(server)
        clients = [await endpoint.connect(loop, Recorder, address) for _ in range(3)]
        await all_accepted.wait()
        await asyncio.gather(*(p.made for p in accepted))
        server.close()
        getattr(server, method)()
        for protocol in accepted:
            assert await protocol.lost is None
        for _, client in clients:
            await client.lost
        await server.wait_closed()

    run_body(loop, body)


def test_serve_forever_is_cancelled_by_closing(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await endpoint.serve(loop, Echo, start_serving=False)
        assert not server.is_serving()
        forever = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0.01)
        assert server.is_serving()
        with pytest.raises(RuntimeError) as info:
            await server.serve_forever()
        assert str(info.value) == f"server {server!r} is already being awaited on serve_forever()"
        assert await echo_once(loop, endpoint, endpoint.address_of(server), b"x") == b"x"
        forever.cancel()
        with pytest.raises(asyncio.CancelledError):
            await forever
        assert not server.is_serving()
        assert server.sockets == ()  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError) as info:
            await server.serve_forever()
        assert str(info.value) == f"server {server!r} is closed"

    run_body(loop, body)


def test_server_close_ends_serve_forever(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await endpoint.serve(loop, Echo)
        forever = asyncio.ensure_future(server.serve_forever())
        await asyncio.sleep(0.01)
        server.close()
        with pytest.raises(asyncio.CancelledError):
            await forever

    run_body(loop, body)


def test_start_serving_later(loop: Loop, tcp_endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await tcp_endpoint.serve(loop, Echo, start_serving=False)
        address = tcp_endpoint.address_of(server)
        assert not server.is_serving()
        with pytest.raises(ConnectionRefusedError):  # bound, not listening
            await tcp_endpoint.connect(loop, Recorder, address)
        await server.start_serving()
        await server.start_serving()  # idempotent
        assert server.is_serving()
        assert await echo_once(loop, tcp_endpoint, address, b"late") == b"late"
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_async_with_closes(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await endpoint.serve(loop, Echo)
        async with server as entered:
            assert entered is server
            assert await echo_once(loop, endpoint, endpoint.address_of(server), b"y") == b"y"
        assert not server.is_serving()

    run_body(loop, body)


def test_accepts_a_burst_of_connections(loop: Loop, tcp_endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await tcp_endpoint.serve(loop, Echo, backlog=64)
        address = tcp_endpoint.address_of(server)
        # Many clients at once: several are accepted per readiness event. (A backlog below the
        # number of clients would make the kernel drop SYNs, and clients retry only after 1 s.)
        payloads = [f"client {i}".encode() for i in range(40)]
        replies = await asyncio.gather(
            *(echo_once(loop, tcp_endpoint, address, p) for p in payloads)
        )
        assert replies == payloads
        server.close()
        await server.wait_closed()

    run_body(loop, body)


# -- create_server options ----------------------------------------------------------------------


@pytest.mark.skipif(not HAS_IPV6, reason="no ::1")
def test_one_socket_per_address(loop: Loop) -> None:
    async def body() -> None:
        server = await loop.create_server(Echo, ["127.0.0.1", "::1", "127.0.0.1"], 0)
        families = sorted(sock.family for sock in server.sockets)  # type: ignore[attr-defined]
        assert families == [socket.AF_INET, socket.AF_INET6]
        for sock in server.sockets:  # type: ignore[attr-defined]
            if sock.family == socket.AF_INET6:
                assert sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_reuse_port_lets_two_servers_share(loop: Loop) -> None:
    if not hasattr(socket, "SO_REUSEPORT"):
        pytest.skip("no SO_REUSEPORT")

    async def body() -> None:
        first = await loop.create_server(Echo, "127.0.0.1", 0, reuse_port=True)
        port = first.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        second = await loop.create_server(Echo, "127.0.0.1", port, reuse_port=True)
        for server in (first, second):
            assert server.sockets[0].getsockopt(  # type: ignore[attr-defined]
                socket.SOL_SOCKET, socket.SO_REUSEPORT
            )
            server.close()
            await server.wait_closed()

    run_body(loop, body)


def test_keep_alive(loop: Loop, is_oracle: bool) -> None:
    if is_oracle and not PY313:
        pytest.skip("keep_alive is 3.13 in asyncio (treadle: every version)")

    async def body() -> None:
        server = await loop.create_server(Echo, "127.0.0.1", 0, keep_alive=True)
        sock = server.sockets[0]  # type: ignore[attr-defined]
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE)
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_existing_listening_socket(loop: Loop) -> None:
    async def body() -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = await loop.create_server(Echo, sock=sock)
        endpoint = Endpoint("tcp4", None)  # type: ignore[arg-type]
        address = sock.getsockname()
        assert await echo_once(loop, endpoint, address, b"sock=") == b"sock="
        server.close()
        await server.wait_closed()
        assert sock.fileno() == -1

    run_body(loop, body)


def test_bind_error_names_the_address(loop: Loop) -> None:
    async def body() -> None:
        first = await loop.create_server(Echo, "127.0.0.1", 0)
        address = first.sockets[0].getsockname()  # type: ignore[attr-defined]
        with pytest.raises(OSError, match="error while attempting to bind") as info:
            await loop.create_server(Echo, "127.0.0.1", address[1])
        assert info.value.errno == errno.EADDRINUSE
        reason = "[errno 98] address already in use" if PY313 else "address already in use"
        assert str(info.value) == (
            f"[Errno {errno.EADDRINUSE}] error while attempting to bind on address "
            f"{address!r}: {reason}"
        )
        first.close()
        await first.wait_closed()

    run_body(loop, body)


def test_argument_errors(loop: Loop) -> None:
    async def body() -> None:
        async def error(*args: Any, **kwargs: Any) -> str:
            with pytest.raises((ValueError, TypeError)) as info:
                await loop.create_server(Echo, *args, **kwargs)
            return f"{type(info.value).__name__}: {info.value}"

        with socket.socket() as sock, socket.socket(type=socket.SOCK_DGRAM) as udp:
            assert await error("127.0.0.1", 0, sock=sock) == (
                "ValueError: host/port and sock can not be specified at the same time"
            )
            assert await error(sock=udp) == (
                f"ValueError: A Stream Socket was expected, got {udp!r}"
            )
        assert await error() == "ValueError: Neither host/port nor sock were specified"
        assert await error("127.0.0.1", 0, ssl=True) == (
            "TypeError: ssl argument must be an SSLContext or None"
        )
        assert await error("127.0.0.1", 0, ssl_handshake_timeout=1) == (
            "ValueError: ssl_handshake_timeout is only meaningful with ssl"
        )
        assert await error("127.0.0.1", 0, ssl_shutdown_timeout=1) == (
            "ValueError: ssl_shutdown_timeout is only meaningful with ssl"
        )

    run_body(loop, body)


# -- faults -------------------------------------------------------------------------------------


def test_protocol_factory_error_keeps_the_server_serving(
    loop: Loop, tcp_endpoint: Endpoint, is_oracle: bool, exception_contexts: list[dict[str, Any]]
) -> None:
    if is_oracle:
        pytest.skip("asyncio drops the error outside debug mode and leaks the socket")
    calls = 0

    def sometimes_broken() -> Echo:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise LookupError("no protocol for the first client")
        return Echo()

    async def body() -> None:
        server = await tcp_endpoint.serve(loop, sometimes_broken)
        address = tcp_endpoint.address_of(server)
        _, client = await tcp_endpoint.connect(loop, Recorder, address)
        assert await client.lost is None  # the server closed the socket it could not serve
        assert await echo_once(loop, tcp_endpoint, address, b"second") == b"second"
        [context] = exception_contexts
        assert context["message"] == "Error on transport creation for incoming connection"
        assert isinstance(context["exception"], LookupError)
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_out_of_fds_while_accepting_pauses_then_serves(
    loop: Loop, tcp_endpoint: Endpoint, exception_contexts: list[dict[str, Any]]
) -> None:
    async def body() -> None:
        server = await tcp_endpoint.serve(loop, Echo)
        address = tcp_endpoint.address_of(server)
        client = socket.socket()
        client.setblocking(False)
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        fillers: list[int] = []
        try:
            # No free fd below the limit: the server's accept() fails with EMFILE.
            resource.setrlimit(resource.RLIMIT_NOFILE, (max(_open_fds()) + 1, hard))
            while True:
                try:
                    fillers.append(os.open(os.devnull, os.O_RDONLY))
                except OSError:
                    break
            try:
                client.connect(address)
            except BlockingIOError:
                pass
            await wait_until(lambda: bool(exception_contexts))
        finally:
            for fd in fillers:
                os.close(fd)
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
        # asyncio keeps calling accept() after the first EMFILE in the same event (reporting
        # each); treadle stops at the first. Either way each report is this one.
        for context in exception_contexts:
            assert context["message"] == "socket.accept() out of system resource"
            assert context["exception"].errno == errno.EMFILE
            assert context["socket"].getsockname() == address
        # About a second later the server accepts the waiting client, and serves it.
        with client:
            await loop.sock_sendall(client, b"still here")
            assert await loop.sock_recv(client, 100) == b"still here"
        assert server.is_serving()
        server.close()
        await server.wait_closed()

    run_body(loop, body)


async def wait_until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (set by a callback the test cannot await) every few milliseconds."""
    while not condition():  # noqa: ASYNC110 - nothing to wait on but the exception handler
        await asyncio.sleep(0.005)


def _open_fds() -> list[int]:
    return [int(name) for name in os.listdir("/proc/self/fd")]


def test_many_connections_leave_no_fd_behind(loop: Loop, tcp_endpoint: Endpoint) -> None:
    run_body(loop, lambda: _open_and_close(loop, tcp_endpoint, 1000, batch=100), timeout=30)


@pytest.mark.slow
def test_ten_thousand_connections_leave_no_fd_behind(
    loop: Loop, tcp_endpoint: Endpoint, loop_kind: str
) -> None:
    if loop_kind not in ("treadle-epoll", "treadle-kqueue"):
        pytest.skip("the 1k test covers every loop; 10k runs once, on the default poller")
    run_body(loop, lambda: _open_and_close(loop, tcp_endpoint, 10_000, batch=200), timeout=60)


async def _open_and_close(loop: Loop, endpoint: Endpoint, total: int, batch: int) -> None:
    lost: list[asyncio.Future[Any]] = []

    def factory() -> Recorder:
        protocol = Recorder()
        lost.append(protocol.lost)
        return protocol

    server = await endpoint.serve(loop, factory, backlog=batch)
    address = endpoint.address_of(server)
    for _ in range(total // batch):
        pairs = await asyncio.gather(
            *(endpoint.connect(loop, Recorder, address) for _ in range(batch))
        )
        for transport, _ in pairs:
            transport.close()
        await asyncio.gather(*(protocol.lost for _, protocol in pairs))
    await asyncio.gather(*lost)
    assert len(lost) == total
    server.close()
    await server.wait_closed()


def test_connected_pair_smoke(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint, Echo) as pair:
            pair.client_transport.write(b"ping")
            assert await pair.client.received(4) == b"ping"

    run_body(loop, body)
