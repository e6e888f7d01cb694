"""create_unix_server and create_unix_connection: paths, stale files, abstract names, checks."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import sys
from typing import Any

import pytest
from stream_pairs import Endpoint, Loop, Recorder, run_body

PY313 = sys.version_info >= (3, 13)
linux_only = pytest.mark.skipif(sys.platform != "linux", reason="abstract sockets are Linux's")


def exists(path: str) -> bool:
    return os.path.exists(path)  # a stat: instant, so fine inside a test body


async def round_trip(loop: Loop, path: Any) -> None:
    transport, protocol = await loop.create_unix_connection(Recorder, path)
    transport.close()
    await protocol.lost


def test_stale_socket_file_is_replaced(loop: Loop, unix_endpoint: Endpoint) -> None:
    path = unix_endpoint.path
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(path)  # a server that died without cleaning up

    async def body() -> None:
        server = await loop.create_unix_server(Recorder, path)
        await round_trip(loop, path)
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_regular_file_in_the_way(loop: Loop, unix_endpoint: Endpoint) -> None:
    path = unix_endpoint.path
    with open(path, "w") as file:
        file.write("not a socket")

    async def body() -> None:
        with pytest.raises(OSError, match=r"is already in use$") as info:
            await loop.create_unix_server(Recorder, path)
        assert info.value.errno == errno.EADDRINUSE
        assert str(info.value) == f"[Errno {errno.EADDRINUSE}] Address {path!r} is already in use"

    run_body(loop, body)
    with open(path) as file:
        assert file.read() == "not a socket"  # never removed: it is not a socket


def test_close_removes_the_socket_file(
    loop: Loop, unix_endpoint: Endpoint, is_oracle: bool
) -> None:
    if is_oracle and not PY313:
        pytest.skip("asyncio before 3.13 leaves the file (no cleanup_socket)")
    path = unix_endpoint.path

    async def body() -> None:
        server = await loop.create_unix_server(Recorder, path)
        assert exists(path)
        server.close()
        await server.wait_closed()
        assert not exists(path)

    run_body(loop, body)


def test_cleanup_socket_false_keeps_the_file(
    loop: Loop, unix_endpoint: Endpoint, is_oracle: bool
) -> None:
    if is_oracle and not PY313:
        pytest.skip("cleanup_socket is 3.13")
    path = unix_endpoint.path

    async def body() -> None:
        server = await loop.create_unix_server(Recorder, path, cleanup_socket=False)
        server.close()
        await server.wait_closed()
        assert exists(path)

    run_body(loop, body)


def test_replaced_socket_file_is_not_removed(
    loop: Loop, unix_endpoint: Endpoint, is_oracle: bool
) -> None:
    if is_oracle and not PY313:
        pytest.skip("asyncio before 3.13 never removes the file")
    path = unix_endpoint.path

    async def body() -> None:
        first = await loop.create_unix_server(Recorder, path)
        second = await loop.create_unix_server(Recorder, path)  # removes the first's file
        first.close()
        await first.wait_closed()
        assert exists(path)  # the second server's file, left alone
        await round_trip(loop, path)
        second.close()
        await second.wait_closed()

    run_body(loop, body)


@linux_only
def test_abstract_namespace(loop: Loop, loop_kind: str) -> None:
    name = f"\0treadle-test-{os.getpid()}-{loop_kind}"

    async def body() -> None:
        server = await loop.create_unix_server(Recorder, name)
        # Linux reports abstract names as bytes.
        assert server.sockets[0].getsockname() == name.encode()  # type: ignore[attr-defined]
        await round_trip(loop, name)
        with pytest.raises(OSError, match=r"is already in use$") as info:
            await loop.create_unix_server(Recorder, name)
        assert str(info.value) == f"[Errno {errno.EADDRINUSE}] Address {name!r} is already in use"
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_pathlike_and_bytes_paths(loop: Loop, unix_endpoint: Endpoint) -> None:
    async def body() -> None:
        server = await loop.create_unix_server(Recorder, unix_endpoint.directory / "p.sock")
        await round_trip(loop, os.fsencode(unix_endpoint.directory / "p.sock"))
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_existing_unix_sockets(loop: Loop, unix_endpoint: Endpoint) -> None:
    async def body() -> None:
        listener = socket.socket(socket.AF_UNIX)
        listener.bind(unix_endpoint.path)
        server = await loop.create_unix_server(Recorder, sock=listener)
        client = socket.socket(socket.AF_UNIX)
        client.connect(unix_endpoint.path)
        transport, protocol = await loop.create_unix_connection(Recorder, sock=client)
        assert transport.get_extra_info("peername") == unix_endpoint.path
        transport.close()
        await protocol.lost
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_connect_to_a_missing_path(loop: Loop, unix_endpoint: Endpoint) -> None:
    async def body() -> None:
        with pytest.raises(FileNotFoundError):
            await loop.create_unix_connection(Recorder, unix_endpoint.path)

    run_body(loop, body)


def test_argument_errors(loop: Loop, unix_endpoint: Endpoint) -> None:
    async def body() -> None:
        async def client_error(*args: Any, **kwargs: Any) -> str:
            with pytest.raises((ValueError, TypeError)) as info:
                await loop.create_unix_connection(Recorder, *args, **kwargs)
            return f"{type(info.value).__name__}: {info.value}"

        async def server_error(*args: Any, **kwargs: Any) -> str:
            with pytest.raises((ValueError, TypeError)) as info:
                await loop.create_unix_server(Recorder, *args, **kwargs)
            return f"{type(info.value).__name__}: {info.value}"

        with socket.socket(socket.AF_UNIX) as unix, socket.socket() as tcp:
            assert await client_error(unix_endpoint.path, sock=unix) == (
                "ValueError: path and sock can not be specified at the same time"
            )
            assert await client_error() == "ValueError: no path and sock were specified"
            assert await client_error(sock=tcp) == (
                f"ValueError: A UNIX Domain Stream Socket was expected, got {tcp!r}"
            )
            assert await server_error(unix_endpoint.path, sock=unix) == (
                "ValueError: path and sock can not be specified at the same time"
            )
            assert await server_error() == (
                "ValueError: path was not specified, and no sock specified"
            )
            assert await server_error(sock=tcp) == (
                f"ValueError: A UNIX Domain Stream Socket was expected, got {tcp!r}"
            )
        assert await client_error(unix_endpoint.path, server_hostname="x") == (
            "ValueError: server_hostname is only meaningful with ssl"
        )
        assert await client_error(unix_endpoint.path, ssl_handshake_timeout=1) == (
            "ValueError: ssl_handshake_timeout is only meaningful with ssl"
        )
        assert await server_error(unix_endpoint.path, ssl=True) == (
            "TypeError: ssl argument must be an SSLContext or None"
        )
        assert await server_error(unix_endpoint.path, ssl_shutdown_timeout=1) == (
            "ValueError: ssl_shutdown_timeout is only meaningful with ssl"
        )

    run_body(loop, body)


def test_unix_server_with_clients_survives_close(loop: Loop, unix_endpoint: Endpoint) -> None:
    async def body() -> None:
        accepted: asyncio.Future[Recorder] = loop.create_future()

        def factory() -> Recorder:
            protocol = Recorder()
            accepted.set_result(protocol)
            return protocol

        server = await unix_endpoint.serve(loop, factory)
        transport, protocol = await unix_endpoint.connect(
            loop, Recorder, unix_endpoint.address_of(server)
        )
        await (await accepted).made  # asyncio accepts in a task: let it attach first
        server.close()
        transport.write(b"still connected")
        await asyncio.sleep(0.01)
        assert not protocol.lost.done()
        transport.close()
        await protocol.lost
        await server.wait_closed()

    run_body(loop, body)
