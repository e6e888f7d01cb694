"""Putting TLS on a connection: options for the stream methods, and loop.start_tls().

create_connection & co. build a ``TLSOptions`` from their ``ssl=`` arguments once the arguments
are checked (core/_tls_options.py), and ``wrap`` makes the TLSProtocol that becomes the socket
transport's protocol. ``start_tls`` swaps an existing transport's protocol for one, as asyncio's
loop.start_tls() does, and returns the application's new transport once the handshake is done.
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any

from ..transports._fdio import recv_view
from ._transport import SSL_HANDSHAKE_TIMEOUT, SSL_SHUTDOWN_TIMEOUT, TLSProtocol, check_timeout


class TLSOptions:
    """What ``ssl=`` and its companions ask for on one connection (or every accepted one)."""

    __slots__ = (
        "context",
        "handshake_timeout",
        "server_hostname",
        "server_side",
        "shutdown_timeout",
    )

    def __init__(
        self,
        ssl_arg: Any,
        *,
        server_side: bool,
        server_hostname: str | None = None,
        handshake_timeout: float | None = None,
        shutdown_timeout: float | None = None,
    ) -> None:
        # ssl=True means "a default client context", made per connection as asyncio does.
        self.context: ssl.SSLContext | None = None if isinstance(ssl_arg, bool) else ssl_arg
        self.server_side = server_side
        self.server_hostname = server_hostname
        self.handshake_timeout = handshake_timeout
        self.shutdown_timeout = shutdown_timeout

    def check_timeouts(self) -> None:
        """The ValueError asyncio raises (per connection) for a timeout that is not positive."""
        check_timeout("ssl_handshake_timeout", self.handshake_timeout, SSL_HANDSHAKE_TIMEOUT)
        check_timeout("ssl_shutdown_timeout", self.shutdown_timeout, SSL_SHUTDOWN_TIMEOUT)

    def wrap(
        self,
        loop: asyncio.AbstractEventLoop,
        app_protocol: asyncio.BaseProtocol,
        waiter: asyncio.Future[None] | None,
        *,
        app_made: bool = False,
    ) -> TLSProtocol:
        """The protocol to give the carrying transport; ``.app_transport`` is the app's."""
        return TLSProtocol(
            loop,
            app_protocol,
            self.context,
            waiter,
            recv_view(loop),
            server_side=self.server_side,
            server_hostname=self.server_hostname,
            ssl_handshake_timeout=self.handshake_timeout,
            ssl_shutdown_timeout=self.shutdown_timeout,
            app_made=app_made,
        )


async def start_tls(
    loop: asyncio.AbstractEventLoop,
    transport: asyncio.BaseTransport,
    protocol: asyncio.BaseProtocol,
    sslcontext: ssl.SSLContext,
    *,
    server_side: bool = False,
    server_hostname: str | None = None,
    ssl_handshake_timeout: float | None = None,
    ssl_shutdown_timeout: float | None = None,
) -> asyncio.Transport:
    """loop.start_tls(): upgrade ``transport``; ``protocol`` uses the returned transport."""
    if not isinstance(sslcontext, ssl.SSLContext):
        raise TypeError(
            f"sslcontext is expected to be an instance of ssl.SSLContext, got {sslcontext!r}"
        )
    if not getattr(transport, "_start_tls_compatible", False):
        raise TypeError(f"transport {transport!r} is not supported by start_tls()")
    options = TLSOptions(
        sslcontext,
        server_side=server_side,
        server_hostname=server_hostname,
        handshake_timeout=ssl_handshake_timeout,
        shutdown_timeout=ssl_shutdown_timeout,
    )
    waiter: asyncio.Future[None] = loop.create_future()
    tls = options.wrap(loop, protocol, waiter, app_made=True)
    carrier: Any = transport
    # Paused first, so that no bytes reach the TLS protocol before its connection_made().
    carrier.pause_reading()
    carrier.set_protocol(tls)
    made = loop.call_soon(tls.connection_made, transport)
    resume = loop.call_soon(carrier.resume_reading)
    try:
        await waiter
    except BaseException:
        transport.close()
        made.cancel()
        resume.cancel()
        raise
    return tls.app_transport
