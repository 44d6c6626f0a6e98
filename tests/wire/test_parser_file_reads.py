"""File-read replies (``+FSRF``/``+FSRFEX``) carry raw bytes: the parser takes them by count."""

from __future__ import annotations

import pytest

from n58aio.wire import AtParser
from n58aio.wire.events import Event, FinalResult, InfoLine, Urc, WireError

CONTENT = b"line1\r\nOK\r\n+FSRF: 3,\xff\x00\r"


def _events(chunks: list[bytes], command: str) -> list[Event]:
    parser = AtParser()
    parser.begin_command(command)
    events: list[Event] = []
    for chunk in chunks:
        events += parser.feed(chunk)
    return events


@pytest.mark.parametrize("split", [None, 1, 3, 7])
def test_fsrf_content_with_line_ends_is_one_reply_line(split: int | None) -> None:
    wire = (
        b'AT+FSRF="a.bin",0,%d\r\r\n+FSRF: %d,' % (len(CONTENT), len(CONTENT))
        + CONTENT
        + b"\r\nOK\r\n"
    )
    chunks = [wire] if split is None else [wire[i : i + split] for i in range(0, len(wire), split)]
    events = _events(chunks, f'AT+FSRF="a.bin",0,{len(CONTENT)}')
    lines = [event.text for event in events if isinstance(event, InfoLine)]
    assert lines == [f"+FSRF: {len(CONTENT)},".encode("ascii").decode() + CONTENT.decode("latin-1")]
    assert lines[0].encode("latin-1").endswith(CONTENT)
    assert isinstance(events[-1], FinalResult) and events[-1].ok


def test_fsrfex_header_has_checksum() -> None:
    wire = b"\r\n+FSRFEX: 4,12,\r\n\r\n\r\nOK\r\n"
    events = _events([wire], 'AT+FSRFEX="a",1,0,4')
    assert [e.text for e in events if isinstance(e, InfoLine)] == ["+FSRFEX: 4,12,\r\n\r\n"]


def test_a_file_read_header_outside_its_command_is_distrusted() -> None:
    """A file's content is anyone's bytes: outside the read in flight (a late reply), the
    header is not followed into its content as lines: the line is distrusted (issue #21)."""
    wire = b"\r\n+FSRF: 4,ab\r\n+PBREADY\r\nOK\r\n"
    [event] = _events([wire], "AT+FSFS=a")  # nothing after it: the line is not trusted
    assert isinstance(event, WireError) and event.data == b"+FSRF: 4,"
    assert "damaged payload header" in event.reason


def test_report_before_the_reply_stays_a_report() -> None:
    wire = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n\r\n+FSRF: 2,\r\n\r\nOK\r\n"
    events = _events([wire], "AT+FSRF=a,0,2")
    assert isinstance(events[0], Urc)
    assert [e.text for e in events if isinstance(e, InfoLine)] == ["+FSRF: 2,\r\n"]
