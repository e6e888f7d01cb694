"""Transports: sans-IO buffers and flow control, plus the fd plumbing around them.

Internal to treadle.core: users get transports from the loop (create_connection, create_server,
create_datagram_endpoint, connect_read_pipe, ...) and see them as asyncio's transport types.

- ``_buffer.py``: ``WriteBuffer``, the bytes a stream transport has not sent yet. Pure.
- ``_flow.py``: ``WriteFlowControl``, the high/low water marks and pause/resume_writing. Pure.
- ``_fdio.py``: ``LoopIO``, what a transport asks of the loop about its fd.
- ``_base.py``: ``FdTransport``/``ReadingFdTransport``, the lifecycle all the transports share.
- ``_stream.py``: ``SocketTransport``, TCP and Unix stream sockets.
- ``_datagram.py``: ``DatagramTransport``, UDP and Unix datagram sockets.
- ``_pipes.py``: the read and write pipe transports.
"""

from __future__ import annotations
