"""Echo benchmarks: a server on the loop under test, blocking clients in their own processes.

How the pieces fit, so new kinds can be added without touching the rest:

- ``endpoints.py``: one entry per transport (``tcp``, ``unix`` and ``udp``): how the parent
  binds a listening socket and how a client connects to it. A udp client connects its socket,
  so the same round-trip code serves it, and ends with an empty datagram instead of a close.
- ``servers/``: one module per server style, registered in ``servers/__init__.py``. A style
  is ``async def serve(loop, listener, connections)``: echo every byte back until
  ``connections`` clients have connected and closed. ``sock`` uses ``loop.sock_accept`` /
  ``sock_recv`` / ``sock_sendall``; Protocol and streams styles plug in the same way
  (``loop.create_server(sock=listener)``, ``asyncio.start_server(sock=listener)``).
- ``client.py``: the one client every style shares. It connects, does some warm-up round
  trips, waits at a start barrier, then times ``count`` round trips of ``size`` bytes.
- ``bench.py``: starts the clients, runs the server on the loop under test, and turns the
  clients' timestamps into requests per second.
"""
