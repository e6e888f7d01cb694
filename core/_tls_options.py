"""The checks asyncio applies to ssl=, server_hostname= and the TLS timeouts, without TLS itself.

create_connection, create_server, the Unix variants and connect_accepted_socket validate these
arguments before doing anything else, each with its own wording (asyncio is not uniform: the
Unix client wants server_hostname whenever ssl is set, create_connection defaults it to host).
The messages are asyncio's, identical on 3.11-3.13. Once the arguments are valid, the TLS
itself is core/tls's job (``TLSOptions``).
"""

from __future__ import annotations

from typing import Any


def check_timeouts(ssl_enabled: bool, handshake_timeout: Any, shutdown_timeout: Any) -> None:
    if handshake_timeout is not None and not ssl_enabled:
        raise ValueError("ssl_handshake_timeout is only meaningful with ssl")
    if shutdown_timeout is not None and not ssl_enabled:
        raise ValueError("ssl_shutdown_timeout is only meaningful with ssl")


def client_server_hostname(
    ssl: Any, host: Any, server_hostname: str | None, handshake_timeout: Any, shutdown_timeout: Any
) -> str | None:
    """create_connection's checks; the server_hostname TLS would verify (host by default)."""
    if server_hostname is not None and not ssl:
        raise ValueError("server_hostname is only meaningful with ssl")
    if server_hostname is None and ssl:
        # An empty host (a sock= connection, a port only) leaves nothing to verify against.
        if not host:
            raise ValueError("You must set server_hostname when using ssl without a host")
        server_hostname = host
    check_timeouts(bool(ssl), handshake_timeout, shutdown_timeout)
    return server_hostname


def check_unix_client(
    ssl: Any, server_hostname: str | None, handshake_timeout: Any, shutdown_timeout: Any
) -> None:
    """create_unix_connection's checks: with ssl, server_hostname is required (no host to use)."""
    if ssl:
        if server_hostname is None:
            raise ValueError("you have to pass server_hostname when using ssl")
        return
    if server_hostname is not None:
        raise ValueError("server_hostname is only meaningful with ssl")
    check_timeouts(False, handshake_timeout, shutdown_timeout)


def check_server(ssl: Any, handshake_timeout: Any, shutdown_timeout: Any) -> None:
    """create_server's and create_unix_server's checks: ssl must be a context, not True."""
    if isinstance(ssl, bool):
        raise TypeError("ssl argument must be an SSLContext or None")
    check_timeouts(ssl is not None, handshake_timeout, shutdown_timeout)
