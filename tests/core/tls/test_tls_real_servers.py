"""Real HTTPS servers and clients, unchanged, on every loop kind: uvicorn and aiohttp.

uvicorn is given its certificate the way its users give it (ssl_keyfile / ssl_certfile files),
aiohttp an SSLContext; the clients are http.client in a thread and aiohttp's own client.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import ssl
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from stream_pairs import Loop, run_body
from tls_support import Certs, in_thread


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    with sock:
        yield sock


def https_get(port: int, path: str, context: ssl.SSLContext, requests: int) -> list[Any]:
    """Blocking HTTPS GETs over one keep-alive connection."""
    connection = http.client.HTTPSConnection("127.0.0.1", port, timeout=5.0, context=context)
    try:
        answers = []
        for _ in range(requests):
            connection.request("GET", path)
            response = connection.getresponse()
            answers.append((response.status, response.read()))
        return answers
    finally:
        connection.close()


async def asgi_app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    assert scope["type"] == "http"
    body = f"{scope['scheme']} {scope['path']}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


def test_uvicorn_with_ssl_keyfile(
    loop: Loop, listener: socket.socket, ca: trustme.CA, certs: Certs, tmp_path: Path
) -> None:
    uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed (test extra)")
    leaf = ca.issue_cert("127.0.0.1")
    keyfile, certfile = tmp_path / "key.pem", tmp_path / "cert.pem"
    leaf.private_key_pem.write_to_path(str(keyfile))
    leaf.cert_chain_pems[0].write_to_path(str(certfile))
    config = uvicorn.Config(
        asgi_app,
        lifespan="off",
        log_level="warning",
        access_log=False,
        http="h11",
        ssl_keyfile=str(keyfile),
        ssl_certfile=str(certfile),
    )
    port = listener.getsockname()[1]

    async def body() -> None:
        server = uvicorn.Server(config)
        serving = asyncio.ensure_future(server.serve(sockets=[listener]))
        try:
            while not server.started:
                assert not serving.done(), serving
                await asyncio.sleep(0.01)
            answers = await in_thread(https_get, port, "/secure", certs.client, 3)
            assert answers == [(200, b"https /secure")] * 3
        finally:
            server.should_exit = True
            await serving

    run_body(loop, body)


def test_aiohttp_https_server_and_client(loop: Loop, listener: socket.socket, certs: Certs) -> None:
    pytest.importorskip("aiohttp", reason="aiohttp is not installed (test extra)")
    from aiohttp import ClientSession, TCPConnector, web

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read(), headers={"X-Scheme": request.scheme})

    port = listener.getsockname()[1]

    async def body() -> None:
        app = web.Application()
        app.router.add_post("/echo", echo)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            await web.SockSite(runner, listener, ssl_context=certs.server).start()
            payload = bytes(range(256)) * 1024  # 256 KiB: many TLS records each way
            async with ClientSession(connector=TCPConnector(ssl=certs.client)) as session:
                for _ in range(3):
                    url = f"https://127.0.0.1:{port}/echo"
                    async with session.post(url, data=payload) as response:
                        assert response.status == 200
                        assert response.headers["X-Scheme"] == "https"
                        assert await response.read() == payload
        finally:
            await runner.cleanup()

    run_body(loop, body)
