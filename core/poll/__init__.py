"""OS pollers behind one interface, and the choice of a default.

The default is the best the OS offers (epoll, then kqueue, then poll, then select); the
``TREADLE_POLLER`` environment variable or ``new_event_loop(poller=...)`` picks another.
"""

from __future__ import annotations

import os
import select
from collections.abc import Callable

from ._base import READ, WRITE, Poller
from ._poll import PollPoller
from ._select import SelectPoller

__all__ = ["READ", "WRITE", "Poller", "available_pollers", "create_poller", "default_poller_name"]

_FACTORIES: dict[str, Callable[[], Poller]] = {}
if hasattr(select, "epoll"):
    from ._epoll import EpollPoller

    _FACTORIES["epoll"] = EpollPoller
if hasattr(select, "kqueue"):
    from ._kqueue import KqueuePoller

    _FACTORIES["kqueue"] = KqueuePoller
if hasattr(select, "poll"):
    _FACTORIES["poll"] = PollPoller
_FACTORIES["select"] = SelectPoller

ENV_VAR = "TREADLE_POLLER"


def available_pollers() -> list[str]:
    """Names of the pollers this OS supports, best first."""
    return list(_FACTORIES)


def default_poller_name() -> str:
    chosen = os.environ.get(ENV_VAR)
    if chosen:
        _check_name(chosen, f"{ENV_VAR} environment variable")
        return chosen
    return next(iter(_FACTORIES))


def create_poller(name: str | None = None) -> Poller:
    if name is None:
        name = default_poller_name()
    _check_name(name, "poller")
    return _FACTORIES[name]()


def _check_name(name: str, source: str) -> None:
    if name not in _FACTORIES:
        known = ", ".join(_FACTORIES)
        raise ValueError(f"unknown {source} {name!r}: this system offers {known}")
