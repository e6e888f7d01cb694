"""TCP, UDP and Unix sockets, TLS over TCP, and fd readiness on the treadle backend.

Real sockets on 127.0.0.1, ::1 and under tmp_path; real TLS from the plugin's trustme fixtures.
"""

from __future__ import annotations

import socket
import ssl
from pathlib import Path

import anyio
import pytest
from anyio.abc import SocketAttribute, SocketStream
from anyio.streams.tls import TLSListener, TLSStream

pytestmark = pytest.mark.anyio


def _has_ipv6() -> bool:
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


HOSTS = [
    "127.0.0.1",
    pytest.param("::1", marks=pytest.mark.skipif(not _has_ipv6(), reason="no IPv6 loopback")),
]


async def _echo_upper(stream: SocketStream) -> None:
    async with stream:
        async for chunk in stream:
            await stream.send(chunk.upper())


@pytest.mark.parametrize("host", HOSTS)
async def test_tcp_echo(host: str) -> None:
    async with await anyio.create_tcp_listener(local_host=host) as listener:
        port = listener.extra(SocketAttribute.local_port)
        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, _echo_upper)
            async with await anyio.connect_tcp(host, port) as client:
                for word in (b"hello", b"treadle"):
                    await client.send(word)
                    assert await client.receive() == word.upper()
                assert client.extra(SocketAttribute.remote_port) == port
            tg.cancel_scope.cancel()


async def test_closing_a_stream_interrupts_its_receiver() -> None:
    a, b = socket.socketpair()
    stream = await SocketStream.from_socket(a) if hasattr(SocketStream, "from_socket") else None
    if stream is None:  # AnyIO < 4.10 has no from_socket
        a.close()
        b.close()
        pytest.skip("needs SocketStream.from_socket")
    errors: list[BaseException] = []

    async def receive() -> None:
        try:
            await stream.receive()
        except anyio.ClosedResourceError as exc:
            errors.append(exc)

    with b:
        async with anyio.create_task_group() as tg:
            tg.start_soon(receive)
            await anyio.wait_all_tasks_blocked()
            await stream.aclose()
    assert len(errors) == 1


async def test_peer_close_is_end_of_stream() -> None:
    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener:
        port = listener.extra(SocketAttribute.local_port)

        async def close_at_once(stream: SocketStream) -> None:
            await stream.aclose()

        async with anyio.create_task_group() as tg:
            tg.start_soon(listener.serve, close_at_once)
            async with await anyio.connect_tcp("127.0.0.1", port) as client:
                with pytest.raises(anyio.EndOfStream):
                    await client.receive()
            tg.cancel_scope.cancel()


async def test_udp_round_trip() -> None:
    async with await anyio.create_udp_socket(local_host="127.0.0.1") as server:
        address = server.extra(SocketAttribute.local_address)
        async with await anyio.create_connected_udp_socket(*address) as client:
            await client.send(b"ping")
            data, peer = await server.receive()
            assert data == b"ping"
            await server.sendto(b"pong", *peer)
            assert await client.receive() == b"pong"


async def test_unix_stream_and_datagram(tmp_path: Path) -> None:
    path = tmp_path / "stream.sock"
    listener = await anyio.create_unix_listener(path)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, _echo_upper)
        async with await anyio.connect_unix(path) as client:
            await client.send(b"unix")
            assert await client.receive() == b"UNIX"
        tg.cancel_scope.cancel()
    dgram = tmp_path / "dgram.sock"
    server = await anyio.create_unix_datagram_socket(local_path=dgram)
    client = await anyio.create_connected_unix_datagram_socket(dgram)
    async with server, client:
        await client.send(b"datagram")
        data, _sender = await server.receive()
        assert data == b"datagram"


async def test_tls_with_mutual_authentication(
    treadle_server_context: ssl.SSLContext, treadle_client_context: ssl.SSLContext
) -> None:
    treadle_server_context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS: the client must prove
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(SocketAttribute.local_port)
    listener = TLSListener(tcp, treadle_server_context)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, _echo_upper)
        raw = await anyio.connect_tcp("127.0.0.1", port)
        client = await TLSStream.wrap(raw, hostname="127.0.0.1", ssl_context=treadle_client_context)
        async with client:
            await client.send(b"secret")
            assert await client.receive() == b"SECRET"
        tg.cancel_scope.cancel()


async def test_wait_readable_and_notify_closing() -> None:
    a, b = socket.socketpair()
    with a, b:
        b.send(b"x")
        await anyio.wait_readable(a)
        assert a.recv(1) == b"x"

        async def wait() -> None:
            with pytest.raises(anyio.ClosedResourceError):
                await anyio.wait_readable(a)

        async with anyio.create_task_group() as tg:
            tg.start_soon(wait)
            await anyio.wait_all_tasks_blocked()
            anyio.notify_closing(a)


async def test_getaddrinfo_and_getnameinfo_on_literals() -> None:
    infos = await anyio.getaddrinfo("127.0.0.1", 80, type=socket.SOCK_STREAM)
    assert infos[0][4] == ("127.0.0.1", 80)
    host, _port = await anyio.getnameinfo(("127.0.0.1", 80), socket.NI_NUMERICHOST)
    assert host == "127.0.0.1"
