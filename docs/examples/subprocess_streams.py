"""Child processes on treadle with asyncio's own API: communicate, a shell, a timeout and kill."""

from __future__ import annotations

import asyncio
import sys

import treadle

PIPE = asyncio.subprocess.PIPE


async def main() -> None:
    # Bytes in, bytes out: communicate() feeds stdin and reads stdout/stderr at the same time.
    upper = "import sys; sys.stdout.write(sys.stdin.read().upper())"
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", upper, stdin=PIPE, stdout=PIPE
    )
    out, _ = await proc.communicate(b"hello from the parent")
    print(out.decode(), "| exit status", proc.returncode)

    # A shell command line, its stderr folded into stdout.
    proc = await asyncio.create_subprocess_shell(
        "echo to stdout; echo to stderr >&2; exit 3", stdout=PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await proc.communicate()
    print(out.decode().split("\n")[:2], "| exit status", proc.returncode)

    # A child that takes too long: wait() under a timeout, then kill() and reap it.
    proc = await asyncio.create_subprocess_exec("sleep", "30")
    try:
        await asyncio.wait_for(proc.wait(), timeout=0.1)
    except TimeoutError:
        proc.kill()
        print("killed, exit status", await proc.wait())

    # A program that does not exist fails where it is awaited.
    try:
        await asyncio.create_subprocess_exec("/no/such/program")
    except FileNotFoundError as exc:
        print("FileNotFoundError:", exc.strerror)


treadle.run(main())

# Expected output:
# HELLO FROM THE PARENT | exit status 0
# ['to stdout', 'to stderr'] | exit status 3
# killed, exit status -9
# FileNotFoundError: No such file or directory
