"""Echo server styles by name; each is ``serve(loop, listener, connections)`` (see echo/)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from benchmarks.echo.servers import datagram, protocol, sock, streams

# serve(loop, listener, connections, **options); the protocol style takes ssl= too.
Serve = Callable[..., Awaitable[None]]

STYLES: dict[str, Serve] = {
    "sock": sock.serve,
    "datagram": datagram.serve,
    "protocol": protocol.serve,
    "streams": streams.serve,
}


def get(style: str) -> Serve:
    try:
        return STYLES[style]
    except KeyError:
        raise ValueError(f"unknown echo server style {style!r}: known {sorted(STYLES)}") from None
