"""The pure-Python floor for stream echo: a bare epoll loop, no event loop library at all.

Context for the echo rows, not a competitor: it accepts, receives and sends with the fewest
Python operations a level-triggered epoll server can make (one ``epoll.poll`` per batch, then
``recv`` and ``send`` per ready socket), so a loop's distance to it is what its abstractions
cost. It serves stream transports (TCP, Unix, and TLS over TCP); the runner does not measure
it elsewhere.

With TLS each accepted socket is wrapped in an ``ssl.SSLSocket`` (OpenSSL reads and writes the
socket itself, in C: no memory BIOs, no transport), so it is also the fastest a Python TLS
server can be, and with it the echo clients' own ceiling on a machine with few cores.
"""

from __future__ import annotations

import select
import socket
import ssl
import time

_READ = select.EPOLLIN
# One receive buffer for every connection, as the loops under test keep: recv(256 KiB) would
# allocate (and with glibc, mmap and unmap) that much per call.
_BUFFER = bytearray(256 * 1024)
_VIEW = memoryview(_BUFFER)


def serve(
    listener: socket.socket,
    connections: int,
    timeout: float,
    context: ssl.SSLContext | None = None,
) -> None:
    """Echo on every connection until ``connections`` clients have connected and closed.

    With ``context``, every connection is a TLS server connection made from it.
    """
    listener.setblocking(False)
    listening = listener.fileno()
    poller = select.epoll()
    peers: dict[int, socket.socket] = {}
    accepted = 0
    deadline = time.monotonic() + timeout
    try:
        poller.register(listening, _READ)
        while accepted < connections or peers:
            if time.monotonic() > deadline:
                raise TimeoutError("echo floor: clients did not finish in time")
            for fd, _ in poller.poll(1.0):
                if fd == listening:
                    accepted += _accept(listener, poller, peers, context)
                else:
                    _echo(peers, poller, fd)
    finally:
        for peer in peers.values():
            peer.close()
        poller.close()


def _accept(
    listener: socket.socket,
    poller: select.epoll,
    peers: dict[int, socket.socket],
    context: ssl.SSLContext | None,
) -> int:
    try:
        peer, _ = listener.accept()
    except BlockingIOError:
        return 0
    if peer.family in (socket.AF_INET, socket.AF_INET6):
        peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if context is not None:
        # Clients connect before the timed span: a blocking handshake here costs no timed work.
        peer.settimeout(10.0)
        peer = context.wrap_socket(peer, server_side=True)
    peer.setblocking(False)
    peers[peer.fileno()] = peer
    poller.register(peer.fileno(), _READ)
    return 1


def _echo(peers: dict[int, socket.socket], poller: select.epoll, fd: int) -> None:
    peer = peers[fd]
    while True:
        try:
            size = peer.recv_into(_BUFFER)
        except (BlockingIOError, ssl.SSLWantReadError):
            return  # (TLS: only part of a record has arrived)
        if not size:
            poller.unregister(fd)
            del peers[fd]
            peer.close()
            return
        _send(peer, size)
        # A TLS socket hands out one record at a time: epoll does not see what OpenSSL holds.
        if not isinstance(peer, ssl.SSLSocket) or not peer.pending():
            return


def _send(peer: socket.socket, size: int) -> None:
    try:
        sent = peer.send(_VIEW[:size])
    except ssl.SSLWantWriteError:
        sent = 0
    if sent < size:
        # Rare on loopback: finish blocking, since a client reads its whole echo before writing.
        peer.setblocking(True)
        peer.sendall(_VIEW[sent:size])
        peer.setblocking(False)
