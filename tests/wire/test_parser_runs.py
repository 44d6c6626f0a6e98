"""Long runs of identical chunks (a download): the merged parser takes a run of chunks with the
same header in one match. Whatever the data holds (their own header, line ends, reports) and
wherever the run is damaged or cut, it gives the bytes and the other events of the unmerged
parser, in any split."""

from __future__ import annotations

import itertools
import os
from collections.abc import Sequence

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fuzz.targets import merge_payloads
from n58aio.wire import NEED_DATA, AtParser, Event, Payload, WireError

EXAMPLES = int(os.environ.get("N58_HYPOTHESIS_EXAMPLES", "300"))
PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# data bytes that look like framing: the chunk's own header, line ends, a report
_NASTY = [b"\r", b"\n", b"\r\n", b"\r\n+HTTPRECV: 7,", b"+HTTPRECV: 7,", b"\r\nOK\r\n", b"7,"]


def _run(wire: bytes, points: Sequence[int], *, merge: bool) -> list[Event]:
    parser = AtParser(max_payload=4096, merge_payload=merge)
    events: list[Event] = []
    for start, stop in itertools.pairwise([0, *points, len(wire)]):
        events += parser.feed(wire[start:stop])
    assert parser.next_event() is NEED_DATA
    return events


@st.composite
def chunk_data(draw: st.DrawFn, length: int) -> bytes:
    pieces = draw(st.lists(st.sampled_from(_NASTY) | st.binary(max_size=4), max_size=6))
    data = b"".join(pieces)[:length]
    return data + draw(st.binary(min_size=length - len(data), max_size=length - len(data)))


@st.composite
def runs(draw: st.DrawFn) -> bytes:
    """Back-to-back chunks of one length (sometimes with their trailing CR LF), a few of them
    damaged: a byte lost or added, another length, a report between, the other family."""
    length = draw(st.sampled_from([1, 2, 7, 20]))
    trailer = draw(st.sampled_from([b"\r\n", b""]))
    wire = b""
    for _ in range(draw(st.integers(0, 40))):
        data = draw(chunk_data(length))
        header = b"\r\n+HTTPRECV: %d," % length
        damage = draw(st.integers(0, 30))
        if damage == 0 and data:
            data = data[1:]  # a byte lost: the length runs into the next header
        elif damage == 1:
            data += b"x"  # a byte too many
        elif damage == 2:
            header = b"\r\n+HTTPRECV: %d," % (length + 1)
            data += b"y"  # another length, complete
        elif damage == 3:
            wire += b"\r\n+CSQ: 17,99\r\n"
        elif damage == 4:
            header = b"\r\n+HTTPSRECV: %d," % length
        elif damage == 5:
            header = header[:-1] + b"0,"  # a damaged length
        wire += header + data + trailer
    return wire + draw(st.sampled_from([b"", b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n", b"\r"]))


@PROPERTY
@given(wire=runs(), data=st.data())
def test_runs_give_the_bytes_of_the_unmerged_parser_in_any_split(
    wire: bytes, data: st.DataObject
) -> None:
    expected = merge_payloads(_run(wire, [], merge=False))
    assert merge_payloads(_run(wire, [], merge=True)) == expected
    if len(wire) > 1:
        points = sorted(data.draw(st.lists(st.integers(1, len(wire) - 1), unique=True)))
        assert merge_payloads(_run(wire, points, merge=True)) == expected


def _chunks(count: int, length: int = 40) -> tuple[bytes, bytes]:
    """``count`` chunks whose data hold their own header; the wire and the data."""
    body = (b"\r\n+HTTPRECV: 40," * 3)[:length]
    pieces = [bytes([65 + i % 26]) + body[1:] for i in range(count)]
    wire = b"".join(b"\r\n+HTTPRECV: %d," % length + piece + b"\r\n" for piece in pieces)
    return wire, b"".join(pieces)


def test_a_long_run_is_one_event_with_every_byte() -> None:
    wire, data = _chunks(50)
    parser = AtParser(merge_payload=True)
    assert parser.feed(wire) == [Payload("HTTP", data)]
    assert parser.buffered == 0


@pytest.mark.parametrize("cut", [1, 5, 17, 41, 60])
def test_a_run_cut_anywhere_holds_the_last_chunk_until_it_is_confirmed(cut: int) -> None:
    wire, data = _chunks(30)
    parser = AtParser(merge_payload=True)
    first = parser.feed(wire[: len(wire) - cut])
    rest = parser.feed(wire[len(wire) - cut :])
    assert merge_payloads([*first, *rest]) == [Payload("HTTP", data)]
    # a chunk is only handed on once the byte after it (its CR) is here
    assert sum(len(event.data) for event in first if isinstance(event, Payload)) <= len(data) - (
        40 if cut > 2 else 0
    )


@pytest.mark.parametrize("where", [0, 1, 6, 20, 29])
def test_a_byte_lost_inside_a_run_stops_it_where_the_unmerged_parser_does(where: int) -> None:
    wire, _ = _chunks(30)
    period = len(wire) // 30
    broken = wire[: where * period + 25] + wire[where * period + 26 :]
    merged = merge_payloads(AtParser(merge_payload=True).feed(broken))
    assert merged == merge_payloads(AtParser().feed(broken))
    assert isinstance(merged[-1], WireError)
