"""Subprocesses: loop.subprocess_exec/shell, the SubprocessTransport, and child watching.

- ``_spawn.py``: argument checks, ``subprocess.Popen``, wiring the pipes, the awaited steps.
- ``_transport.py``: ``SubprocessTransport`` and ``PipeEnd``, the protocol of each pipe.
- ``_watcher.py``: ``PidfdWatcher`` (Linux) and ``SigchldWatcher`` (the fallback).
- ``_orphans.py``: the reaper for children that outlive their loop.
"""

from __future__ import annotations

from ._orphans import orphan_count
from ._spawn import (
    check_exec_arguments,
    check_shell_arguments,
    subprocess_exec,
    subprocess_shell,
)
from ._transport import SubprocessTransport
from ._watcher import ChildWatcher, create_watcher, pidfd_usable

__all__ = [
    "ChildWatcher",
    "SubprocessTransport",
    "check_exec_arguments",
    "check_shell_arguments",
    "create_watcher",
    "orphan_count",
    "pidfd_usable",
    "subprocess_exec",
    "subprocess_shell",
]
