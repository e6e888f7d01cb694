"""Helpers of the subprocess tests: a recording protocol and /proc checks for zombies."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any

PY = sys.executable


class RecordingProtocol(asyncio.SubprocessProtocol):
    """Records every callback in order; ``done`` resolves when connection_lost() runs."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self.data: dict[int, bytearray] = {1: bytearray(), 2: bytearray()}
        self.transport: Any = None
        self.done: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.events.append("connection_made")
        self.transport = transport

    def pipe_data_received(self, fd: int, data: bytes | str) -> None:
        assert isinstance(data, bytes)
        self.data[fd] += data
        event = f"data {fd}"
        if self.events[-1] != event:
            self.events.append(event)

    def pipe_connection_lost(self, fd: int, exc: Exception | None) -> None:
        self.events.append(f"pipe_connection_lost {fd} {type(exc).__name__ if exc else None}")

    def process_exited(self) -> None:
        self.events.append("process_exited")

    def connection_lost(self, exc: Exception | None) -> None:
        self.events.append(f"connection_lost {exc}")
        self.done.set_result(None)


def zombie_children() -> list[int]:
    """Pids of this process's children that are zombies (exited, not reaped)."""
    me = os.getpid()
    zombies = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # gone meanwhile
        # Fields after the command name, which is in parentheses and may hold spaces.
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if int(ppid) == me and state == "Z":
            zombies.append(int(name))
    return zombies


def children() -> list[int]:
    """Pids of this process's live or zombie children."""
    me = os.getpid()
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == me:
            found.append(int(name))
    return found
