"""Certificates for the TLS tests: one trustme CA per test run, contexts built from it.

``certs`` (session-wide, do not modify its contexts) gives a server context (leaf for 127.0.0.1
and ::1) and a client context that trusts the CA, plus methods making fresh contexts for tests
that change them or need another leaf (expired, client certificates).
"""

from __future__ import annotations

import ssl
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trustme

# stream_pairs (Endpoint, Recorder, run_body) lives with the transport tests.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "transports"))

from stream_pairs import HAS_IPV6, Endpoint, short_socket_dir
from tls_support import Certs


@pytest.fixture(scope="session")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="session")
def _leaf(ca: trustme.CA) -> trustme.LeafCert:
    return ca.issue_cert("127.0.0.1", "::1")


@pytest.fixture(scope="session")
def certs(ca: trustme.CA, _leaf: trustme.LeafCert) -> Certs:
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    _leaf.configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return Certs(ca, server, client)


@pytest.fixture(
    params=[
        pytest.param("tcp4", id="tcp4"),
        pytest.param("tcp6", id="tcp6", marks=pytest.mark.skipif(not HAS_IPV6, reason="no ::1")),
        pytest.param("unix", id="unix"),
    ]
)
def endpoint(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Endpoint]:
    """TLS over TCP/IPv4, TCP/IPv6 and a Unix socket."""
    with short_socket_dir(tmp_path) as directory:
        yield Endpoint(str(request.param), directory)


@pytest.fixture
def tcp_endpoint(tmp_path: Path) -> Endpoint:
    return Endpoint("tcp4", tmp_path)
