"""The pure-Python floor for stream echo: a bare epoll loop, no event loop library at all.

Context for the echo rows, not a competitor: it accepts, receives and sends with the fewest
Python operations a level-triggered epoll server can make (one ``epoll.poll`` per batch, then
``recv`` and ``send`` per ready socket), so a loop's distance to it is what its abstractions
cost. It serves stream transports (TCP, Unix, and TLS over TCP); the runner does not measure
it elsewhere.

With TLS each connection runs the TLS work a memory-BIO event loop does, and nothing else: one
``recv_into`` per readiness, the ciphertext into an incoming ``ssl.MemoryBIO``, every complete
record decrypted into the shared buffer, the plaintext encrypted back from that buffer (no
``bytes`` copy for a protocol), one ``send`` of the outgoing BIO's records. The handshake is
done blocking at accept time, before the timed span. So a loop's distance to it on the TLS rows
is what the loop, its transports and its TLS glue cost. (An ``ssl.SSLSocket`` is not a floor:
OpenSSL reads the record header and body with two ``recv`` calls and sends one record per
``send``.)
"""

from __future__ import annotations

import select
import socket
import ssl
import time
from typing import Any

_READ = select.EPOLLIN
# One receive buffer for every connection, as the loops under test keep: recv(256 KiB) would
# allocate (and with glibc, mmap and unmap) that much per call.
_BUFFER = bytearray(256 * 1024)
_VIEW = memoryview(_BUFFER)
_SIZE = len(_BUFFER)
# With memory BIOs these only mean "no complete record yet".
_AGAIN = (ssl.SSLWantReadError, ssl.SSLSyscallError)


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
    sessions: dict[int, _TLSSession] = {}  # with TLS: each peer's memory BIOs and SSLObject
    accepted = 0
    deadline = time.monotonic() + timeout
    try:
        poller.register(listening, _READ)
        while accepted < connections or peers:
            if time.monotonic() > deadline:
                raise TimeoutError("echo floor: clients did not finish in time")
            for fd, _ in poller.poll(1.0):
                if fd == listening:
                    accepted += _accept(listener, poller, peers, sessions, context)
                else:
                    _echo(peers, sessions, poller, fd)
    finally:
        for peer in peers.values():
            peer.close()
        poller.close()


class _TLSSession:
    """One connection's TLS over memory BIOs, as a loop's TLS layer would hold it."""

    def __init__(self, peer: socket.socket, context: ssl.SSLContext) -> None:
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        sslobj = context.wrap_bio(self.incoming, self.outgoing, server_side=True)
        # Clients connect before the timed span: a blocking handshake here costs no timed work.
        peer.settimeout(10.0)
        while not self._handshake_step(sslobj):
            peer.sendall(self.outgoing.read())
            data = peer.recv(64 * 1024)
            if not data:
                raise ConnectionError("echo floor: client left during the TLS handshake")
            self.incoming.write(data)
        peer.sendall(self.outgoing.read())  # the server's session tickets
        # The C object behind the SSLObject, as treadle's TLSMachine calls it: one call less.
        self.engine: Any = getattr(sslobj, "_sslobj", sslobj)

    def _handshake_step(self, sslobj: ssl.SSLObject) -> bool:
        try:
            sslobj.do_handshake()
        except ssl.SSLWantReadError:
            return False
        return True

    def echo(self, size: int) -> bytes:
        """Decrypt what arrived (``size`` bytes in the buffer); its ciphertext echo."""
        self.incoming.write(_VIEW[:size])
        return self.echo_pending()

    def echo_pending(self) -> bytes:
        incoming, engine = self.incoming, self.engine
        total = 0
        try:
            while total < _SIZE:
                count: int = engine.read(_SIZE - total, _VIEW[total:] if total else _VIEW)
                if not count:
                    break  # the client's close_notify: its FIN follows
                total += count
                if not incoming.pending and not engine.pending():
                    break
        except _AGAIN:
            pass  # the rest of a record is still on its way
        if total:
            engine.write(_VIEW[:total])
        return self.outgoing.read()


def _accept(
    listener: socket.socket,
    poller: select.epoll,
    peers: dict[int, socket.socket],
    sessions: dict[int, _TLSSession],
    context: ssl.SSLContext | None,
) -> int:
    try:
        peer, _ = listener.accept()
    except BlockingIOError:
        return 0
    if peer.family in (socket.AF_INET, socket.AF_INET6):
        peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    session = None if context is None else _TLSSession(peer, context)
    peer.setblocking(False)
    fd = peer.fileno()
    peers[fd] = peer
    poller.register(fd, _READ)
    if session is not None:
        sessions[fd] = session
        if session.incoming.pending:
            _send(peer, session.echo_pending())  # data that came with the client's Finished
    return 1


def _echo(
    peers: dict[int, socket.socket],
    sessions: dict[int, _TLSSession],
    poller: select.epoll,
    fd: int,
) -> None:
    peer = peers[fd]
    try:
        size = peer.recv_into(_BUFFER)
    except BlockingIOError:
        return
    if not size:
        poller.unregister(fd)
        del peers[fd]
        sessions.pop(fd, None)
        peer.close()
        return
    session = sessions.get(fd)
    _send(peer, _VIEW[:size] if session is None else session.echo(size))


def _send(peer: socket.socket, data: bytes | memoryview) -> None:
    try:
        sent = peer.send(data)
    except BlockingIOError:
        sent = 0
    if sent < len(data):
        # Rare on loopback: finish blocking, since a client reads its whole echo before writing.
        peer.setblocking(True)
        peer.sendall(memoryview(data)[sent:])
        peer.setblocking(False)
