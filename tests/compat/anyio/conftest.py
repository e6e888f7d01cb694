"""AnyIO's pytest plugin runs the ``@pytest.mark.anyio`` tests here on the "treadle" backend."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    return "treadle"
