"""TLS for treadle's stream transports: a sans-IO engine and the transport glue around it.

Internal to treadle.core: users reach it through ``ssl=`` on the loop's stream methods and
``loop.start_tls()``, and see asyncio's transport types.

- ``_machine.py``: ``TLSMachine``, TLS over ssl.MemoryBIO, bytes in and bytes out. Pure.
- ``_transport.py``: ``TLSProtocol`` (the carrier's protocol) and ``SSLTransport`` (the
  application's transport): timers, flow control, the application's callbacks.
- ``_start.py``: ``TLSOptions`` for the stream methods, and ``start_tls``.
"""

from __future__ import annotations

from ._machine import TLSMachine, TLSState
from ._start import TLSOptions, start_tls
from ._transport import SSLTransport, TLSProtocol

__all__ = ["SSLTransport", "TLSMachine", "TLSOptions", "TLSProtocol", "TLSState", "start_tls"]
