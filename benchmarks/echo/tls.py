"""Certificates for the TLS benchmarks: one trustme CA per process, its PEM in a file.

The server side (the loop under test) uses ``server_context()``; client processes get the CA
file's path (``cafile()``) on their command line and build ``client_context(cafile)``. The file
is removed when the process that made it exits. TLS 1.3 with trustme's ECDSA P-256 keys: what
a current client and server negotiate by default.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import ssl
import tempfile

SERVER_HOSTNAME = "127.0.0.1"


@functools.cache
def _material() -> tuple[ssl.SSLContext, str]:
    import trustme  # a bench/test dependency, imported only when a TLS benchmark runs

    ca = trustme.CA()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(SERVER_HOSTNAME).configure_cert(context)
    fd, path = tempfile.mkstemp(prefix="treadle-bench-ca-", suffix=".pem")
    with os.fdopen(fd, "wb") as file:
        file.write(ca.cert_pem.bytes())
    atexit.register(_remove, path)
    return context, path


def _remove(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)


def server_context() -> ssl.SSLContext:
    return _material()[0]


def cafile() -> str:
    return _material()[1]


def client_context(path: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=path)
