"""TLSMachine with plain bytes: two machines talk to each other, no loop and no socket."""

from __future__ import annotations

import ssl

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tls_support import Certs

from treadle.core.tls import TLSMachine, TLSState


def machines(
    certs: Certs, client_context: ssl.SSLContext | None = None
) -> tuple[TLSMachine, TLSMachine]:
    client = TLSMachine(client_context or certs.client, server_hostname="127.0.0.1")
    server = TLSMachine(certs.server, server_side=True)
    return client, server


def shuttle(a: TLSMachine, b: TLSMachine) -> bool:
    """Move whatever each side has to send to the other; True if any byte moved."""
    moved = False
    for src, dst in ((a, b), (b, a)):
        data = src.data_to_send()
        if data:
            dst.feed(data)
            moved = True
    return moved


def handshake(client: TLSMachine, server: TLSMachine) -> None:
    done = {id(client): False, id(server): False}
    for _ in range(10):
        for machine in (client, server):
            done[id(machine)] = machine.handshake()
        if not shuttle(client, server) and all(done.values()):
            return
    raise AssertionError("handshake did not finish")


def read_all(machine: TLSMachine) -> bytes:
    buffer = memoryview(bytearray(256 * 1024))
    out = bytearray()
    while count := machine.read_into(buffer):
        out += buffer[:count]
    return bytes(out)


def test_handshake_completes_and_data_flows_both_ways(certs: Certs) -> None:
    client, server = machines(certs)
    handshake(client, server)
    assert client.state is server.state is TLSState.OPEN
    assert client.ssl_object.getpeercert()
    client.write(b"ping")
    shuttle(client, server)
    assert read_all(server) == b"ping"
    server.write(b"pong" * 10000)
    shuttle(client, server)
    assert read_all(client) == b"pong" * 10000


def test_writes_before_the_handshake_are_queued_in_order(certs: Certs) -> None:
    client, server = machines(certs)
    client.write(b"early ")
    client.writelines([b"and ", b"ordered"])
    assert client.queued_size == len(b"early and ordered")
    handshake(client, server)
    assert client.queued_size == 0
    client.write(b"; late")
    shuttle(client, server)
    assert read_all(server) == b"early and ordered; late"


def test_data_piggy_backed_on_the_last_handshake_record_is_kept(certs: Certs) -> None:
    client, server = machines(certs)
    client.handshake()  # ClientHello
    shuttle(client, server)
    server.handshake()  # ServerHello .. Finished
    shuttle(client, server)
    assert client.handshake()  # client Finished; now send data in the same flight
    client.write(b"right behind the Finished")
    server.feed(client.data_to_send())
    assert server.handshake()
    assert server.has_input()
    assert read_all(server) == b"right behind the Finished"


def test_close_notify_both_orders(certs: Certs) -> None:
    client, server = machines(certs)
    handshake(client, server)
    client.write(b"last words")
    assert client.shutdown() is False
    assert client.state is TLSState.CLOSING
    shuttle(client, server)
    assert read_all(server) == b"last words"
    assert server.state is TLSState.PEER_CLOSED
    assert server.shutdown() is True
    assert server.state is TLSState.CLOSED
    shuttle(client, server)
    assert client.shutdown() is True
    assert client.state is TLSState.CLOSED


def test_application_data_after_close_notify_fails_the_shutdown(certs: Certs) -> None:
    client, server = machines(certs)
    handshake(client, server)
    client.shutdown()
    server.write(b"too late")
    shuttle(client, server)
    with pytest.raises(ssl.SSLError, match="APPLICATION_DATA_AFTER_CLOSE_NOTIFY"):
        client.shutdown()
    assert client.state is TLSState.CLOSED


def test_untrusted_certificate_fails_with_verification_error(certs: Certs) -> None:
    client, server = machines(certs, ssl.create_default_context())
    client.handshake()
    shuttle(client, server)
    server.handshake()
    shuttle(client, server)
    with pytest.raises(ssl.SSLCertVerificationError):
        client.handshake()
    assert client.state is TLSState.CLOSED
    alert = client.data_to_send()
    assert alert  # the alert for the server
    server.feed(alert)
    with pytest.raises(ssl.SSLError, match="unknown ca"):
        server.handshake()


def test_garbage_instead_of_tls_is_an_ssl_error(certs: Certs) -> None:
    client, _ = machines(certs)
    client.handshake()
    client.feed(b"HTTP/1.1 400 Bad Request\r\n\r\n")
    with pytest.raises(ssl.SSLError):
        client.handshake()


def test_abort_drops_queued_plaintext(certs: Certs) -> None:
    client, _ = machines(certs)
    client.write(b"never sent")
    client.abort()
    assert client.state is TLSState.CLOSED
    assert client.queued_size == 0
    assert client.shutdown() is True


def test_shutdown_during_handshake_is_refused(certs: Certs) -> None:
    client, _ = machines(certs)
    with pytest.raises(ValueError, match="before the handshake"):
        client.shutdown()


@settings(max_examples=25, deadline=None)
@given(
    chunk_sizes=st.lists(st.integers(min_value=1, max_value=3000), min_size=1, max_size=30),
    payload=st.binary(min_size=1, max_size=40_000),
)
def test_any_record_chunking_decrypts_byte_exact(
    certs: Certs, chunk_sizes: list[int], payload: bytes
) -> None:
    client, server = machines(certs)
    handshake(client, server)
    client.write(payload)
    wire = client.data_to_send()
    received = bytearray()
    buffer = memoryview(bytearray(1000))  # smaller than a record: read_into fills and resumes
    position = 0
    index = 0
    while position < len(wire):
        size = chunk_sizes[index % len(chunk_sizes)]
        index += 1
        server.feed(wire[position : position + size])
        position += size
        while count := server.read_into(buffer):
            received += buffer[:count]
    assert bytes(received) == payload
