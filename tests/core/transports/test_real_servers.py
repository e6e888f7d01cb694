"""Real servers, unchanged, on treadle: uvicorn (ASGI) and aiohttp.web, each with real HTTP clients.

Every test runs on asyncio's loop too (the ``loop`` fixture), so a failure that asyncio shares is
the test's fault, not treadle's. The servers listen on a socket we bind to 127.0.0.1:0 ourselves;
the clients are http.client in a thread (for uvicorn) and aiohttp's own client (for aiohttp).
uvicorn and aiohttp are test dependencies only; without them these tests skip.
"""

from __future__ import annotations

import asyncio
import http.client
import socket
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from stream_pairs import Loop, run_body

import treadle

# uvicorn's shutdown waits 0.1 s per step; the whole test stays well under BODY_TIMEOUT.
_REQUESTS = 5


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    with sock:
        yield sock


def _get(port: int, path: str, *, requests: int = 1) -> list[tuple[int, bytes]]:
    """Blocking GETs over one keep-alive connection, as a plain HTTP/1.1 client does them."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5.0)
    try:
        answers = []
        for _ in range(requests):
            connection.request("GET", path)
            response = connection.getresponse()
            answers.append((response.status, response.read()))
        return answers
    finally:
        connection.close()


async def _in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run a blocking client in a thread we join ourselves: no executor thread outlives the test."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[Any] = loop.create_future()

    def settle(result: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)

    def work() -> None:
        try:
            result = fn(*args, **kwargs)
        except BaseException as exc:
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    thread = threading.Thread(target=work, name="http-client")
    thread.start()
    try:
        return await future
    finally:
        await asyncio.sleep(0)
        thread.join(timeout=5.0)


# -- uvicorn -------------------------------------------------------------------------------------


async def _asgi_app(
    scope: dict[str, Any],
    receive: Callable[[], Awaitable[dict[str, Any]]],
    send: Callable[[dict[str, Any]], Awaitable[None]],
) -> None:
    assert scope["type"] == "http"
    body = f"hello {scope['path']} from {type(asyncio.get_running_loop()).__module__}".encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"text/plain"), (b"content-length", b"%d" % len(body))],
        }
    )
    await send({"type": "http.response.body", "body": body})


def test_uvicorn_accepts_treadle_as_its_loop_import_string() -> None:
    uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed (test extra)")
    config = uvicorn.Config(_asgi_app, loop="treadle:new_event_loop")
    factory = config.get_loop_factory()
    assert factory is treadle.new_event_loop
    loop = factory()
    try:
        assert isinstance(loop, treadle.EventLoop)
    finally:
        loop.close()


def test_uvicorn_serves_an_asgi_app(loop: Loop, listener: socket.socket) -> None:
    uvicorn = pytest.importorskip("uvicorn", reason="uvicorn is not installed (test extra)")
    config = uvicorn.Config(
        _asgi_app, lifespan="off", log_level="warning", access_log=False, http="h11"
    )
    port = listener.getsockname()[1]

    async def body() -> None:
        server = uvicorn.Server(config)
        serving = asyncio.ensure_future(server.serve(sockets=[listener]))
        try:
            while not server.started:
                assert not serving.done(), serving
                await asyncio.sleep(0.01)
            answers = await _in_thread(_get, port, "/greeting", requests=_REQUESTS)
            expected = f"hello /greeting from {type(loop).__module__}".encode()
            assert answers == [(200, expected)] * _REQUESTS
        finally:
            server.should_exit = True
            await serving

    run_body(loop, body)


# -- aiohttp -------------------------------------------------------------------------------------


def test_aiohttp_web_server_and_client(loop: Loop, listener: socket.socket) -> None:
    pytest.importorskip("aiohttp", reason="aiohttp is not installed (test extra)")
    from aiohttp import ClientSession, web

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text=f"hello {request.match_info['name']}")

    async def echo(request: web.Request) -> web.Response:
        return web.Response(body=await request.read())

    port = listener.getsockname()[1]

    async def body() -> None:
        app = web.Application()
        app.router.add_get("/hello/{name}", hello)
        app.router.add_post("/echo", echo)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        try:
            await web.SockSite(runner, listener).start()
            async with ClientSession() as session:
                for i in range(_REQUESTS):
                    async with session.get(f"http://127.0.0.1:{port}/hello/n{i}") as response:
                        assert response.status == 200
                        assert await response.text() == f"hello n{i}"
                payload = bytes(range(256)) * 1024  # 256 KiB: more than one read and write
                async with session.post(f"http://127.0.0.1:{port}/echo", data=payload) as response:
                    assert response.status == 200
                    assert await response.read() == payload
            # A client that is not aiohttp's own, on a thread, against the same server.
            answers = await _in_thread(_get, port, "/hello/thread")
            assert answers == [(200, b"hello thread")]
        finally:
            await runner.cleanup()

    run_body(loop, body)
