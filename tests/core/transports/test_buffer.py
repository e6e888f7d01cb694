"""WriteBuffer and the water marks, with plain bytes: no loop, no socket."""

from __future__ import annotations

import array
import weakref
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from treadle.core.transports._buffer import WriteBuffer, frozen_chunk
from treadle.core.transports._flow import WriteFlowControl, checked_limits


def test_new_buffer_is_empty() -> None:
    buffer = WriteBuffer()
    assert not buffer
    assert buffer.size == len(buffer) == 0
    assert buffer.chunk_count() == 0


def test_append_and_advance_across_chunks() -> None:
    buffer = WriteBuffer()
    buffer.append(b"hello ")
    buffer.append(bytearray(b"big "))
    buffer.append(memoryview(b"world"))
    assert buffer.size == 15
    assert buffer.head_chunks(2) == [b"hello ", b"big "]
    buffer.advance(8)
    assert bytes(buffer.head()) == b"g "
    assert buffer.take_all() == b"g world"
    assert not buffer


def test_append_from_an_offset() -> None:
    buffer = WriteBuffer()
    buffer.append(b"abcdef", 4)
    buffer.append(b"xyz", 3)  # nothing left: not stored
    assert buffer.chunk_count() == 1
    assert buffer.take_all() == b"ef"


def test_empty_writes_are_not_stored() -> None:
    buffer = WriteBuffer()
    buffer.extend([b"", bytearray(), memoryview(b"")])
    assert buffer.chunk_count() == 0


def test_mutable_data_is_copied() -> None:
    data = bytearray(b"original")
    buffer = WriteBuffer()
    buffer.append(data)
    buffer.append(memoryview(data)[2:])
    data[:] = b"CHANGED!"
    assert buffer.take_all() == b"originaliginal"


def test_bytes_are_kept_without_a_copy() -> None:
    data = b"immutable"
    assert frozen_chunk(data) is data


def test_sizes_count_bytes_of_wide_items() -> None:
    ints = array.array("i", [1, 2, 3])
    buffer = WriteBuffer()
    buffer.append(memoryview(ints), 4)
    assert buffer.size == 3 * ints.itemsize - 4
    assert buffer.take_all() == ints.tobytes()[4:]


def test_readonly_views_of_wide_items_are_cast_not_copied() -> None:
    view = memoryview(array.array("i", [7, 8]).tobytes()).cast("i")
    chunk = frozen_chunk(view)
    assert isinstance(chunk, memoryview)
    assert len(chunk) == view.nbytes


def test_advance_past_the_end_raises() -> None:
    buffer = WriteBuffer()
    buffer.append(b"abc")
    with pytest.raises(ValueError, match="cannot advance by 4 bytes: 3 are buffered"):
        buffer.advance(4)
    with pytest.raises(ValueError, match="cannot advance by -1 bytes"):
        buffer.advance(-1)
    assert buffer.size == 3


chunks = st.one_of(
    st.binary(max_size=300),
    st.binary(max_size=300).map(bytearray),
    st.binary(max_size=300).map(memoryview),
)


@given(
    writes=st.lists(st.tuples(chunks, st.integers(min_value=0, max_value=400)), max_size=40),
    sends=st.lists(st.integers(min_value=0, max_value=1000), max_size=60),
    batch=st.integers(min_value=1, max_value=5),
)
def test_bytes_out_equal_bytes_in(
    writes: list[tuple[Any, int]], sends: list[int], batch: int
) -> None:
    """Whatever the chunking and the OS's partial sends, the byte stream is preserved."""
    buffer = WriteBuffer()
    expected = bytearray()
    sent = bytearray()
    sends_iter = iter(sends)
    for data, start in writes:
        start = min(start, len(data))
        buffer.append(data, start)
        expected += bytes(data)[start:]
        assert buffer.size == len(expected) - len(sent)
        # The "OS" takes some bytes of the head chunks, as send()/sendmsg() would.
        take = next(sends_iter, 0)
        head = b"".join(bytes(chunk) for chunk in buffer.head_chunks(batch)) if buffer else b""
        took = min(take, len(head))
        sent += head[:took]
        buffer.advance(took)
        assert all(len(chunk) for chunk in buffer.head_chunks(1000))
    sent += buffer.take_all()
    assert sent == expected


# -- water marks (transports/_flow.py, shared by every write transport) --------------------


def test_default_limits_are_asyncios() -> None:
    assert checked_limits(None, None) == (65536, 16384)


@given(
    high=st.one_of(st.none(), st.integers(min_value=-10, max_value=10**7)),
    low=st.one_of(st.none(), st.integers(min_value=-10, max_value=10**7)),
)
def test_limits_follow_asyncios_rules(high: int | None, low: int | None) -> None:
    want_high = high if high is not None else (65536 if low is None else 4 * low)
    want_low = low if low is not None else want_high // 4
    if want_high >= want_low >= 0:
        assert checked_limits(high, low) == (want_high, want_low)
    else:
        with pytest.raises(ValueError, match=r"must be >= 0$") as info:
            checked_limits(high, low)
        assert str(info.value) == f"high ({want_high!r}) must be >= low ({want_low!r}) must be >= 0"


class Calls:
    def __init__(self, fail: bool = False) -> None:
        self.calls: list[str] = []
        self.fail = fail

    def pause_writing(self) -> None:
        self.calls.append("pause")
        if self.fail:
            raise OSError("pause failed")

    def resume_writing(self) -> None:
        self.calls.append("resume")
        if self.fail:
            raise OSError("resume failed")


@given(
    sizes=st.lists(st.integers(min_value=0, max_value=300), max_size=50),
    high=st.integers(min_value=0, max_value=200),
    low_fraction=st.floats(min_value=0, max_value=1),
)
def test_pause_and_resume_alternate_at_the_marks(
    sizes: list[int], high: int, low_fraction: float
) -> None:
    reports: list[str] = []
    flow = WriteFlowControl(lambda message, exc: reports.append(message))
    low = int(high * low_fraction)
    flow.set_limits(high, low)
    protocol = Calls()
    paused = False
    previous = 0
    for size in sizes:
        if size >= previous:
            flow.after_growth(protocol, size)
            if size > high:
                paused = True
        else:
            flow.after_shrink(protocol, size)
            if size <= low:
                paused = False
        previous = size
        assert flow.paused == paused
    # Calls alternate, starting with a pause: never two pauses (or resumes) in a row.
    assert protocol.calls == ["pause", "resume"] * (len(protocol.calls) // 2) + (
        ["pause"] if len(protocol.calls) % 2 else []
    )
    assert not reports


def test_exceptions_from_the_protocol_are_reported() -> None:
    reports: list[tuple[str, BaseException]] = []
    flow = WriteFlowControl(lambda message, exc: reports.append((message, exc)))
    flow.set_limits(10, 5)
    protocol = Calls(fail=True)
    flow.after_growth(protocol, 11)
    flow.after_shrink(protocol, 5)
    assert [message for message, _ in reports] == [
        "protocol.pause_writing() failed",
        "protocol.resume_writing() failed",
    ]
    assert protocol.calls == ["pause", "resume"]


class _Owner:
    """A transport's stand-in: the flow control reports through one of its methods."""

    def __init__(self) -> None:
        self.reports: list[str] = []

    def report(self, message: str, exc: BaseException) -> None:
        self.reports.append(message)


def test_a_method_reporter_is_held_weakly_and_still_reports() -> None:
    owner = _Owner()
    flow = WriteFlowControl(owner.report)
    flow.set_limits(10, 5)
    flow.after_growth(Calls(fail=True), 11)
    assert owner.reports == ["protocol.pause_writing() failed"]
    # The flow control keeps no strong reference: the owner is freed by reference counting
    # alone (issue 13, defect 4), and a failure after that is reported nowhere, without error.
    owner_ref = weakref.ref(owner)
    del owner
    assert owner_ref() is None
    flow.after_shrink(Calls(fail=True), 5)


def test_a_method_reporter_costs_no_weak_reference_of_its_own() -> None:
    # A plain weakref.ref() is shared among all such references to an object, so holding the
    # owner weakly adds no object per connection once anything else refers to it weakly (the
    # loop's fd-owner map does, for every transport).
    owner = _Owner()
    shared = weakref.ref(owner)
    flow = WriteFlowControl(owner.report)
    assert weakref.getweakrefcount(owner) == 1
    assert shared() is owner
    assert not flow.paused
