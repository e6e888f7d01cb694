"""Dropping an unclosed StreamWriter warns once, about the writer, as on asyncio.

Defect 5 of issue 13 reported three ResourceWarnings on treadle where asyncio gives one, after an
HTTP/1.0 exchange with a server running in a thread. The suspect was defect 4: transports freed
only by the cyclic GC are freed late, after the loop closed, and then warn about themselves and
their socket too. With the cycle gone (tests/reliability/test_freed_by_refcount.py) only the
writer's own warning is left; this test pins that down for the variants we could think of.
"""

from __future__ import annotations

import asyncio
import gc
import http.server
import socket
import socketserver
import threading
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import pytest


class _Hello(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"hello")

    def log_message(self, format: str, *args: Any) -> None:  # the stdlib's name
        pass


@pytest.fixture
def http_port() -> Iterator[int]:
    server = socketserver.TCPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,))
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.mark.parametrize("read", ["line", "all"])
@pytest.mark.parametrize("drop", ["writer", "both"])
def test_dropped_stream_writer_warns_once(
    loop_factory: Callable[[], asyncio.AbstractEventLoop], http_port: int, read: str, drop: str
) -> None:
    async def exchange() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", http_port)
        writer.write(b"GET / HTTP/1.0\r\n\r\n")
        if read == "line":
            await reader.readline()
        else:
            await reader.read()
        if drop == "both":
            del reader
        del writer
        gc.collect()
        await asyncio.sleep(0.01)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loop = loop_factory()
        try:
            loop.run_until_complete(exchange())
        finally:
            loop.close()
        gc.collect()
    messages = [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)]
    # asyncio 3.11.x-3.13 warns "unclosed <StreamWriter ...>" once (older 3.11 releases not at all).
    assert len(messages) <= 1, messages
    assert all(m.startswith("unclosed <StreamWriter") for m in messages), messages


def test_transport_repr_says_closing_between_close_and_connection_lost(
    loop: asyncio.AbstractEventLoop, run: Callable[[Any], Any]
) -> None:
    # The warning of a dropped StreamWriter shows its transport just after close(): asyncio's
    # says "closing" there, and so must ours.
    async def main() -> tuple[str, str]:
        ours, peer = socket.socketpair()
        transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
        transport.close()
        just_closed = repr(transport)
        await asyncio.sleep(0)
        peer.close()
        return just_closed, repr(transport)

    just_closed, later = run(main())
    assert " closing fd=" in just_closed
    assert " closed fd=" in later
