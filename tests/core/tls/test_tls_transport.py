"""TLS transports on asyncio's loop and treadle's: the same bodies, real TLS with trustme.

Each test runs on every loop kind (the ``loop`` fixture); the ones about the byte stream also
run over TCP/IPv4, TCP/IPv6 and Unix sockets (``endpoint``). If asyncio fails one, the test is
wrong.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from pathlib import Path
from typing import Any

import pytest
from stream_pairs import Endpoint, Loop, Recorder, run_body
from tls_support import Certs, connect_tls, serve_tls, tls_pair


class BufferedRecorder(asyncio.BufferedProtocol, Recorder):
    """A Recorder that receives through get_buffer()/buffer_updated()."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer = bytearray(1000)  # smaller than a record: several calls per record

    def get_buffer(self, sizehint: int) -> memoryview:
        # A memoryview: asyncio's TLS reads into buf[offset:], which copies a bytearray.
        return memoryview(self.buffer)

    def buffer_updated(self, nbytes: int) -> None:
        self.data += self.buffer[:nbytes]
        self._note("data")


def test_bytes_arrive_in_order_both_ways(loop: Loop, endpoint: Endpoint, certs: Certs) -> None:
    async def body() -> None:
        async with tls_pair(loop, endpoint, certs) as pair:
            sent = b"".join(bytes([i % 251]) * (i * 37 % 3000 + 1) for i in range(300))
            for start in range(0, len(sent), 7000):
                pair.client_transport.write(sent[start : start + 7000])
            assert await pair.accepted.received(len(sent)) == sent
            pair.server_transport.writelines([b"one ", bytearray(b"two "), memoryview(b"three")])
            assert await pair.client.received(13) == b"one two three"

    run_body(loop, body)


def test_connection_made_after_the_handshake_with_tls_extra_info(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs) as pair:
            for transport, peer_has_cert in (
                (pair.client_transport, True),
                (pair.server_transport, False),
            ):
                assert pair.client.events[0] == "made"
                ssl_object = transport.get_extra_info("ssl_object")
                assert isinstance(ssl_object, ssl.SSLObject)
                assert ssl_object.version() in ("TLSv1.2", "TLSv1.3")
                peercert = transport.get_extra_info("peercert")
                assert bool(peercert) is peer_has_cert
                assert transport.get_extra_info("cipher") == ssl_object.cipher()
                assert transport.get_extra_info("compression") is None
                assert isinstance(transport.get_extra_info("sslcontext"), ssl.SSLContext)
                assert isinstance(
                    transport.get_extra_info("socket"), asyncio.trsock.TransportSocket
                )
                assert transport.get_extra_info("peername")[0] == "127.0.0.1"
                assert transport.get_extra_info("sockname")[0] == "127.0.0.1"
                assert transport.get_extra_info("nonexistent", "default") == "default"
            assert pair.client_transport.get_extra_info("peercert")["subjectAltName"][0] == (
                "IP Address",
                "127.0.0.1",
            )

    run_body(loop, body)


def test_close_sends_close_notify_after_the_data(
    loop: Loop, endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        async with tls_pair(loop, endpoint, certs) as pair:
            pair.client_transport.write(b"x" * 100_000)
            pair.client_transport.close()
            assert pair.client_transport.is_closing()
            pair.client_transport.write(b"dropped")  # after close(): dropped, as asyncio does
            assert await pair.accepted.lost is None
            assert bytes(pair.accepted.data) == b"x" * 100_000
            assert pair.accepted.events == ["made", "data", "eof", "lost"]
            assert await pair.client.lost is None
            assert pair.client.events[-1] == "lost"

    run_body(loop, body)


def test_abort_sends_no_close_notify_and_the_peer_sees_eof(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs) as pair:
            pair.client_transport.write(b"before abort")
            await pair.accepted.received(12)
            pair.client_transport.abort()
            assert await pair.client.lost is None
            # A TCP close without close_notify: asyncio reports it as an EOF, then the loss.
            assert await pair.accepted.lost is None
            assert pair.accepted.events == ["made", "data", "eof", "lost"]

    run_body(loop, body)


def test_write_eof_is_not_supported(loop: Loop, tcp_endpoint: Endpoint, certs: Certs) -> None:
    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs) as pair:
            transport = pair.client_transport
            assert transport.can_write_eof() is False
            with pytest.raises(NotImplementedError):
                transport.write_eof()
            with pytest.raises(TypeError, match="data: expecting a bytes-like instance, got str"):
                transport.write("text")

    run_body(loop, body)


def test_write_buffer_limits_default_and_validation(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs) as pair:
            transport = pair.client_transport
            assert transport.get_write_buffer_limits() == (128 * 1024, 512 * 1024)
            transport.set_write_buffer_limits(high=1000)
            assert transport.get_write_buffer_limits() == (250, 1000)
            transport.set_write_buffer_limits(low=100)
            assert transport.get_write_buffer_limits() == (100, 400)
            with pytest.raises(ValueError, match=r"high \(1\) must be >= low \(2\) must be >= 0"):
                transport.set_write_buffer_limits(high=1, low=2)
            assert transport.get_write_buffer_size() == 0

    run_body(loop, body)


def test_writer_pauses_and_resumes_with_the_encrypted_backlog(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs) as pair:
            pair.server_transport.pause_reading()
            transport = pair.client_transport
            transport.set_write_buffer_limits(high=64 * 1024)
            chunk = b"y" * 65536
            written = 0
            while "pause_writing" not in pair.client.events:
                transport.write(chunk)
                written += len(chunk)
                assert written < 512 * 1024 * 1024, "never paused"
            assert transport.get_write_buffer_size() > 64 * 1024
            pair.server_transport.resume_reading()
            await pair.client.wait_for(lambda: "resume_writing" in pair.client.events)
            assert transport.get_write_buffer_size() <= 16 * 1024
            assert await pair.accepted.received(written) == chunk * (written // len(chunk))

    run_body(loop, body)


def test_pause_reading_holds_data_until_resume(
    loop: Loop, endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        async with tls_pair(loop, endpoint, certs) as pair:
            pair.server_transport.pause_reading()
            assert not pair.server_transport.is_reading()
            pair.client_transport.write(b"held")
            await asyncio.sleep(0.05)
            assert bytes(pair.accepted.data) == b""
            pair.server_transport.resume_reading()
            assert pair.server_transport.is_reading()
            assert await pair.accepted.received(4) == b"held"

    run_body(loop, body)


def test_buffered_protocol_over_tls(loop: Loop, tcp_endpoint: Endpoint, certs: Certs) -> None:
    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs, server_protocol=BufferedRecorder) as pair:
            payload = bytes(range(256)) * 400
            pair.client_transport.write(payload)
            assert await pair.accepted.received(len(payload)) == payload

    run_body(loop, body)


def test_streams_with_ssl_and_start_tls(loop: Loop, certs: Certs) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert await reader.readline() == b"STARTTLS\n"
        writer.write(b"OK\n")
        await writer.drain()
        await writer.start_tls(certs.server)
        assert writer.get_extra_info("ssl_object") is not None
        line = await reader.readline()
        writer.write(line.upper())
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def body() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"STARTTLS\n")
        assert await reader.readline() == b"OK\n"
        await writer.start_tls(certs.client, server_hostname="127.0.0.1")
        writer.write(b"secret\n")
        assert await reader.readline() == b"SECRET\n"
        assert await reader.read() == b""
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_open_connection_and_start_server_with_ssl(loop: Loop, certs: Certs) -> None:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write((await reader.readexactly(5))[::-1])
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    async def body() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=certs.server)
        port = server.sockets[0].getsockname()[1]
        reader, writer = await asyncio.open_connection("127.0.0.1", port, ssl=certs.client)
        writer.write(b"hello")
        assert await reader.read() == b"olleh"
        writer.close()
        await writer.wait_closed()
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_start_tls_argument_errors(loop: Loop, tcp_endpoint: Endpoint, certs: Certs) -> None:
    async def body() -> None:
        server = await loop.create_server(Recorder, "127.0.0.1", 0)
        address = server.sockets[0].getsockname()
        transport, protocol = await loop.create_connection(Recorder, *address)
        with pytest.raises(TypeError, match="sslcontext is expected to be an instance of"):
            await loop.start_tls(transport, protocol, True)  # type: ignore[arg-type]
        udp, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        with pytest.raises(TypeError, match="is not supported by start_tls"):
            await loop.start_tls(udp, protocol, certs.client)
        udp.close()
        transport.close()
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_timeout_arguments_are_checked(loop: Loop, certs: Certs) -> None:
    # With sock=: asyncio checks the timeouts only once connected, and then leaks a socket it
    # created itself (3.13.0), so the test passes one it owns.
    async def body() -> None:
        for name, value in (("ssl_handshake_timeout", 0), ("ssl_shutdown_timeout", -1)):
            left, right = socket.socketpair()
            with left, right:
                message = f"{name} should be a positive number, got {value}"
                with pytest.raises(ValueError, match=message):
                    await loop.create_connection(
                        Recorder,
                        sock=left,
                        ssl=certs.client,
                        server_hostname="127.0.0.1",
                        **{name: value},
                    )

    run_body(loop, body)


def test_accepted_socket_needs_a_server_context(loop: Loop) -> None:
    async def body() -> None:
        left, right = socket.socketpair()
        with (
            left,
            right,
            pytest.raises(ValueError, match="Server side SSL needs a valid SSLContext"),
        ):
            await loop.connect_accepted_socket(Recorder, left, ssl=True)

    run_body(loop, body)


def test_sendfile_over_tls_falls_back_to_copying(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs, tmp_path: Path
) -> None:
    payload = bytes(range(256)) * 1000
    path = tmp_path / "file.bin"
    path.write_bytes(payload)

    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs) as pair:
            with path.open("rb") as file:
                with pytest.raises(RuntimeError, match="fallback is disabled"):
                    await loop.sendfile(pair.client_transport, file, fallback=False)
                sent = await loop.sendfile(pair.client_transport, file, 10)
                assert sent == len(payload) - 10
                assert file.tell() == len(payload)
            assert await pair.accepted.received(sent) == payload[10:]
            pair.client_transport.write(b"after")
            assert (await pair.accepted.received(sent + 5))[-5:] == b"after"

    run_body(loop, body)


def test_unix_connection_over_tls_needs_server_hostname(
    loop: Loop, certs: Certs, tmp_path: Path
) -> None:
    async def body() -> None:
        with pytest.raises(ValueError, match="you have to pass server_hostname when using ssl"):
            await loop.create_unix_connection(Recorder, str(tmp_path / "x.sock"), ssl=certs.client)

    run_body(loop, body)


def test_ssl_true_uses_the_default_context(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    # The default context does not trust the test CA: verification fails, as with asyncio.
    async def body() -> None:
        server = await serve_tls(loop, tcp_endpoint, Recorder, certs.server)
        address = tcp_endpoint.address_of(server)
        with pytest.raises(ssl.SSLCertVerificationError):
            await connect_tls(loop, tcp_endpoint, Recorder, address, True)
        server.close()
        await server.wait_closed()

    run_body(loop, body)


def test_connect_accepted_socket_with_ssl(loop: Loop, certs: Certs) -> None:
    async def body() -> None:
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.setblocking(False)
        with listener:
            connecting = asyncio.ensure_future(
                loop.create_connection(Recorder, *listener.getsockname(), ssl=certs.client)
            )
            conn, _ = await loop.sock_accept(listener)
            transport, accepted = await loop.connect_accepted_socket(
                Recorder, conn, ssl=certs.server
            )
            client_transport, client = await connecting
            client_transport.write(b"accepted")
            assert await accepted.received(8) == b"accepted"
            transport.close()
            assert await client.lost is None
            assert await accepted.lost is None

    run_body(loop, body)


def test_server_close_clients_ends_tls_connections(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    if not hasattr(asyncio.Server, "close_clients"):
        pytest.skip("Server.close_clients() is 3.13+ in asyncio")

    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs) as pair:
            pair.server.close()
            pair.server.close_clients()  # type: ignore[attr-defined]
            assert await pair.accepted.lost is None
            assert await pair.client.lost is None
            await pair.server.wait_closed()

    run_body(loop, body)


def test_alpn_and_sni(loop: Loop, tcp_endpoint: Endpoint, certs: Certs) -> None:
    server_context = certs.server_context()
    server_context.set_alpn_protocols(["h2", "http/1.1"])
    names: list[str | None] = []

    def sni(sslobj: Any, name: str | None, context: ssl.SSLContext) -> None:
        names.append(name)

    server_context.sni_callback = sni
    client_context = certs.client_context()
    client_context.set_alpn_protocols(["http/1.1"])

    async def body() -> None:
        server = await serve_tls(loop, tcp_endpoint, Recorder, server_context)
        address = tcp_endpoint.address_of(server)
        transport, client = await connect_tls(
            loop, tcp_endpoint, Recorder, address, client_context, server_hostname="127.0.0.1"
        )
        assert transport.get_extra_info("ssl_object").selected_alpn_protocol() == "http/1.1"
        transport.close()
        await client.lost
        server.close()
        await server.wait_closed()
        # An IP address is never sent as SNI (RFC 6066): the callback sees no name.
        assert names == [None]

    run_body(loop, body)


class FailingPause(Recorder):
    def pause_writing(self) -> None:
        super().pause_writing()
        raise LookupError("pause refused")


def test_pause_writing_error_goes_to_the_exception_handler(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs, exception_contexts: list[dict[str, Any]]
) -> None:
    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs, client_protocol=FailingPause) as pair:
            pair.server_transport.pause_reading()
            transport = pair.client_transport
            transport.set_write_buffer_limits(high=16 * 1024)
            while "pause_writing" not in pair.client.events:
                transport.write(b"w" * 65536)
            assert [context["message"] for context in exception_contexts] == [
                "protocol.pause_writing() failed"
            ]
            assert isinstance(exception_contexts[0]["exception"], LookupError)

    run_body(loop, body)


class FailingReceiver(Recorder):
    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        raise LookupError("cannot take it")


def test_data_received_error_is_fatal_and_reported(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs, exception_contexts: list[dict[str, Any]]
) -> None:
    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs, server_protocol=FailingReceiver) as pair:
            pair.client_transport.write(b"boom")
            exc = await pair.accepted.lost
            assert isinstance(exc, LookupError)
            assert [context["message"] for context in exception_contexts] == [
                "Fatal error on SSL protocol"
            ]
            assert await pair.client.lost is None  # the peer sees the connection end

    run_body(loop, body)


def test_tls_in_debug_mode(loop: Loop, tcp_endpoint: Endpoint, certs: Certs) -> None:
    loop.set_debug(True)
    loop.slow_callback_duration = 10.0  # the handshake's crypto is not what is tested here

    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs) as pair:
            assert "TLS" in repr(pair.client_transport) or "SSL" in repr(pair.client_transport)
            pair.client_transport.write(b"debug")
            assert await pair.accepted.received(5) == b"debug"
            pair.client_transport.close()
            assert await pair.client.lost is None

    run_body(loop, body)


def test_tls13_session_tickets_arrive_after_the_handshake(
    loop: Loop, tcp_endpoint: Endpoint, certs: Certs
) -> None:
    async def body() -> None:
        async with tls_pair(loop, tcp_endpoint, certs) as pair:
            pair.server_transport.write(b"ticket follows")
            await pair.client.received(14)
            ssl_object = pair.client_transport.get_extra_info("ssl_object")
            assert ssl_object.version() == "TLSv1.3"
            # The server's NewSessionTicket messages came after the handshake, with the data.
            assert ssl_object.session is not None
            assert ssl_object.session.has_ticket

    run_body(loop, body)


def test_server_timeouts_are_checked_at_once(loop: Loop, certs: Certs, is_oracle: bool) -> None:
    if is_oracle:
        pytest.skip("asyncio raises it for each accepted connection, where nobody sees it")

    async def body() -> None:
        with pytest.raises(ValueError, match="ssl_handshake_timeout should be a positive number"):
            await loop.create_server(
                Recorder, "127.0.0.1", 0, ssl=certs.server, ssl_handshake_timeout=0
            )
        with pytest.raises(ValueError, match="ssl_shutdown_timeout should be a positive number"):
            await loop.create_server(
                Recorder, "127.0.0.1", 0, ssl=certs.server, ssl_shutdown_timeout=-1.5
            )

    run_body(loop, body)
