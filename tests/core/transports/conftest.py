"""Fixtures of the transport tests: ``endpoint`` runs a test over TCP/IPv4, TCP/IPv6 and Unix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from stream_pairs import HAS_IPV6, Endpoint, short_socket_dir

STREAM_KINDS = [
    pytest.param("tcp4", id="tcp4"),
    pytest.param("tcp6", id="tcp6", marks=pytest.mark.skipif(not HAS_IPV6, reason="no ::1")),
    pytest.param("unix", id="unix"),
]


@pytest.fixture(params=STREAM_KINDS)
def endpoint(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Endpoint]:
    with short_socket_dir(tmp_path) as directory:
        yield Endpoint(str(request.param), directory)


@pytest.fixture
def tcp_endpoint(tmp_path: Path) -> Endpoint:
    return Endpoint("tcp4", tmp_path)


@pytest.fixture
def unix_endpoint(tmp_path: Path) -> Iterator[Endpoint]:
    with short_socket_dir(tmp_path) as directory:
        yield Endpoint("unix", directory)
