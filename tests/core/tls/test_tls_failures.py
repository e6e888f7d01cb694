"""TLS failures on asyncio's loop and treadle's: bad certificates, timeouts, garbage, resets.

The awaiting call raises what asyncio raises, the socket is closed (the suite's fd tripwire
checks), and nothing hangs: every wait is bounded by a small ssl_*_timeout or the body timeout.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import pytest
from peers import blocking_peer, machine_handshake, reset, wait_closed
from stream_pairs import Endpoint, Loop, Recorder, run_body
from tls_support import Certs, connect_tls, in_thread, serve_tls

from treadle.core.tls import TLSMachine


async def handshake_error(
    loop: Loop, endpoint: Endpoint, server: ssl.SSLContext, client: ssl.SSLContext, **kw: object
) -> BaseException:
    tls_server = await serve_tls(loop, endpoint, Recorder, server)
    try:
        with pytest.raises((OSError, ssl.SSLError)) as caught:
            await connect_tls(
                loop, endpoint, Recorder, endpoint.address_of(tls_server), client, **kw
            )
        return caught.value
    finally:
        tls_server.close()
        await tls_server.wait_closed()


def test_wrong_hostname_fails_verification(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        exc = await handshake_error(
            loop, tcp_endpoint, certs.server, certs.client, server_hostname="wrong.example"
        )
        assert isinstance(exc, ssl.SSLCertVerificationError)
        assert "Hostname mismatch" in str(exc)

    run_body(loop, body)


def test_untrusted_ca_fails_verification(loop: Loop, endpoint: Endpoint, certs: Certs) -> None:
    async def body() -> None:
        exc = await handshake_error(loop, endpoint, certs.server, ssl.create_default_context())
        assert isinstance(exc, ssl.SSLCertVerificationError)
        assert "unable to get local issuer certificate" in str(exc)

    run_body(loop, body)


def test_expired_certificate_fails_verification(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        exc = await handshake_error(
            loop, tcp_endpoint, certs.expired_server_context(), certs.client
        )
        assert isinstance(exc, ssl.SSLCertVerificationError)
        assert "certificate has expired" in str(exc)

    run_body(loop, body)


def test_missing_client_certificate_is_refused(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    server_context = certs.client_cert_required_server_context()
    client_context = certs.client_context()
    # TLS 1.2: the server's verdict comes before the client's handshake ends, so the awaiting
    # call sees it (with TLS 1.3 the client is done first and learns it on its first read).
    client_context.maximum_version = ssl.TLSVersion.TLSv1_2

    async def body() -> None:
        exc = await handshake_error(loop, tcp_endpoint, server_context, client_context)
        # An asyncio server drops its alert (a reset here); treadle's sends it.
        assert isinstance(exc, (ssl.SSLError, ConnectionResetError))

    run_body(loop, body)


def test_mutual_tls_with_a_client_certificate(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    server_context = certs.client_cert_required_server_context()
    client_context = certs.client_context()
    certs.ca.issue_cert("client@example.org").configure_cert(client_context)

    async def body() -> None:
        accepted: list[Recorder] = []

        def factory() -> Recorder:
            accepted.append(Recorder())
            return accepted[-1]

        server = await serve_tls(loop, tcp_endpoint, factory, server_context)
        address = tcp_endpoint.address_of(server)
        transport, client = await connect_tls(loop, tcp_endpoint, Recorder, address, client_context)
        transport.write(b"hi")
        await accepted[0].received(2)
        peercert = accepted[0].transport.get_extra_info("peercert")
        assert peercert["subjectAltName"] == (("email", "client@example.org"),)
        transport.close()
        await client.lost
        await accepted[0].lost
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_handshake_timeout_aborts_the_connection(loop: Loop, certs: Certs) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)  # the kernel completes the TCP handshake; nobody speaks TLS

    async def body() -> None:
        with pytest.raises(ConnectionAbortedError) as caught:
            await loop.create_connection(
                Recorder, *silent.getsockname(), ssl=certs.client, ssl_handshake_timeout=0.2
            )
        assert str(caught.value) == (
            "SSL handshake is taking longer than 0.2 seconds: aborting the connection"
        )

    with silent:
        run_body(loop, body)


def test_server_handshake_timeout_closes_a_silent_client(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        server = await serve_tls(
            loop, tcp_endpoint, Recorder, certs.server, ssl_handshake_timeout=0.2
        )
        reader, writer = await asyncio.open_connection(*tcp_endpoint.address_of(server))
        started = time.monotonic()
        assert await reader.read() == b""  # the server gave up and closed
        assert time.monotonic() - started < 5
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_peer_that_never_answers_close_notify(loop: Loop, certs: Certs) -> None:
    release = threading.Event()

    def handle(conn: socket.socket) -> None:
        with certs.server.wrap_socket(conn, server_side=True):
            release.wait(10)  # never reads our close_notify, never sends one

    async def body() -> None:
        with blocking_peer(handle) as address:
            transport, client = await loop.create_connection(
                Recorder, *address, ssl=certs.client, ssl_shutdown_timeout=0.2
            )
            transport.close()
            exc = await client.lost
            release.set()
        assert isinstance(exc, TimeoutError)
        assert str(exc) == "SSL shutdown timed out"

    try:
        run_body(loop, body)
    finally:
        release.set()


def test_garbage_instead_of_tls_is_an_ssl_error(loop: Loop, certs: Certs) -> None:
    def handle(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        wait_closed(conn)

    async def body() -> None:
        with blocking_peer(handle) as address, pytest.raises(ssl.SSLError):
            await loop.create_connection(Recorder, *address, ssl=certs.client)

    run_body(loop, body)


def test_reset_during_the_handshake(loop: Loop, certs: Certs) -> None:
    def handle(conn: socket.socket) -> None:
        conn.recv(65536)  # the ClientHello
        reset(conn)

    async def body() -> None:
        with blocking_peer(handle) as address, pytest.raises(ConnectionResetError):
            await loop.create_connection(Recorder, *address, ssl=certs.client)

    run_body(loop, body)


def test_eof_during_the_handshake(loop: Loop, certs: Certs) -> None:
    def handle(conn: socket.socket) -> None:
        conn.recv(65536)
        conn.shutdown(socket.SHUT_WR)
        wait_closed(conn)

    async def body() -> None:
        with blocking_peer(handle) as address, pytest.raises(ConnectionResetError):
            await loop.create_connection(Recorder, *address, ssl=certs.client)

    run_body(loop, body)


def test_reset_in_the_middle_of_a_record(loop: Loop, certs: Certs) -> None:
    def handle(conn: socket.socket) -> None:
        machine = TLSMachine(certs.server, server_side=True)
        machine_handshake(conn, machine)
        machine.write(b"z" * 10000)
        record = machine.data_to_send()
        conn.sendall(record[: len(record) // 2])
        time.sleep(0.1)  # let the half record arrive on its own
        reset(conn)

    async def body() -> None:
        with blocking_peer(handle) as address:
            _, client = await loop.create_connection(Recorder, *address, ssl=certs.client)
            exc = await client.lost
        assert isinstance(exc, ConnectionResetError)
        assert bytes(client.data) == b""  # half a record is nothing

    run_body(loop, body)


def test_eof_without_close_notify_is_an_eof(loop: Loop, certs: Certs) -> None:
    def handle(conn: socket.socket) -> None:
        machine = TLSMachine(certs.server, server_side=True)
        machine_handshake(conn, machine)
        machine.write(b"last bytes")
        conn.sendall(machine.data_to_send())
        conn.shutdown(socket.SHUT_WR)  # a FIN, no close_notify
        wait_closed(conn)

    async def body() -> None:
        with blocking_peer(handle) as address:
            _, client = await loop.create_connection(Recorder, *address, ssl=certs.client)
            assert await client.lost is None
        assert bytes(client.data) == b"last bytes"
        assert client.events == ["made", "data", "eof", "lost"]

    run_body(loop, body)


def test_tls13_client_without_certificate_learns_on_its_first_read(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    server_context = certs.client_cert_required_server_context()
    client_context = certs.client_context()
    client_context.minimum_version = ssl.TLSVersion.TLSv1_3

    async def body() -> None:
        accepted: list[Recorder] = []

        def factory() -> Recorder:
            accepted.append(Recorder())
            return accepted[-1]

        server = await serve_tls(loop, tcp_endpoint, factory, server_context)
        address = tcp_endpoint.address_of(server)
        # TLS 1.3: the client's handshake is over before the server checks its certificate.
        transport, client = await connect_tls(loop, tcp_endpoint, Recorder, address, client_context)
        transport.write(b"anyone there?")
        exc = await client.lost
        # An asyncio server drops its alert (a plain EOF here); treadle's sends it.
        assert exc is None or isinstance(exc, ssl.SSLError)
        assert not accepted[0].events  # the server's protocol never saw the connection
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_cancelled_during_the_handshake_closes_the_socket(loop: Loop, certs: Certs) -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen(1)

    async def body() -> None:
        attempt = asyncio.ensure_future(
            loop.create_connection(Recorder, *silent.getsockname(), ssl=certs.client)
        )
        await asyncio.sleep(0.1)
        attempt.cancel()
        with pytest.raises(asyncio.CancelledError):
            await attempt
        # The fd tripwire after the test checks that the client socket was closed.

    with silent:
        run_body(loop, body)


def test_server_drops_a_client_that_fails_the_handshake(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        made: list[Recorder] = []

        def factory() -> Recorder:
            made.append(Recorder())
            return made[-1]

        server = await serve_tls(loop, tcp_endpoint, factory, certs.server)
        address = tcp_endpoint.address_of(server)
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect_tls(loop, tcp_endpoint, Recorder, address, ssl.create_default_context())
        # A good client afterwards is served as usual; the failed one never reached a protocol.
        transport, client = await connect_tls(loop, tcp_endpoint, Recorder, address, certs.client)
        transport.write(b"ok")
        await made[-1].received(2)
        assert [bool(protocol.events) for protocol in made] == [False, True]
        transport.close()
        await client.lost
        server.close()
        await server.wait_closed()

    run_body(loop, body)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_client_initiated_renegotiation_is_refused(
    loop: Loop, certs: Certs, tmp_path: Path
) -> None:
    # Python's ssl cannot start a renegotiation, `openssl s_client` can ("R" on its stdin).
    cafile = tmp_path / "ca.pem"
    certs.ca.cert_pem.write_to_path(str(cafile))

    def client(port: int) -> bytes:
        argv = ["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_2"]
        with subprocess.Popen(
            [*argv, "-CAfile", str(cafile)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        ) as process:
            assert process.stdin is not None
            for line in (b"hello\n", b"R\n"):
                process.stdin.write(line)
                process.stdin.flush()
                time.sleep(0.3)
            _, err = process.communicate(timeout=10)
        return err

    async def body() -> None:
        accepted: list[Recorder] = []

        def factory() -> Recorder:
            accepted.append(Recorder())
            return accepted[-1]

        server = await loop.create_server(factory, "127.0.0.1", 0, ssl=certs.server)
        port = server.sockets[0].getsockname()[1]
        err = await in_thread(client, port)
        assert b"no renegotiation" in err
        exc = await accepted[0].lost
        assert isinstance(exc, ssl.SSLError)  # the client's alert, once refused
        assert bytes(accepted[0].data) == b"hello\n"
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_records_split_at_every_boundary_are_reassembled(loop: Loop, certs: Certs) -> None:
    """A peer that trickles its TLS bytes (handshake included) in tiny random pieces."""
    rng = random.Random(8)
    payload = bytes(range(256)) * 80  # two records

    def trickle(conn: socket.socket, data: bytes) -> None:
        position = 0
        while position < len(data):
            size = rng.randrange(1, 40)
            conn.sendall(data[position : position + size])
            position += size
            time.sleep(0.0005)

    def handle(conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        machine = TLSMachine(certs.server, server_side=True)
        while not machine.handshake():
            trickle(conn, machine.data_to_send())
            data = conn.recv(65536)
            if not data:
                return  # the client gave up: its side of the test fails
            machine.feed(data)
        machine.write(payload)
        trickle(conn, machine.data_to_send())
        wait_closed(conn)

    async def body() -> None:
        with blocking_peer(handle) as address:
            transport, client = await loop.create_connection(Recorder, *address, ssl=certs.client)
            assert await client.received(len(payload)) == payload
            transport.abort()
            await client.lost

    run_body(loop, body)
