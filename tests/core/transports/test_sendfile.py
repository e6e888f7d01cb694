"""loop.sendfile(transport, ...): os.sendfile() on stream transports, the fallback, the checks."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import pytest
from stream_pairs import Endpoint, Loop, connected_pair, run_body

CONTENT = bytes(range(256)) * 4096  # 1 MiB: more than one os.sendfile() call on loopback


@pytest.fixture
def data_file(tmp_path: Path) -> Path:
    path = tmp_path / "data.bin"
    path.write_bytes(CONTENT)
    return path


def test_sendfile_sends_buffered_bytes_then_the_file(
    loop: Loop, endpoint: Endpoint, data_file: Path
) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            transport = pair.client_transport
            transport.write(b"header:")
            with data_file.open("rb") as file:
                sent = await loop.sendfile(transport, file)
                assert sent == len(CONTENT)
                assert file.tell() == len(CONTENT)
            transport.write(b":trailer")
            expected = b"header:" + CONTENT + b":trailer"
            assert await pair.accepted.received(len(expected)) == expected
            assert transport.is_reading()

    run_body(loop, body)


def test_sendfile_with_offset_and_count(loop: Loop, endpoint: Endpoint, data_file: Path) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            with data_file.open("rb") as file:
                sent = await loop.sendfile(pair.client_transport, file, 1000, 5000)
                assert sent == 5000
                assert file.tell() == 6000
            assert await pair.accepted.received(5000) == CONTENT[1000:6000]

    run_body(loop, body)


def test_sendfile_falls_back_for_a_non_regular_file(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            transport = pair.client_transport
            source = io.BytesIO(CONTENT[:100_000])
            with pytest.raises(asyncio.SendfileNotAvailableError):
                await loop.sendfile(transport, source, fallback=False)
            sent = await loop.sendfile(transport, source, 10)
            assert sent == 100_000 - 10
            assert source.tell() == 100_000
            assert await pair.accepted.received(sent) == CONTENT[10:100_000]
            assert transport.get_protocol() is pair.client
            assert transport.is_reading()

    run_body(loop, body)


def test_fallback_waits_for_a_slow_reader(loop: Loop, endpoint: Endpoint) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.server_transport.pause_reading()
            transport = pair.client_transport
            transport.set_write_buffer_limits(high=64 * 1024)
            source = io.BytesIO(CONTENT * 8)  # 8 MiB: more than the kernel buffers hold
            sending = asyncio.ensure_future(loop.sendfile(transport, source))
            await asyncio.sleep(0.05)
            assert not sending.done()  # held back by flow control, not buffered in memory
            assert transport.get_write_buffer_size() < 1024 * 1024
            pair.server_transport.resume_reading()
            assert await sending == len(CONTENT) * 8
            await pair.accepted.received(len(CONTENT) * 8)

    run_body(loop, body)


def test_write_during_sendfile_raises(loop: Loop, endpoint: Endpoint, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(CONTENT * 24)  # more than loopback's socket buffers can take at once

    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.server_transport.pause_reading()
            transport = pair.client_transport
            with big.open("rb") as file:
                sending = asyncio.ensure_future(loop.sendfile(transport, file))
                await asyncio.sleep(0.01)
                assert not sending.done()
                for method, arg in (("write", b"x"), ("writelines", [b"x"])):
                    with pytest.raises(RuntimeError) as info:
                        getattr(transport, method)(arg)
                    if method == "write":
                        assert str(info.value) == "unable to write; sendfile is in progress"
                pair.server_transport.resume_reading()
                await sending
            transport.write(b"after")
            await pair.accepted.received(len(CONTENT) * 24 + 5)

    run_body(loop, body)


def test_sendfile_argument_checks(
    loop: Loop, endpoint: Endpoint, data_file: Path, tmp_path: Path
) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            transport = pair.client_transport

            async def error(file: Any, *args: Any) -> str:
                with pytest.raises((ValueError, TypeError)) as info:
                    await loop.sendfile(transport, file, *args)
                return f"{type(info.value).__name__}: {info.value}"

            with data_file.open("rb") as file:
                assert await error(file, -1) == (
                    "ValueError: offset must be a non-negative integer (got -1)"
                )
                assert await error(file, 0, 0) == (
                    "ValueError: count must be a positive integer (got 0)"
                )
                assert await error(file, "0") == (
                    "TypeError: offset must be a non-negative integer (got '0')"
                )
            (tmp_path / "text.txt").write_text("text")
            with (tmp_path / "text.txt").open() as text:
                assert await error(text) == "ValueError: file should be opened in binary mode"
            assert transport.is_reading()  # a failed check leaves the transport as it was
            transport.write(b"ok")
            await pair.accepted.received(2)

    run_body(loop, body)


def test_sendfile_on_a_closing_transport(loop: Loop, endpoint: Endpoint, data_file: Path) -> None:
    async def body() -> None:
        async with connected_pair(loop, endpoint) as pair:
            pair.client_transport.close()
            with data_file.open("rb") as file, pytest.raises(RuntimeError) as info:
                await loop.sendfile(pair.client_transport, file)
            assert str(info.value) == "Transport is closing"

    run_body(loop, body)


def test_sendfile_refuses_a_datagram_transport(loop: Loop, data_file: Path) -> None:
    async def body() -> None:
        transport, _ = await loop.create_datagram_endpoint(
            asyncio.DatagramProtocol, local_addr=("127.0.0.1", 0)
        )
        try:
            with data_file.open("rb") as file, pytest.raises(RuntimeError) as info:
                await loop.sendfile(transport, file)  # type: ignore[arg-type]
            assert str(info.value) == f"sendfile is not supported for transport {transport!r}"
        finally:
            transport.close()
            await asyncio.sleep(0)

    run_body(loop, body)
