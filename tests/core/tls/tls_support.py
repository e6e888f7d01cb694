"""Shared pieces of the TLS tests: certificates from one trustme CA, TLS endpoints."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import trustme
from stream_pairs import Endpoint, Loop, Pair, Recorder, connected_pair


@dataclass
class Certs:
    ca: trustme.CA
    server: ssl.SSLContext
    client: ssl.SSLContext

    def server_context(self, leaf: trustme.LeafCert | None = None) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        (leaf or self.ca.issue_cert("127.0.0.1", "::1")).configure_cert(context)
        return context

    def client_cert_required_server_context(self) -> ssl.SSLContext:
        """A server context that demands a client certificate signed by this CA (mutual TLS)."""
        context = self.server_context()
        context.verify_mode = ssl.CERT_REQUIRED
        self.ca.configure_trust(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context

    def expired_server_context(self) -> ssl.SSLContext:
        leaf = self.ca.issue_cert(
            "127.0.0.1",
            not_before=datetime.datetime(2000, 1, 1, tzinfo=datetime.UTC),
            not_after=datetime.datetime(2000, 1, 2, tzinfo=datetime.UTC),
        )
        return self.server_context(leaf)


async def serve_tls(
    loop: Loop,
    endpoint: Endpoint,
    factory: Callable[[], asyncio.BaseProtocol],
    context: ssl.SSLContext,
    **kwargs: Any,
) -> asyncio.AbstractServer:
    return await endpoint.serve(loop, factory, ssl=context, **kwargs)


async def connect_tls(
    loop: Loop,
    endpoint: Endpoint,
    factory: Callable[[], asyncio.BaseProtocol],
    address: Any,
    context: ssl.SSLContext | bool,
    **kwargs: Any,
) -> tuple[asyncio.Transport, Any]:
    if endpoint.kind == "unix":
        kwargs.setdefault("server_hostname", "127.0.0.1")
        return await loop.create_unix_connection(factory, address, ssl=context, **kwargs)
    return await loop.create_connection(factory, address[0], address[1], ssl=context, **kwargs)


TLSPair = Pair


def tls_pair(
    loop: Loop,
    endpoint: Endpoint,
    certs: Certs,
    server_protocol: Callable[[], Any] = Recorder,
    client_protocol: Callable[[], Any] = Recorder,
) -> contextlib.AbstractAsyncContextManager[Pair]:
    """One TLS connection through a fresh TLS server; everything is closed again on exit."""
    client_options: dict[str, Any] = {"ssl": certs.client}
    if endpoint.kind == "unix":
        client_options["server_hostname"] = "127.0.0.1"  # no host name in a path
    return connected_pair(
        loop,
        endpoint,
        server_protocol,
        client_protocol,
        server_options={"ssl": certs.server},
        client_options=client_options,
    )


async def in_thread(fn: Callable[..., Any], *args: Any) -> Any:
    """Run a blocking client in a thread we join ourselves (no executor thread outlives us)."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if error is not None:
            done.set_exception(error)
        else:
            done.set_result(result)

    def work() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    thread = threading.Thread(target=work, name="tls-client")
    thread.start()
    try:
        return await done
    finally:
        thread.join(10)
