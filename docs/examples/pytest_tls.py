"""A TLS server test in a few lines: treadle's pytest fixtures, AnyIO's TLS streams, trustme.

The test below is what goes in your test suite; this program writes it to a temporary directory
and runs pytest on it, the way you would from a shell.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from pathlib import Path

TEST = """
import ssl

import anyio
import pytest
from anyio.abc import SocketAttribute
from anyio.streams.tls import TLSListener, TLSStream


@pytest.fixture
def anyio_backend():
    return "treadle"


async def shout(stream):
    async with stream:
        await stream.send((await stream.receive()).upper())


@pytest.mark.anyio
async def test_tls_echo(treadle_server_context, treadle_client_context):
    treadle_server_context.verify_mode = ssl.CERT_REQUIRED  # mutual TLS
    tcp = await anyio.create_tcp_listener(local_host="127.0.0.1")
    port = tcp.extra(SocketAttribute.local_port)
    listener = TLSListener(tcp, treadle_server_context)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, shout)
        raw = await anyio.connect_tcp("127.0.0.1", port)
        client = await TLSStream.wrap(raw, hostname="127.0.0.1", ssl_context=treadle_client_context)
        async with client:
            await client.send(b"hello")
            assert await client.receive() == b"HELLO"
        tg.cancel_scope.cancel()
"""

with tempfile.TemporaryDirectory() as directory:
    Path(directory, "test_tls.py").write_text(TEST)
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_tls.py"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
    )
summary = done.stdout.strip().splitlines()[-1]
print(re.sub(r" in [\d.]+s", "", summary))

# Expected output:
# 1 passed
