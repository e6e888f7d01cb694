"""Waking a loop that is blocked in its poller, from another thread or a signal handler.

On Linux an eventfd does it with one fd and a counter that coalesces any number of wake-ups into
one read; elsewhere a non-blocking socketpair plays the same role. The scheduler only asks for a
wake-up while it is (about to be) blocked, so a busy loop pays nothing for
``call_soon_threadsafe``.

One write serves one poll: the first ``call_soon_threadsafe`` that finds the scheduler's
``polling`` flag up lowers it, then writes (_scheduler.py says why that cannot lose a wake-up).
Before, every post wrote until the loop's thread ran again: its poll had returned but it still
waited for the GIL, so one posting thread made 198k eventfd writes for 200k posts.

Skipping writes has a trap, which ``PosterGate`` closes. asyncio writes to its self-pipe on every
post; the write is a system call that releases the GIL, so the loop's thread gets its turn after
every post. Without the write, threads posting in a tight loop hold the GIL for whole switch
intervals, four of them outpost the loop about three to one, and the queue grows without bound
(issue 13, defect 1: 4 threads for 8 s, a ``sleep(0.5)`` took 8.1 s and 1.9 million callbacks
were queued). So a thread that posts to a running loop whose queue is past ``POSTER_BACKLOG``
waits until the loop starts its next iteration, by which time the loop has run what was queued
when the thread began to wait. The queue stays within the mark plus one post per thread plus
what the loop's own callbacks add, timers stay on time for any number of threads (64 measured),
and the loop never idles while a thread has something to post: it lets the waiting threads go
as it starts each iteration, and they post while it runs or polls. Below the mark a post costs
one ``len()``; a busy loop pays one list-cell test per iteration while nobody waits.

The wait ends early whenever waiting could only stall the thread: when the loop stops or is
closed (``close``, from the loop's ``finally``, so a KeyboardInterrupt too), when no loop runs,
on the loop's own thread, and after ``POSTER_WAIT_MAX``: a loop stuck that long in one callback
may be waiting for this very thread, so its posters stop waiting until it iterates again (then,
as on asyncio's loop, nothing slows them). A signal handler that posts while its thread waits
here re-enters the RLock and waits (or passes) in its own right.

The mark is 1000 because the collector's youngest generation is collected every 2000
allocations: a queue past that makes each collection walk live handles (4000: call_soon_threadsafe
0.66x uvloop's throughput instead of 0.94x; with gc disabled 4000 would win), and 250-600 make
more hand-offs per callback.
Rejected: a wake-up write per call (asyncio's way: a syscall per post even for one thread);
``time.sleep(0)`` past the mark (yields the GIL, but 16+ threads still outpost the loop, and a
two-tier yield-then-sleep scheme still let 64 threads delay a timer by a second); sleeping an
estimate of the loop's drain time past the mark (session 3: len(queue) x 1 us x threads paced;
the loop ran 1000 callbacks in 0.2-0.4 ms and then idled in its poller until the sleeper woke:
even with one write per poll, call_soon_threadsafe_1t made 0.40x uvloop's wall-clock throughput,
against 0.93x for the wait); blocking posters until the queue drains with no way out (a
deadlock when the loop stops, or when a callback waits for the posting thread: hence the release
on stop and the timeout).
"""

from __future__ import annotations

import os
import socket
import threading

# Queued callbacks past which a thread posting to a running loop waits for the loop's next
# iteration: about half a millisecond of the loop's work.
POSTER_BACKLOG = 1000
# The longest a paced thread waits for the loop to start an iteration. A loop stuck that long in
# one callback may be waiting for this very thread; from then on its posters stop waiting until it
# iterates again.
POSTER_WAIT_MAX = 0.1


class PosterGate:
    """Where threads posting past ``POSTER_BACKLOG`` wait for the loop's next iteration.

    The loop says when it starts and stops running (``open``/``close``); its scheduler calls
    ``release`` at the top of an iteration when ``waiting[0]`` is non-zero, which costs a busy
    loop one list-cell test per iteration while nobody is paced.
    """

    def __init__(self) -> None:
        # invariant: waiting[0] > 0 while a paced thread waits, or after a wait timed out (so the
        # loop's next iteration ends the stuck state); only release() sets it back to 0. A list
        # cell: the compiled scheduler reads it every iteration (docs/design.md, "The compiled
        # build").
        self.waiting: list[int] = [0]
        # An RLock underneath (Condition's default): a signal handler that posts may run while
        # its thread is inside a wait below.
        self._turn = threading.Condition()
        self._round = 0  # iterations that released posters; guarded by _turn
        self._stuck_round = -1  # the round a wait timed out in: nobody waits until it ends
        self._loop_thread: int | None = None  # the loop's thread while it runs

    def open(self, loop_thread: int) -> None:
        """The loop starts running on ``loop_thread``."""
        self._loop_thread = loop_thread

    def close(self) -> None:
        """The loop stops running: let every waiting thread go, and pace nobody until ``open``."""
        with self._turn:
            self._loop_thread = None
            self._release()

    def release(self) -> None:
        """The loop starts an iteration: the threads waiting for it may post again."""
        with self._turn:
            self._release()

    def _release(self) -> None:
        self._round += 1
        self.waiting[0] = 0
        self._turn.notify_all()

    def wait(self) -> None:
        """Block the calling thread until the loop starts its next iteration.

        Not on the loop's own thread (it is the one that drains the queue), not while no loop
        runs (nobody would release us), and not while the loop is stuck (see POSTER_WAIT_MAX).
        """
        loop_thread = self._loop_thread
        if loop_thread is None or loop_thread == threading.get_ident():
            return
        with self._turn:
            if self._loop_thread is None or self._stuck_round == self._round:
                return
            self.waiting[0] += 1
            round_ = self._round
            # Only release() notifies, and it always starts a new round.
            if not self._turn.wait(POSTER_WAIT_MAX) and self._round == round_:
                self._stuck_round = round_  # waiting[0] stays up until the loop iterates


class Waker:
    """An fd that becomes readable when ``wake()`` is called."""

    def __init__(self) -> None:
        self._eventfd = -1
        self._rsock: socket.socket | None = None
        self._wsock: socket.socket | None = None
        # wake() runs on any thread and close() on the loop's: without the lock, a thread that
        # read the eventfd's number just before close() could write 8 bytes into whatever file
        # got that number next. Reentrant: a Python signal handler that posts may run inside
        # wake() on the same thread. wake() is called once per poll at most, so the lock is
        # off the hot path.
        self._lock = threading.RLock()
        if hasattr(os, "eventfd"):
            self._eventfd = os.eventfd(0, os.EFD_NONBLOCK | os.EFD_CLOEXEC)
        else:
            self._rsock, self._wsock = socket.socketpair()
            self._rsock.setblocking(False)
            self._wsock.setblocking(False)

    def fileno(self) -> int:
        if self._rsock is not None:
            return self._rsock.fileno()
        return self._eventfd

    def wake(self) -> None:
        with self._lock:
            try:
                if self._wsock is not None:
                    self._wsock.send(b"\0")
                elif self._eventfd >= 0:
                    os.eventfd_write(self._eventfd, 1)
            except (BlockingIOError, InterruptedError):
                pass  # already full of wake-ups: the loop will wake anyway
            except OSError:
                pass  # closed during interpreter or loop shutdown: nobody is left to wake

    def drain(self) -> None:
        try:
            if self._rsock is not None:
                while self._rsock.recv(4096):
                    pass
            elif self._eventfd >= 0:
                os.eventfd_read(self._eventfd)
        except (BlockingIOError, InterruptedError):
            pass

    def close(self) -> None:
        with self._lock:  # no wake() is between reading the fd's number and writing to it
            if self._rsock is not None:
                self._rsock.close()
            if self._wsock is not None:
                self._wsock.close()
            if self._eventfd >= 0:
                fd, self._eventfd = self._eventfd, -1
                os.close(fd)
