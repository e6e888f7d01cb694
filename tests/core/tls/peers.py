"""Blocking peers in a thread for the TLS tests: real sockets, misbehaving on purpose.

Each peer listens on 127.0.0.1 port 0, serves one connection in a thread, and is joined and
closed by its context manager, so no thread or fd outlives a test.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import struct
import threading
from collections.abc import Callable, Iterator

from treadle.core.tls import TLSMachine

Handler = Callable[[socket.socket], None]


@contextlib.contextmanager
def blocking_peer(handler: Handler, *, timeout: float = 10.0) -> Iterator[tuple[str, int]]:
    """Serve one connection with ``handler`` in a thread; yield the address to connect to."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(timeout)
    errors: list[BaseException] = []

    def serve() -> None:
        try:
            conn, _ = listener.accept()
        except OSError as exc:
            errors.append(exc)
            return
        with conn:
            conn.settimeout(timeout)
            try:
                handler(conn)
            except (OSError, ssl.SSLError):
                pass  # the loop side ended it first: what the test checks happens over there

    thread = threading.Thread(target=serve, name="tls-peer")
    thread.start()
    try:
        yield listener.getsockname()
    finally:
        thread.join(timeout + 5)
        listener.close()
    assert not errors, errors


def reset(conn: socket.socket) -> None:
    """Close with RST instead of FIN."""
    conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def machine_handshake(conn: socket.socket, machine: TLSMachine) -> None:
    """Complete a TLS handshake over a blocking socket with a TLSMachine."""
    while not machine.handshake():
        conn.sendall(machine.data_to_send())
        data = conn.recv(65536)
        if not data:
            raise ConnectionResetError("peer left during the handshake")
        machine.feed(data)
    conn.sendall(machine.data_to_send())


def wait_closed(conn: socket.socket) -> None:
    """Read until the other side closes; drop what arrives."""
    with contextlib.suppress(OSError):
        while conn.recv(65536):
            pass


def echo_tls_server(context: ssl.SSLContext) -> Handler:
    """A blocking ssl server: echo until close_notify, then answer it."""

    def handle(conn: socket.socket) -> None:
        with context.wrap_socket(conn, server_side=True) as tls:
            while data := tls.recv(65536):
                tls.sendall(data)
            tls.unwrap()

    return handle
