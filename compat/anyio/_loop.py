"""The loop a treadle-backend run uses, from ``backend_options``."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from treadle.core import EventLoop, new_event_loop

_OPTIONS = ("clock", "poller")


def loop_factory(options: dict[str, Any]) -> Callable[[], EventLoop]:
    """``new_event_loop`` with the given options bound; TypeError naming any unknown option."""
    unknown = sorted(set(options) - set(_OPTIONS))
    if unknown:
        raise TypeError(
            f"unknown treadle backend option(s) {', '.join(map(repr, unknown))}; "
            "the treadle backend accepts debug, clock and poller"
        )
    return functools.partial(new_event_loop, **options)
