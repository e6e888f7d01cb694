"""TLS over any stream transport: TLSProtocol below the application, SSLTransport above it.

How this works
--------------
``TLSProtocol`` is the BufferedProtocol of the transport that carries the ciphertext (a
SocketTransport, or any transport with ``_start_tls_compatible``). It owns a ``TLSMachine``
(core/tls/_machine.py), the handshake and shutdown timers and the application's protocol, and
hands the application an ``SSLTransport``, a thin ``asyncio.Transport`` whose methods call back
into it. Ciphertext goes to the carrying transport as soon as the machine produces it, so the
carrier's write buffer *is* the encrypted backlog: the application's write buffer size is that
buffer plus any plaintext still queued, and the carrier's pause_writing/resume_writing (its
limits are kept equal to the application's) become the application's.

The carrier reads into the loop's shared receive buffer (transports/_fdio.recv_view); the bytes
go straight into the machine's incoming BIO, and the same buffer then receives the plaintext,
copied out once as the ``bytes`` given to data_received(). pause_reading() pauses the carrier,
so nothing more is received, and stops decrypting what was already received.

Behaviour matched to asyncio's sslproto (3.11-3.13): the 60 s / 30 s handshake and shutdown
timeouts and their errors; connection_made() after the handshake; handshake errors raised by
the awaiting call and otherwise quiet (they are OSErrors); eof_received() once, whether the
peer sent close_notify or just closed (an "unexpected EOF" is an EOF, as in asyncio); close()
sends what is buffered, then close_notify, and waits for the peer's close_notify at most
ssl_shutdown_timeout (then connection_lost(TimeoutError('SSL shutdown timed out'))); writes
after close() are dropped with asyncio's warning; write_eof() is not supported; 512 KiB /
128 KiB write limits by default.

Where we differ, on purpose:
- A failed handshake sends OpenSSL's alert to the peer before closing (asyncio drops it), so
  the peer learns why ("certificate required", "unknown ca") instead of seeing a reset.
- If the carrying connection is lost during the handshake without an error, the awaiting call
  raises ConnectionResetError; asyncio would return a transport that was never connected.
- The application's connection_lost() runs in the carrier's connection_lost() callback, not one
  iteration later.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import ssl
import warnings
from collections.abc import Callable, Iterable
from typing import Any

from .._sendfile import SendfileMode
from ..transports._flow import WriteFlowControl
from ._machine import TLSMachine, TLSState

logger = logging.getLogger("asyncio")

# asyncio.constants: SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT, the TLS write limits (KiB).
SSL_HANDSHAKE_TIMEOUT = 60.0
SSL_SHUTDOWN_TIMEOUT = 30.0
TLS_HIGH_WATER = 512 * 1024
LOG_THRESHOLD_FOR_CONNLOST_WRITES = 5


class AppState(enum.Enum):
    """The application protocol's side: INIT -> MADE [-> EOF] -> LOST."""

    INIT = "init"  # connection_made() not called yet
    MADE = "made"
    EOF = "eof"  # eof_received() was called
    LOST = "lost"


def check_timeout(name: str, value: float | None, default: float) -> float:
    """asyncio's check of ssl_handshake_timeout / ssl_shutdown_timeout."""
    if value is None:
        return default
    if value <= 0:
        raise ValueError(f"{name} should be a positive number, got {value}")
    return value


def default_context(server_side: bool, server_hostname: str | None) -> ssl.SSLContext:
    """The context of ``ssl=True``: asyncio's (client only, hostname checked when given)."""
    if server_side:
        raise ValueError("Server side SSL needs a valid SSLContext")
    context = ssl.create_default_context()
    if not server_hostname:
        context.check_hostname = False
    return context


def tls_limits(high: int | None, low: int | None) -> tuple[int, int]:
    """asyncio's TLS write limits: 512 KiB high by default, low a quarter of high."""
    if high is None:
        high = TLS_HIGH_WATER if low is None else 4 * low
    if low is None:
        low = high // 4
    if not high >= low >= 0:
        raise ValueError(f"high ({high!r}) must be >= low ({low!r}) must be >= 0")
    return high, low


class TLSProtocol(asyncio.BufferedProtocol):
    """The carrier's protocol: runs a TLSMachine and the application protocol above it.

    ``waiter`` gets its result when the handshake is done, or the handshake's exception.
    ``app_made``: True for start_tls(), whose protocol already saw connection_made().
    """

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        app_protocol: asyncio.BaseProtocol,
        context: ssl.SSLContext | None,
        waiter: asyncio.Future[None] | None,
        buffer: memoryview,
        *,
        server_side: bool = False,
        server_hostname: str | None = None,
        ssl_handshake_timeout: float | None = None,
        ssl_shutdown_timeout: float | None = None,
        app_made: bool = False,
    ) -> None:
        self._handshake_timeout = check_timeout(
            "ssl_handshake_timeout", ssl_handshake_timeout, SSL_HANDSHAKE_TIMEOUT
        )
        self._shutdown_timeout = check_timeout(
            "ssl_shutdown_timeout", ssl_shutdown_timeout, SSL_SHUTDOWN_TIMEOUT
        )
        if not context:
            context = default_context(server_side, server_hostname)
        hostname = server_hostname if server_hostname and not server_side else None
        self._machine = TLSMachine(context, server_side=server_side, server_hostname=hostname)
        self._loop = loop
        self._buffer = buffer  # the loop's shared receive buffer: ciphertext in, plaintext out
        self._waiter = waiter
        self._extra: dict[str, Any] = {"sslcontext": context}
        self._raw: Any = None  # the carrier, from connection_made() to connection_lost()
        self._app_protocol: Any = None
        self._app_buffered = False
        self.set_app_protocol(app_protocol)
        self._app_state = AppState.MADE if app_made else AppState.INIT
        self._app_transport: SSLTransport | None = SSLTransport(self)
        self._timer: asyncio.TimerHandle | None = None  # handshake, then shutdown timeout
        self._reading_paused = False  # the application paused reading
        self._eof_pending = False  # the carrier's EOF arrived while reading was paused
        self._lost_writes = 0

    @property
    def app_transport(self) -> SSLTransport:
        assert self._app_transport is not None
        return self._app_transport

    def set_app_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._app_protocol = protocol
        self._app_buffered = isinstance(protocol, asyncio.BufferedProtocol)

    def __repr__(self) -> str:
        return f"<TLSProtocol {self._machine.state.value}>"

    # -- the carrier's callbacks ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._raw = transport
        app_transport = self._app_transport
        assert app_transport is not None
        high, low = app_transport._flow.get_limits()[::-1]
        transport.set_write_buffer_limits(high, low)  # type: ignore[attr-defined]
        if self._loop.get_debug():
            logger.debug("%r starts SSL handshake", self)
        self._timer = self._loop.call_later(self._handshake_timeout, self._handshake_timed_out)
        self._advance_handshake()

    def get_buffer(self, sizehint: int) -> memoryview:
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        machine = self._machine
        view = self._buffer
        if machine.state is TLSState.OPEN and not self._reading_paused and not self._app_buffered:
            # The hot path: one record in, its plaintext to data_received(), nothing else.
            try:
                count = machine.decrypt_into(view[:nbytes], view)
                if count:
                    self._app_protocol.data_received(view[:count].tobytes())
            except Exception as exc:
                self._fatal_error(exc, "Fatal error on SSL protocol")
                return
            if count == len(view) or machine.state is not TLSState.OPEN or machine.outgoing_size:
                self._deliver()  # more to read, a close_notify, or bytes to answer with
            return
        machine.feed(view[:nbytes])
        state = machine.state
        if state is TLSState.OPEN:
            self._deliver()
        elif state is TLSState.HANDSHAKING:
            self._advance_handshake()
        elif state is TLSState.CLOSING:
            self._advance_shutdown()
        # PEER_CLOSED and CLOSED: nothing more is read from this connection.

    def eof_received(self) -> bool | None:
        if self._loop.get_debug():
            logger.debug("%r received EOF", self)
        state = self._machine.state
        if state is TLSState.HANDSHAKING:
            # asyncio: the awaiting call raises a bare ConnectionResetError.
            self._handshake_failed(ConnectionResetError())
            return None
        if self._reading_paused and state is TLSState.OPEN:
            self._eof_pending = True  # finish once the application reads again
            return True
        self._finish_at_eof()
        return None  # the carrier closes itself

    def _finish_at_eof(self) -> None:
        if self._machine.state is TLSState.OPEN:
            self._deliver()  # what arrived before the EOF
        self._cancel_timer()
        self._mark_app_closing()
        self._machine.abort()
        self._call_eof_received()

    def pause_writing(self) -> None:
        self._check_growth()

    def _check_growth(self) -> None:
        transport = self._app_transport
        if transport is not None:
            transport._flow.after_growth(self._app_protocol, transport.get_write_buffer_size())

    def resume_writing(self) -> None:
        transport = self._app_transport
        if transport is not None:
            transport._flow.after_shrink(self._app_protocol, transport.get_write_buffer_size())

    def connection_lost(self, exc: BaseException | None) -> None:
        # asyncio: a protocol given to start_tls() hears of the loss unless the handshake was
        # still running (a timeout, a reset); a failed handshake counts as over.
        handshaking = self._machine.state is TLSState.HANDSHAKING
        self._machine.abort()
        self._cancel_timer()
        self._mark_app_closing()
        self._raw = None
        if self._waiter is not None:
            self._wake_waiter(exc or ConnectionResetError("Connection lost during TLS handshake"))
        app_protocol = self._app_protocol
        state = self._app_state
        self._app_state = AppState.LOST
        self._app_transport = None  # the transport keeps us, we no longer keep it
        self._app_protocol = None
        if not handshaking and state in (AppState.MADE, AppState.EOF):
            app_protocol.connection_lost(exc)

    # -- handshake ------------------------------------------------------------------------------

    def _advance_handshake(self) -> None:
        try:
            done = self._machine.handshake()
        except Exception as exc:
            self._handshake_failed(exc)
            return
        if done:
            self._handshake_done()
        else:
            self._flush()

    def _handshake_done(self) -> None:
        self._cancel_timer()
        sslobj = self._machine.ssl_object
        try:
            peercert = sslobj.getpeercert()
        except Exception as exc:
            self._handshake_failed(exc)
            return
        self._extra.update(
            peercert=peercert,
            cipher=sslobj.cipher(),
            compression=sslobj.compression(),
            ssl_object=sslobj,
        )
        self._flush()  # our Finished (client), session tickets (server), queued writes
        if self._app_state is AppState.INIT:
            self._app_state = AppState.MADE
            self._app_protocol.connection_made(self._app_transport)
        self._wake_waiter(None)
        if self._machine.has_input():
            self._deliver()  # application data that came with the last handshake record

    def _handshake_failed(self, exc: BaseException) -> None:
        self._cancel_timer()
        self._flush()  # the alert, so that the peer learns why
        self._machine.abort()
        if isinstance(exc, ssl.CertificateError):
            message = "SSL handshake failed on verifying the certificate"
        else:
            message = "SSL handshake failed"
        self._fatal_error(exc, message)
        self._wake_waiter(exc)

    def _handshake_timed_out(self) -> None:
        self._timer = None
        if self._machine.state is TLSState.HANDSHAKING and self._raw is not None:
            exc = ConnectionAbortedError(
                f"SSL handshake is taking longer than {self._handshake_timeout} seconds: "
                "aborting the connection"
            )
            if self._loop.get_debug():
                logger.debug("%r: %s", self, exc)
            # Still HANDSHAKING: connection_lost() hands exc to the awaiting call.
            self._raw._force_close(exc)

    def _wake_waiter(self, exc: BaseException | None) -> None:
        waiter = self._waiter
        if waiter is None:
            return
        self._waiter = None
        if waiter.cancelled():
            return
        if exc is None:
            waiter.set_result(None)
        else:
            waiter.set_exception(exc)

    # -- reading --------------------------------------------------------------------------------

    def _deliver(self) -> None:
        """Decrypt what was received and hand it to the application, unless it paused."""
        if self._reading_paused:
            return
        try:
            if self._machine.state is not TLSState.OPEN:
                pass  # only a close_notify or an answer to send is left
            elif self._app_buffered:
                self._deliver_into_app_buffer()
            else:
                self._deliver_bytes()
        except Exception as exc:
            self._fatal_error(exc, "Fatal error on SSL protocol")
            return
        machine = self._machine
        if machine.outgoing_size:
            self._flush()  # TLS 1.3 key updates, a renegotiation's answer
        if machine.state is TLSState.PEER_CLOSED:
            self._call_eof_received()
            self._start_shutdown()

    def _deliver_bytes(self) -> None:
        machine = self._machine
        view = self._buffer
        size = len(view)
        while True:
            count = machine.read_into(view)
            if count:
                self._app_protocol.data_received(view[:count].tobytes())
            if count < size or self._reading_paused or machine.state is not TLSState.OPEN:
                return

    def _deliver_into_app_buffer(self) -> None:
        machine = self._machine
        while True:
            buffer = memoryview(self._app_protocol.get_buffer(-1))
            size = len(buffer)
            if not size:
                raise RuntimeError("get_buffer() returned an empty buffer")
            count = machine.read_into(buffer)
            if count:
                self._app_protocol.buffer_updated(count)
            if count < size or self._reading_paused or machine.state is not TLSState.OPEN:
                return

    def _call_eof_received(self) -> None:
        if self._app_state is not AppState.MADE:
            return
        self._app_state = AppState.EOF
        try:
            keep_open = self._app_protocol.eof_received()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:
            self._fatal_error(exc, "Error calling eof_received()")
            return
        if keep_open:
            logger.warning("returning true from eof_received() has no effect when using ssl")

    def pause_app_reading(self) -> None:
        self._reading_paused = True
        if self._raw is not None and self._machine.state is TLSState.OPEN:
            self._raw.pause_reading()

    def resume_app_reading(self) -> None:
        if not self._reading_paused:
            return
        self._reading_paused = False
        if self._raw is not None and self._machine.state is TLSState.OPEN:
            self._raw.resume_reading()
        self._loop.call_soon(self._resume_delivery)

    def _resume_delivery(self) -> None:
        if self._reading_paused or self._raw is None:
            return
        if self._machine.state in (TLSState.OPEN, TLSState.PEER_CLOSED):
            self._deliver()  # what waited, then a close_notify that came with it
        if self._eof_pending:
            self._eof_pending = False
            self._finish_at_eof()
            if self._raw is not None:
                self._raw.close()

    # -- writing --------------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        machine = self._machine
        state = machine.state
        if state is TLSState.OPEN:
            out = machine.encrypt(data)
            if out:
                self._raw.write(out)  # its pause_writing() becomes the application's
        elif state is TLSState.HANDSHAKING:
            machine.write(data)
            self._check_growth()  # queued plaintext counts toward the limits
        else:
            self._note_lost_write()

    def writelines(self, chunks: Iterable[bytes | bytearray | memoryview]) -> None:
        machine = self._machine
        if machine.state not in (TLSState.OPEN, TLSState.HANDSHAKING):
            self._note_lost_write()
            return
        for chunk in chunks:
            machine.write(chunk)
        self._flush()
        self._check_growth()

    def _note_lost_write(self) -> None:
        if self._lost_writes >= LOG_THRESHOLD_FOR_CONNLOST_WRITES:
            logger.warning("SSL connection is closed")
        self._lost_writes += 1

    def _flush(self) -> None:
        out = self._machine.data_to_send()
        if out and self._raw is not None and not self._raw.is_closing():
            self._raw.write(out)

    def write_buffer_size(self) -> int:
        raw = self._raw
        size = self._machine.queued_size + self._machine.outgoing_size
        if raw is not None:
            size += raw.get_write_buffer_size()
        return size

    def set_raw_limits(self, high: int, low: int) -> None:
        if self._raw is not None:
            self._raw.set_write_buffer_limits(high, low)

    # -- closing --------------------------------------------------------------------------------

    def _mark_app_closing(self) -> None:
        if self._app_transport is not None:
            self._app_transport._closing = True

    def start_shutdown(self) -> None:
        """close(): what was written goes first, then close_notify; then wait for the peer's."""
        self._start_shutdown()

    def _start_shutdown(self) -> None:
        self._mark_app_closing()
        state = self._machine.state
        if state is TLSState.HANDSHAKING:
            self.abort(None)
            return
        if state not in (TLSState.OPEN, TLSState.PEER_CLOSED):
            return
        self._cancel_timer()
        self._timer = self._loop.call_later(self._shutdown_timeout, self._shutdown_timed_out)
        if state is TLSState.OPEN and self._machine.has_input():
            self._deliver()  # asyncio hands over what was already received
            if self._machine.state is TLSState.CLOSED:
                return
        if self._reading_paused and self._raw is not None:
            self._raw.resume_reading()  # the peer's close_notify must still be read
        self._advance_shutdown()

    def _advance_shutdown(self) -> None:
        try:
            done = self._machine.shutdown()
        except Exception as exc:
            self._flush()
            self._fatal_error(exc)
            return
        self._flush()
        if done:
            self._cancel_timer()
            self._call_eof_received()
            if self._raw is not None:
                self._raw.close()

    def _shutdown_timed_out(self) -> None:
        self._timer = None
        if self._raw is not None:
            self._raw._force_close(TimeoutError("SSL shutdown timed out"))

    def abort(self, exc: BaseException | None) -> None:
        self._mark_app_closing()
        self._machine.abort()
        if self._raw is not None:
            self._raw._force_close(exc)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fatal_error(self, exc: BaseException, message: str = "Fatal error on transport") -> None:
        raw = self._raw
        self._machine.abort()
        if raw is not None:
            raw._force_close(exc)
        if isinstance(exc, OSError):
            if self._loop.get_debug():
                logger.debug("%r: %s", self, message, exc_info=True)
        elif not isinstance(exc, asyncio.CancelledError):
            self._loop.call_exception_handler(
                {"message": message, "exception": exc, "transport": raw, "protocol": self}
            )

    def report_flow_error(self, message: str, exc: BaseException) -> None:
        """An exception from the application's pause_writing()/resume_writing() (asyncio's)."""
        self._loop.call_exception_handler(
            {
                "message": message,
                "exception": exc,
                "transport": self._app_transport,
                "protocol": self,
            }
        )

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        if name in self._extra:
            return self._extra[name]
        if self._raw is not None:
            return self._raw.get_extra_info(name, default)
        return default


class SSLTransport(asyncio.Transport):
    """The application's side of a TLS connection (asyncio's _SSLProtocolTransport).

    Named "SSL", as asyncio's and uvloop's are, because code tells a TLS transport by its class
    name: CPython's test_asyncio asserts ``'ssl' in type(transport).__name__.lower()``.
    """

    # loop.start_tls() accepts it (TLS in TLS); loop.sendfile() reads and writes.
    _start_tls_compatible = True
    _sendfile_compatible = SendfileMode.FALLBACK

    def __init__(self, tls: TLSProtocol) -> None:
        super().__init__()
        self._tls = tls
        self._closing = False  # close()/abort() was called, or the connection is ending
        # The TLSProtocol's reporter, not ours: a bound method of self here would be a cycle.
        self._flow = WriteFlowControl(tls.report_flow_error)
        self._flow.set_limits(*tls_limits(None, None))

    def __repr__(self) -> str:
        state = "closing" if self._closing else "open"
        return f"<SSLTransport {state} {self._tls!r}>"

    def __del__(self, _warn: Callable[..., None] = warnings.warn) -> None:
        if not getattr(self, "_closing", True):
            self._closing = True
            _warn(f"unclosed transport {self!r}", ResourceWarning, source=self)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._tls.get_extra_info(name, default)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        self._tls.set_app_protocol(protocol)

    def get_protocol(self) -> asyncio.BaseProtocol:
        return self._tls._app_protocol  # type: ignore[no-any-return]

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        """Send what is buffered, then close_notify; connection_lost() follows (asyncio)."""
        if not self._closing:
            self._closing = True
            self._tls.start_shutdown()

    def abort(self) -> None:
        """Lose the connection now: buffered bytes are dropped, no close_notify is sent."""
        self._closing = True
        self._tls.abort(None)

    def _force_close(self, exc: BaseException | None) -> None:
        self._closing = True
        self._tls.abort(exc)

    # -- reading --------------------------------------------------------------------------------

    def is_reading(self) -> bool:
        return not self._tls._reading_paused

    def pause_reading(self) -> None:
        """No more data_received() until resume_reading(); received records stay encrypted."""
        self._tls.pause_app_reading()

    def resume_reading(self) -> None:
        self._tls.resume_app_reading()

    # -- writing --------------------------------------------------------------------------------

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"data: expecting a bytes-like instance, got {type(data).__name__}")
        if data:
            self._tls.write(data)

    def writelines(self, list_of_data: Iterable[bytes | bytearray | memoryview]) -> None:
        self._tls.writelines(list_of_data)

    def write_eof(self) -> None:
        raise NotImplementedError

    def can_write_eof(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        """Encrypted bytes not sent yet, plus plaintext waiting for the handshake."""
        return self._tls.write_buffer_size()

    def get_write_buffer_limits(self) -> tuple[int, int]:
        return self._flow.get_limits()

    def set_write_buffer_limits(self, high: int | None = None, low: int | None = None) -> None:
        high, low = tls_limits(high, low)
        self._flow.set_limits(high, low)
        self._tls.set_raw_limits(high, low)
        size = self.get_write_buffer_size()
        self._flow.after_growth(self._tls._app_protocol, size)
        self._flow.after_shrink(self._tls._app_protocol, size)
