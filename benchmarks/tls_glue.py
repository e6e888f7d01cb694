"""What treadle's TLS layer costs per echoed message, apart from sockets, loop and scheduler.

``python -m benchmarks.tls_glue [SIZE] [COUNT]`` drives one server-side ``TLSProtocol``
(core/tls/_transport.py) with a client ``ssl.SSLObject``: each client record is put in the
shared receive buffer and handed to ``buffer_updated()`` as the socket transport would, an echo
protocol writes the plaintext back, and the ciphertext goes to a carrier that drops it. It
prints the CPU time per message of that path, of OpenSSL's part alone (decrypt from and
encrypt to the memory BIOs, with the plaintext copied out once as ``bytes``), and their
difference: the Python glue. Best of 5 passes.

Not a loop comparison (the registry's benchmarks are): a tool for changes to core/tls/, which
it reaches through private names.
"""

from __future__ import annotations

import asyncio
import ssl
import sys
import time
from typing import Any

from benchmarks.echo import tls
from treadle.core.tls._machine import TLSState
from treadle.core.tls._transport import TLSProtocol

_PASSES = 5


class _Carrier:
    """The socket transport's place: takes ciphertext, keeps it only during the handshake."""

    def __init__(self) -> None:
        self.kept: list[bytes] | None = []

    def write(self, data: bytes) -> None:
        if self.kept is not None:
            self.kept.append(data)

    def is_closing(self) -> bool:
        return False

    def get_write_buffer_size(self) -> int:
        return 0


class _Echo(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport

    def data_received(self, data: bytes) -> None:
        self.transport.write(data)


class _Pair:
    """A client SSLObject and a server TLSProtocol with a completed handshake."""

    def __init__(self) -> None:
        self.buffer = memoryview(bytearray(256 * 1024))
        self.loop = asyncio.new_event_loop()  # never run: the protocol only keeps it
        self.server = TLSProtocol(
            self.loop, _Echo(), tls.server_context(), None, self.buffer, server_side=True
        )
        self.carrier = _Carrier()
        self.server._raw = self.carrier
        self.incoming, self.outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
        context = tls.client_context(tls.cafile())
        self.client = context.wrap_bio(
            self.incoming, self.outgoing, server_hostname=tls.SERVER_HOSTNAME
        )
        for _ in range(10):
            try:
                self.client.do_handshake()
            except ssl.SSLWantReadError:
                pass
            self._exchange()
        if self.server._machine.state is not TLSState.OPEN:
            raise RuntimeError("the benchmark's handshake did not complete")
        self.carrier.kept = None

    def _exchange(self) -> None:
        data = self.outgoing.read()
        if data:
            self.buffer[: len(data)] = data
            self.server.buffer_updated(len(data))
        for chunk in self.carrier.kept or ():
            self.incoming.write(chunk)
        if self.carrier.kept:
            self.carrier.kept.clear()

    def records(self, payload: bytes, count: int) -> list[bytes]:
        """``count`` client messages, encrypted in order (records cannot be replayed)."""
        out = []
        for _ in range(count):
            self.client.write(payload)
            out.append(self.outgoing.read())
        return out

    def close(self) -> None:
        self.loop.close()


def _through_protocol(pair: _Pair, records: list[bytes]) -> float:
    buffer, updated = pair.buffer, pair.server.buffer_updated
    start = time.process_time()
    for record in records:
        size = len(record)
        buffer[:size] = record
        updated(size)
    return time.process_time() - start


def _openssl_alone(pair: _Pair, records: list[bytes]) -> float:
    machine = pair.server._machine
    engine, incoming, outgoing = machine._engine, machine._incoming, machine._outgoing
    buffer = pair.buffer
    start = time.process_time()
    for record in records:
        incoming.write(record)
        count = engine.read(len(buffer), buffer)
        while incoming.pending or engine.pending():
            count += engine.read(len(buffer) - count, buffer[count:])
        engine.write(buffer[:count].tobytes())
        outgoing.read()
    return time.process_time() - start


def main(argv: list[str]) -> int:
    size = int(argv[0]) if argv else 1024
    count = int(argv[1]) if len(argv) > 1 else 10_000
    payload = bytes(i % 251 for i in range(size))
    pair = _Pair()
    try:
        total = min(_through_protocol(pair, pair.records(payload, count)) for _ in range(_PASSES))
        alone = min(_openssl_alone(pair, pair.records(payload, count)) for _ in range(_PASSES))
    finally:
        pair.close()
    total_us, alone_us = total / count * 1e6, alone / count * 1e6
    print(
        f"{size} B: TLSProtocol path {total_us:.2f} us/message, OpenSSL alone {alone_us:.2f}, "
        f"glue {total_us - alone_us:.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
