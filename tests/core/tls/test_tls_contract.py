"""The stream transport contract (tests/core/transports) over TLS, on every loop kind.

The same test bodies as for TCP and Unix sockets, with an endpoint whose server and client
speak TLS. Left out, because asyncio's TLS transports behave differently (and so, matching
them, do treadle's; test_tls_transport.py checks the TLS behaviour instead): write_eof() and
half-closed connections (write_eof() raises NotImplementedError, eof_received()'s return value
has no effect, the peer sees eof_received() before connection_lost()), writes after close() or
after the connection was lost (dropped, with "SSL connection is closed"), is_reading() after
close(), the 512 KiB default write limits, the error messages of the TLS layer ("Fatal error
on SSL protocol", write()'s TypeError wording), the raw socket's extra info and fd checks, and
the cases where asyncio's TLS itself fails the body (a bytearray from get_buffer(), abort()
while bytes are buffered, pause_writing() errors at the default limits).
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from stream_pairs import HAS_IPV6, Endpoint, Loop, short_socket_dir
from test_stream_contract import (  # noqa: F401  (the bodies, collected again with TLS endpoints)
    test_bytearray_changed_after_write_sends_the_original,
    test_bytes_arrive_in_order_both_ways,
    test_close_flushes_buffered_bytes,
    test_connection_made_before_create_connection_returns,
    test_is_closing_after_close_and_abort,
    test_pause_and_resume_writing_at_the_marks,
    test_pause_reading_in_connection_made,
    test_peer_reset_ends_the_connection_without_reporting,
    test_set_protocol_switches_the_receiver,
    test_set_write_buffer_limits_pauses_at_once,
    test_writelines_buffers_and_pauses_like_write,
)
from tls_support import Certs


class TLSEndpoint(Endpoint):
    """An Endpoint whose servers and clients wrap every connection in TLS."""

    server_context: ssl.SSLContext
    client_context: ssl.SSLContext

    async def serve(
        self, loop: Loop, factory: Callable[[], asyncio.BaseProtocol], **kwargs: Any
    ) -> asyncio.AbstractServer:
        return await super().serve(loop, factory, ssl=self.server_context, **kwargs)

    async def connect(
        self, loop: Loop, factory: Callable[[], asyncio.BaseProtocol], address: Any
    ) -> tuple[asyncio.Transport, Any]:
        if self.kind == "unix":
            return await loop.create_unix_connection(
                factory, address, ssl=self.client_context, server_hostname="127.0.0.1"
            )
        return await loop.create_connection(
            factory, address[0], address[1], ssl=self.client_context
        )


@pytest.fixture(
    params=[
        pytest.param("tcp4", id="tls-tcp4"),
        pytest.param(
            "tcp6", id="tls-tcp6", marks=pytest.mark.skipif(not HAS_IPV6, reason="no ::1")
        ),
        pytest.param("unix", id="tls-unix"),
    ]
)
def endpoint(request: pytest.FixtureRequest, tmp_path: Path, certs: Certs) -> Iterator[Endpoint]:
    with short_socket_dir(tmp_path) as directory:
        tls_endpoint = TLSEndpoint(str(request.param), directory)
        tls_endpoint.server_context = certs.server
        tls_endpoint.client_context = certs.client
        yield tls_endpoint
