"""The pure-Python floor for stream echo: a bare epoll loop, no event loop library at all.

Context for the echo rows, not a competitor: it accepts, receives and sends with the fewest
Python operations a level-triggered epoll server can make (one ``epoll.poll`` per batch, then
``recv`` and ``send`` per ready socket), so a loop's distance to it is what its abstractions
cost. It serves stream transports (TCP, Unix); the runner does not measure it elsewhere.
"""

from __future__ import annotations

import select
import socket
import time

_READ = select.EPOLLIN
# One receive buffer for every connection, as the loops under test keep: recv(256 KiB) would
# allocate (and with glibc, mmap and unmap) that much per call.
_BUFFER = bytearray(256 * 1024)
_VIEW = memoryview(_BUFFER)


def serve(listener: socket.socket, connections: int, timeout: float) -> None:
    """Echo on every connection until ``connections`` clients have connected and closed."""
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
                    accepted += _accept(listener, poller, peers)
                else:
                    _echo(peers, poller, fd)
    finally:
        for peer in peers.values():
            peer.close()
        poller.close()


def _accept(listener: socket.socket, poller: select.epoll, peers: dict[int, socket.socket]) -> int:
    try:
        peer, _ = listener.accept()
    except BlockingIOError:
        return 0
    peer.setblocking(False)
    if peer.family in (socket.AF_INET, socket.AF_INET6):
        peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    peers[peer.fileno()] = peer
    poller.register(peer.fileno(), _READ)
    return 1


def _echo(peers: dict[int, socket.socket], poller: select.epoll, fd: int) -> None:
    peer = peers[fd]
    try:
        size = peer.recv_into(_BUFFER)
    except BlockingIOError:
        return
    if not size:
        poller.unregister(fd)
        del peers[fd]
        peer.close()
        return
    sent = peer.send(_VIEW[:size])
    if sent < size:
        # Rare on loopback: finish blocking, since a client reads its whole echo before writing.
        peer.setblocking(True)
        peer.sendall(_VIEW[sent:size])
        peer.setblocking(False)
