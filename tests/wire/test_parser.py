"""Unit tests of the sans-IO AT parser: every event kind and every framing rule."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from fuzz.targets import normalise
from n58aio.wire import (
    DEFAULT_MAX_LINE,
    NEED_DATA,
    AtParser,
    Echo,
    Event,
    FinalResult,
    InfoLine,
    Payload,
    Prompt,
    RawData,
    RawEnd,
    RawStart,
    Stray,
    Urc,
    WireError,
    command_name,
)

OK = FinalResult(ok=True, text="OK")
STRAY_OK = FinalResult(ok=True, text="OK", solicited=False)
CLOSED = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"


def feed_bytewise(parser: AtParser, data: bytes) -> list[Event]:
    """Feed ``data`` one byte at a time and collect every event."""
    events: list[Event] = []
    for index in range(len(data)):
        events += parser.feed(data[index : index + 1])
    return events


def both_ways(
    wire: bytes,
    command: str | None = None,
    /,
    *,
    reply_prefix: str | None = None,
    reply_match: Callable[[str], bool] | None = None,
    max_reply_lines: int | None = None,
    data: bytes | None = None,
    echo: bool | None = None,
) -> list[Event]:
    """Parse ``wire`` whole and byte by byte; assert both agree and return the events."""
    results = []
    for whole in (True, False):
        parser = AtParser()
        parser.echo = echo
        if command is not None:
            parser.begin_command(
                command,
                reply_prefix=reply_prefix,
                reply_match=reply_match,
                max_reply_lines=max_reply_lines,
                data=data,
            )
        results.append(parser.feed(wire) if whole else feed_bytewise(parser, wire))
    assert results[0] == results[1]
    return results[0]


PROBE = "AT+N58SYNC=0123456789ABCDEF"
SYNCED = b"AT+N58SYNC=0123456789ABCDEF\r\r\nERROR\r\n"
"""A probe's echo and answer: what brings a distrusting parser back."""
PROBE_ANSWER = [Echo(PROBE), FinalResult(ok=False, text="ERROR")]


def resynced(parser: AtParser, after: bytes = b"") -> list[Event]:
    """Declare the probe, feed ``after`` then its echo and answer; return the events."""
    parser.begin_sync(PROBE)
    return parser.feed(after + SYNCED)


# ---------------------------------------------------------------------- basics


def test_command_name() -> None:
    assert command_name("AT+HTTPPARA=url,x") == "HTTPPARA"
    assert command_name("at+creg?") == "CREG"
    assert command_name("AT + CSQ") == "CSQ"
    assert command_name("ATE0") is None
    assert command_name("AT") is None


def test_need_data_on_empty_and_partial_input() -> None:
    parser = AtParser()
    assert parser.next_event() is NEED_DATA
    parser.begin_command("AT")
    assert parser.feed(b"\r\nO") == []
    assert parser.next_event() is NEED_DATA
    assert parser.feed(b"K") == []  # the line is not complete before its terminator
    assert parser.feed(b"\r") == [OK]
    assert parser.command_in_flight is None


def test_echo_on() -> None:
    events = both_ways(b"AT\r\r\nOK\r\n", "AT")
    assert events == [Echo("AT"), OK]


def test_echo_on_of_extended_command_with_reply() -> None:
    events = both_ways(b"AT+CSQ\r\r\n+CSQ: 20,99\r\n\r\nOK\r\n", "AT+CSQ")
    assert events == [Echo("AT+CSQ"), InfoLine("+CSQ: 20,99"), OK]


def test_echo_off() -> None:
    events = both_ways(b"\r\n+CSQ: 20,99\r\n\r\nOK\r\n", "AT+CSQ")
    assert events == [InfoLine("+CSQ: 20,99"), OK]


def test_echo_is_only_recognised_before_the_reply() -> None:
    # echo off: a reply line that happens to start with "AT" after a first reply line
    events = both_ways(b"\r\nNeoway\r\n\r\nATTENTION\r\n\r\nOK\r\n", "AT+CGMI")
    assert events == [InfoLine("Neoway"), InfoLine("ATTENTION"), OK]


def test_an_echo_behind_a_garbled_line_feed_is_the_echo() -> None:
    # the LF ending the line before (a link-closed report) inverted by noise: the echo comes
    # behind that byte on one line (trust invariant, link-closed-report-end-garbled)
    wire = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\xf5AT+CGMM\r\r\nN58\r\n\r\nOK\r\n"
    events = both_ways(wire, "AT+CGMM", echo=True)
    assert events == [Urc("+HTTPCLOSED: HTTP Link Closed"), Echo("AT+CGMM"), InfoLine("N58"), OK]


@pytest.mark.parametrize(
    "wire",
    [
        b"\r\xf5\xf5AT+CGMM",  # two bytes
        b"\rxAT+CGMM",  # a byte a line may start with
        b"\r\xf5AT+CGM",  # not the command
        b"\r\xf5AT+CGMMX",
        b"\r\n\xf5AT+CGMM",  # after a whole line end: noise the module read on its input
        b"\xf5AT+CGMM",
    ],
)
def test_only_a_garbled_line_feed_may_stand_before_an_echo(wire: bytes) -> None:
    events = both_ways(b"\r\nRING" + wire + b"\r\r\n+CME ERROR: 58\r\n", "AT+CGMM", echo=True)
    assert Echo("AT+CGMM") not in events
    assert events[-1] == FinalResult(ok=False, text="+CME ERROR: 58", code=58, solicited=False)


def test_echo_without_a_command_is_a_report() -> None:
    # nothing in flight: no echo can be expected, the final is stray
    assert both_ways(b"AT\r\r\nOK\r\n") == [Urc("AT"), STRAY_OK]


def test_info_lines_plain_and_prefixed() -> None:
    events = both_ways(b"\r\n869012345678901\r\n\r\nOK\r\n", "AT+CGSN")
    assert events == [InfoLine("869012345678901"), OK]
    events = both_ways(b"\r\n+XIIC:    1,10.107.216.162\r\n\r\nOK\r\n", "AT+XIIC?")
    assert events == [InfoLine("+XIIC:    1,10.107.216.162"), OK]


def test_lines_end_with_cr_or_lf_alone_too() -> None:
    events = both_ways(b"\n+CSQ: 1,2\r\rOK\n", "AT+CSQ")
    assert events == [InfoLine("+CSQ: 1,2"), OK]


def test_blank_and_whitespace_lines_are_skipped() -> None:
    assert both_ways(b"\r\n\r\n   \r\n\r\nOK\r\n", "AT") == [OK]


# ---------------------------------------------------------------------- finals


def test_error() -> None:
    assert both_ways(b"\r\nERROR\r\n", "AT+X") == [FinalResult(ok=False, text="ERROR")]


@pytest.mark.parametrize(
    ("line", "code"),
    [
        ("+CME ERROR: 1001", 1001),
        ("+CME ERROR: 50", 50),
        ("+CME ERROR:3", 3),
        ("+CMS ERROR: 500", 500),
        ("+CME ERROR: PDP not active", None),
        ("+CME ERROR: incorrect parameters", None),
    ],
)
def test_cme_error_numeric_and_text(line: str, code: int | None) -> None:
    events = both_ways(f"\r\n{line}\r\n".encode(), "AT+FILEHTTPACTION=0")
    assert events == [FinalResult(ok=False, text=line, code=code)]


@pytest.mark.parametrize(
    ("command", "line"),
    [
        ("AT+HTTPACTION=0", "+HTTPACTION: SOCKET ID OPEN FAILED"),
        ("AT+HTTPACTION=0", "+HTTPACTION:SOCKET ID OPEN FAILED"),
        ("AT+HTTPSETUP", "+HTTPSETUP: FAIL"),
        ("AT+HTTPACTION=2,5", "+HTTPSEND: ERROR"),
        ("AT+HTTPSSETUP", "+HTTPSSETUP: FAIL"),
        ("AT+HTTPSACTION=2,5", "+HTTPSSEND: ERROR"),
    ],
)
def test_failure_replies_are_final(command: str, line: str) -> None:
    events = both_ways(f"{command}\r\r\n{line}\r\n".encode(), command)
    assert events == [Echo(command), FinalResult(ok=False, text=line)]


def test_failure_reply_without_its_command_is_a_report() -> None:
    # the same text with nothing (or something unrelated) in flight is a report
    assert both_ways(b"\r\n+HTTPSETUP: FAIL\r\n") == [Urc("+HTTPSETUP: FAIL")]
    events = both_ways(b"\r\n+HTTPSETUP: FAIL\r\n\r\nOK\r\n", "AT+CSQ")
    assert events == [Urc("+HTTPSETUP: FAIL"), OK]


def test_success_reply_of_http_command_is_not_final() -> None:
    events = both_ways(b"\r\n+HTTPSETUP: OK\r\n\r\nOK\r\n", "AT+HTTPSETUP")
    assert events == [InfoLine("+HTTPSETUP: OK"), OK]


def test_operation_expired_ends_the_prompt_command() -> None:
    parser = AtParser()
    parser.begin_command("AT+HTTPACTION=2,5", data=b"hello")
    events = parser.feed(b"\r\n>\r\nOPERATION EXPIRED\r\n")
    assert events == [Prompt(), FinalResult(ok=False, text="OPERATION EXPIRED")]


def test_stray_finals() -> None:
    parser = AtParser()
    assert parser.feed(b"\r\nOK\r\n\r\nERROR\r\n\r\n+CME ERROR: 3\r\n") == [
        STRAY_OK,
        FinalResult(ok=False, text="ERROR", solicited=False),
        FinalResult(ok=False, text="+CME ERROR: 3", code=3, solicited=False),
    ]


def test_abandoned_command_makes_late_final_stray() -> None:
    parser = AtParser()
    parser.begin_command("AT+CSQ")
    assert parser.feed(b"AT+CSQ\r") == [Echo("AT+CSQ")]
    parser.abandon_command()
    assert parser.command_in_flight is None
    assert parser.feed(b"\r\n+CSQ: 1,2\r\n\r\nOK\r\n") == [Urc("+CSQ: 1,2"), STRAY_OK]


def test_only_one_final_per_command() -> None:
    parser = AtParser()
    parser.begin_command("AT")
    assert parser.feed(b"\r\nOK\r\n\r\nOK\r\n") == [OK, STRAY_OK]


# ---------------------------------------------------------------------- prompt


@pytest.mark.parametrize("prompt", [b"\r\n>", b"\r\n> "])
def test_prompt_with_data_echo(prompt: bytes) -> None:
    data = b"ab\r\nc"
    wire = b"AT+HTTPACTION=2,5\r" + prompt + data + b"\r\nOK\r\n"
    events = both_ways(wire, "AT+HTTPACTION=2,5", data=data, echo=True)
    assert events == [Echo("AT+HTTPACTION=2,5"), Prompt(), OK]


@pytest.mark.parametrize("prompt", [b"\r\n>", b"\r\n> "])
def test_prompt_without_echo(prompt: bytes) -> None:
    events = both_ways(prompt + b"\r\nOK\r\n", "AT+HTTPACTION=2,5", data=b"ab\r\nc")
    assert events == [Prompt(), OK]


@pytest.mark.parametrize("prompt", [b"\r\n>", b"\r\n> "])
def test_prompt_echoed_data_that_looks_like_replies(prompt: bytes) -> None:
    data = b"\r\nOK\r\n+HTTPRECV: 3,abc\r\nERROR\r\n>"
    wire = b"AT+HTTPACTION=2,36\r" + prompt + data + b"\r\n+HTTPSEND: ERROR\r\n"
    events = both_ways(wire, "AT+HTTPACTION=2,36", data=data, echo=True)
    assert events == [
        Echo("AT+HTTPACTION=2,36"),
        Prompt(),
        FinalResult(ok=False, text="+HTTPSEND: ERROR"),
    ]


@pytest.mark.parametrize("prompt", [b"\r\n>", b"\r\n> "])
@pytest.mark.parametrize("data", [b" leading space", b"  two", b" ", b"   "])
def test_prompt_echo_of_data_starting_with_a_space(prompt: bytes, data: bytes) -> None:
    command = f"AT+HTTPACTION=2,{len(data)}"
    wire = command.encode() + b"\r" + prompt + data + b"\r\nOK\r\n"
    assert both_ways(wire, command, data=data, echo=True) == [Echo(command), Prompt(), OK]


def test_prompt_with_extra_space_is_the_same_in_any_split() -> None:
    # ">  xyz": the prompt's space, then a space the data does not have (no echo)
    wire = b"AT+HTTPACTION=2,3\r\r\n>  xyz\r\nOK\r\n"
    events = both_ways(wire, "AT+HTTPACTION=2,3", data=b"xyz")
    assert events[:2] == [Echo("AT+HTTPACTION=2,3"), Prompt()]
    assert events[-1] == OK


def test_prompt_only_when_expected() -> None:
    # without data the command expects no prompt: ">" is an ordinary line
    assert both_ways(b"\r\n>\r\n\r\nOK\r\n", "AT+CSQ") == [InfoLine(">"), OK]
    # a second ">" after the prompt is not another prompt
    parser = AtParser()
    parser.begin_command("AT+HTTPACTION=2,1", data=b"x")
    assert parser.feed(b"\r\n>\r\n>\r\n\r\nOK\r\n") == [Prompt(), InfoLine(">"), OK]


def test_prompt_then_reports_and_final() -> None:
    data = b"hello"
    wire = b"AT+HTTPACTION=2,5\r\r\n> hello\r\n+PBREADY\r\n\r\nOK\r\n"
    events = both_ways(wire, "AT+HTTPACTION=2,5", data=data, echo=True)
    assert events == [Echo("AT+HTTPACTION=2,5"), Prompt(), Urc("+PBREADY"), OK]


@pytest.mark.parametrize("cut", [0, 1, 5, 20])
@pytest.mark.parametrize("fault", ["lost", "garbled"])
def test_a_damaged_data_echo_is_never_read_as_output(cut: int, fault: str) -> None:
    """The data typed after ">" is consumed by count: a body that looks like the module's
    reply and a payload is never parsed, whatever byte of its echo is lost or garbled."""
    data = b"note\r\nOK\r\n\r\n+HTTPRECV: 38,HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE"
    damaged = bytearray(data)
    if fault == "lost":
        del damaged[cut]
    else:
        damaged[cut] ^= 0xFF
    command = f"AT+HTTPACTION=2,{len(data)}"
    wire = command.encode() + b"\r\r\n>" + bytes(damaged) + b"\r\nOK\r\n"
    events = both_ways(wire, command, data=data, echo=True)
    assert events[:2] == [Echo(command), Prompt()]
    assert len(events) == 3 and isinstance(events[2], WireError)
    assert "data echo damaged" in events[2].reason


def test_a_data_echo_lost_whole_is_consumed_by_count() -> None:
    """The whole echo lost: the module's reply and the start of the server's bytes are taken
    for the echo (and differ), never the other way round."""
    data = b"x" * 12
    wire = b"AT+HTTPACTION=2,12\r\r\n>\r\nOK\r\n\r\n+HTTPRECV: 4,OK\r\n\r\n"
    events = both_ways(wire, "AT+HTTPACTION=2,12", data=data, echo=True)
    assert events[:2] == [Echo("AT+HTTPACTION=2,12"), Prompt()]
    assert isinstance(events[2], WireError) and len(events) == 3


def test_the_data_of_a_module_that_does_not_echo_data() -> None:
    parser = AtParser()
    parser.echo = True
    parser.echoes_data = False
    parser.begin_command("AT+HTTPACTION=2,5", data=b"hello")
    wire = b"AT+HTTPACTION=2,5\r\r\n>\r\nOK\r\n"
    assert parser.feed(wire) == [Echo("AT+HTTPACTION=2,5"), Prompt(), OK]


# ---------------------------------------------------------------------- reports


def test_reports_between_commands() -> None:
    wire = (
        b"\r\n+PBREADY\r\n\r\nGPRS DISCONNECTION\r\n\r\n+CREG: 1\r\n"
        b"\r\n+TCPCLOSE: 0,Link Closed\r\n\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
        b"\r\n+HTTPCLOSE: HTTP Link Closed\r\n\r\n+HTTPSCLOSED: HTTPS Link Closed\r\n"
    )
    assert both_ways(wire) == [
        Urc("+PBREADY"),
        Urc("GPRS DISCONNECTION"),
        Urc("+CREG: 1"),
        Urc("+TCPCLOSE: 0,Link Closed"),
        Urc("+HTTPCLOSED: HTTP Link Closed"),
        Urc("+HTTPCLOSE: HTTP Link Closed"),
        Urc("+HTTPSCLOSED: HTTPS Link Closed"),
    ]


def test_reports_inside_a_reply() -> None:
    wire = (
        b"AT+CSQ\r\r\n+PBREADY\r\n\r\n+CSQ: 20,99\r\n\r\nGPRS DISCONNECTION\r\n"
        b"\r\n+CEREG: 1\r\n\r\nOK\r\n"
    )
    assert both_ways(wire, "AT+CSQ") == [
        Echo("AT+CSQ"),
        Urc("+PBREADY"),
        InfoLine("+CSQ: 20,99"),
        Urc("GPRS DISCONNECTION"),
        Urc("+CEREG: 1"),
        OK,
    ]


def test_report_sharing_the_reply_prefix_with_reply_match() -> None:
    wire = b"AT+CREG?\r\r\n+CREG: 1\r\n\r\n+CREG: 0,1\r\n\r\n+CREG: 5\r\n\r\nOK\r\n"
    events = both_ways(wire, "AT+CREG?", reply_match=lambda line: "," in line)
    assert events == [
        Echo("AT+CREG?"),
        Urc("+CREG: 1"),
        InfoLine("+CREG: 0,1"),
        Urc("+CREG: 5"),
        OK,
    ]


def test_report_sharing_the_reply_prefix_with_max_reply_lines() -> None:
    wire = b"\r\n+CREG: 0,1\r\n\r\n+CREG: 1\r\n\r\nOK\r\n"
    events = both_ways(wire, "AT+CREG?", max_reply_lines=1)
    assert events == [InfoLine("+CREG: 0,1"), Urc("+CREG: 1"), OK]
    # without the limit the report would be taken as a reply line
    events = both_ways(wire, "AT+CREG?")
    assert events == [InfoLine("+CREG: 0,1"), InfoLine("+CREG: 1"), OK]


def test_reply_prefix_overrides_the_command_name() -> None:
    wire = b"\r\n+CSQ: 1,2\r\n\r\n+CMEE: 1\r\n\r\nOK\r\n"
    events = both_ways(wire, "AT+CMEE?", reply_prefix="+CMEE:")
    assert events == [Urc("+CSQ: 1,2"), InfoLine("+CMEE: 1"), OK]
    events = both_ways(wire, "AT+CSQ", reply_prefix="+CMEE")
    assert events == [Urc("+CSQ: 1,2"), InfoLine("+CMEE: 1"), OK]


def test_httpclosed_is_a_report_even_during_http_commands() -> None:
    for command in ("AT+HTTPACTION=0", "AT+HTTPCLOSE", "AT+HTTPSETUP"):
        wire = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n\r\nOK\r\n"
        assert both_ways(wire, command) == [Urc("+HTTPCLOSED: HTTP Link Closed"), OK]


def test_bare_reports_never_end_a_command() -> None:
    for line in ("GPRS DISCONNECTION", "NO CARRIER", "RING"):
        wire = f"\r\n{line}\r\n\r\nOK\r\n".encode()
        assert both_ways(wire, "AT+CSQ") == [Urc(line), OK]
    # a restart report turns the echo (back) on: the OK then needs the command's echo
    wire = b"\r\n+PBREADY\r\n\r\nOK\r\nAT+CSQ\r\r\nOK\r\n"
    assert both_ways(wire, "AT+CSQ") == [Urc("+PBREADY"), STRAY_OK, Echo("AT+CSQ"), OK]


# ---------------------------------------------------------------------- recvmode 1 payload


@pytest.mark.parametrize("trailer", [b"\r\n", b""])
def test_payload_with_tricky_bytes(trailer: bytes) -> None:
    data = b"\r\nOK\r\n+HTTPRECV: 5,xx\x00\x1a\rERROR\n\r\n+HTTPCLOSED: x\r\n>"
    wire = b"\r\n+HTTPRECV: %d," % len(data) + data + trailer + b"\r\n+PBREADY\r\n"
    assert both_ways(wire) == [Payload("HTTP", data), Urc("+PBREADY")]


def test_payload_inside_a_reply() -> None:
    wire = b"AT+HTTPACTION=0\r\r\nOK\r\n\r\n+HTTPRECV: 3,a\r\n\r\n+HTTPRECV: 2,OK\r\n"
    events = both_ways(wire, "AT+HTTPACTION=0")
    assert events == [
        Echo("AT+HTTPACTION=0"),
        OK,
        Payload("HTTP", b"a\r\n"),
        Payload("HTTP", b"OK"),
    ]
    wire = b"\r\n+HTTPRECV: 2,OK\r\n\r\n+CSQ: 1,2\r\n\r\nOK\r\n"
    events = both_ways(wire, "AT+CSQ")
    assert events == [Payload("HTTP", b"OK"), InfoLine("+CSQ: 1,2"), OK]


def test_payload_chunks_back_to_back() -> None:
    wire = b"+HTTPRECV: 3,abc\r\n+HTTPRECV: 2,de\r\n+HTTPRECV: 0,\r\n+HTTPRECV: 1,f"
    assert both_ways(wire) == [
        Payload("HTTP", b"abc"),
        Payload("HTTP", b"de"),
        Payload("HTTP", b""),
    ]
    # the last chunk is emitted once the byte after it confirms its length
    assert both_ways(wire + b"\r") == [*both_ways(wire), Payload("HTTP", b"f")]


@pytest.mark.parametrize("lost", [1, 3])
def test_a_byte_lost_in_the_data_of_the_last_chunk_is_never_delivered(lost: int) -> None:
    """With a Content-Length the response would complete with the shifted bytes: the data is
    held until the byte after it confirms the length."""
    data = b"0123456789"
    wire = b"+HTTPRECV: 10," + data[lost:] + b"\r\n\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
    events = both_ways(wire)
    assert len(events) == 1 and isinstance(events[0], WireError)


def test_merged_payload_joins_the_complete_chunks_of_one_read() -> None:
    chunk = b"\r\n+HTTPRECV: 3,abc\r\n"
    parser = AtParser(merge_payload=True)
    wire = chunk * 3 + b"\r\n+HTTPRECV: 2,de\r\n" + b"\r\n+HTTPSRECV: 1,x\r\n" + chunk
    assert parser.feed(wire) == [
        Payload("HTTP", b"abcabcabcde"),
        Payload("HTTPS", b"x"),
        Payload("HTTP", b"abc"),
    ]
    # a report, an empty chunk or an incomplete chunk ends the group
    wire = chunk + b"\r\n+CSQ: 1,2\r\n" + chunk + b"\r\n+HTTPRECV: 0,\r\n" + chunk + chunk[:-4]
    assert parser.feed(wire) == [
        Payload("HTTP", b"abc"),
        Urc("+CSQ: 1,2"),
        Payload("HTTP", b"abc"),
        Payload("HTTP", b""),
        Payload("HTTP", b"abc"),
    ]
    assert parser.feed(b"bc\r\n") == [Payload("HTTP", b"abc")]
    # a chunk that spanned reads is joined with the complete ones after it
    assert parser.feed(chunk[:-3]) == []
    assert parser.feed(b"c\r\n" + chunk * 2 + chunk[:5]) == [Payload("HTTP", b"abc" * 3)]


def test_merged_payload_stops_before_a_length_mismatch() -> None:
    parser = AtParser(merge_payload=True)
    events = parser.feed(b"+HTTPRECV: 2,ab\r\n+HTTPRECV: 2,cdXYZ\r\n\r\nOK\r\n")
    assert events[0] == Payload("HTTP", b"ab")  # "cd" is not followed by a line end
    assert isinstance(events[1], WireError)
    assert events[2:] == []  # nothing is trusted after it
    assert parser.distrusted


def test_https_payload() -> None:
    wire = b"\r\n+HTTPSRECV: 4,\r\n\r\n\r\n+HTTPSCLOSED: HTTPS Link Closed\r\n"
    assert both_ways(wire) == [
        Payload("HTTPS", b"\r\n\r\n"),
        Urc("+HTTPSCLOSED: HTTPS Link Closed"),
    ]


def test_payload_header_spacing_variants() -> None:
    assert both_ways(b"+HTTPRECV:3,abc\r\n") == [Payload("HTTP", b"abc")]
    assert both_ways(b"+HTTPRECV:  3 ,abc\r\n") == [Payload("HTTP", b"abc")]


def test_payload_is_held_until_complete_and_counted_in_buffered() -> None:
    parser = AtParser()
    assert parser.feed(b"+HTTPRECV: 10,abc") == []
    assert parser.buffered == 3
    assert parser.feed(b"defg") == []
    assert parser.buffered == 7
    assert parser.feed(b"hij\r\n") == [Payload("HTTP", b"abcdefghij")]
    assert parser.buffered == 0


def test_payload_not_followed_by_line_end_is_an_error() -> None:
    events = both_ways(b"+HTTPRECV: 2,abXYZ\r\n\r\nOK\r\n")
    assert len(events) == 1 and isinstance(events[0], WireError)  # "ab" is not delivered


def test_an_oversized_chunk_length_is_left_by_the_probe() -> None:
    """A length too large swallows what follows as payload; the probe's hunt leaves the chunk
    (however large the length) and the next bytes after its echo are trusted again."""
    parser = AtParser()
    events = parser.feed(b"\r\n+HTTPRECV: 900000,abc" + CLOSED + b"AT+CSQ\r\r\nOK\r\n")
    assert events == []
    assert parser.in_payload
    assert resynced(parser, b"more junk\r\nOK\r\n") == PROBE_ANSWER
    assert not parser.in_payload
    assert parser.feed(b"\r\n+PBREADY\r\n") == [Urc("+PBREADY")]


# ---------------------------------------------------------------------- recvmode 0 raw


def test_raw_mode_ends_on_link_closed() -> None:
    body = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nOK\r\n"
    wire = b"\r\n+HTTPRECV:\r\n" + body + CLOSED + b"\r\n+PBREADY\r\n"
    parser = AtParser()
    events = parser.feed(wire)
    assert events == [
        RawStart("HTTP"),
        RawData("HTTP", body),
        RawEnd("HTTP", "+HTTPCLOSED: HTTP Link Closed"),
    ]
    assert not parser.in_raw_mode
    assert parser.distrusted  # the report may be the server's: nothing after it is trusted
    assert resynced(parser) == PROBE_ANSWER
    assert normalise(feed_bytewise(AtParser(), wire)) == events


def test_raw_mode_state_properties() -> None:
    parser = AtParser()
    assert parser.raw_source is None
    assert parser.feed(b"\r\n+HTTPSRECV:\r\nabc") == [RawStart("HTTPS"), RawData("HTTPS", b"abc")]
    assert parser.in_raw_mode
    assert parser.raw_source == "HTTPS"
    # the HTTP marker does not end an HTTPS stream
    assert parser.feed(CLOSED) == [RawData("HTTPS", CLOSED)]
    events = parser.feed(b"\r\n+HTTPSCLOSED: HTTPS Link Closed\r\n")
    assert events == [RawEnd("HTTPS", "+HTTPSCLOSED: HTTPS Link Closed")]
    assert parser.raw_source is None


def test_raw_mode_ends_on_close_command_report_too() -> None:
    wire = b"+HTTPRECV:\r\nxyz\r\nOK\r\n\r\n+HTTPCLOSE: HTTP Link Closed\r\n"
    events = AtParser().feed(wire)
    assert events == [
        RawStart("HTTP"),
        RawData("HTTP", b"xyz\r\nOK\r\n"),
        RawEnd("HTTP", "+HTTPCLOSE: HTTP Link Closed"),
    ]


def test_raw_header_with_bare_cr_or_lf() -> None:
    """Only ``+HTTPRECV:<CR><LF>`` starts raw bytes: a lone CR or LF there is the space of a
    ``+HTTPRECV: <len>,`` header damaged by noise (issue #21)."""
    for wire in (b"+HTTPRECV:\nab", b"+HTTPRECV:\rab", b"+HTTPRECV:\r1024,ab"):
        assert AtParser().feed(wire) == [
            WireError("payload header ends in a lone line end", b"+HTTPRECV:")
        ]
    parser = AtParser()
    assert parser.feed(b"+HTTPRECV:\r") == []  # CR or CR LF? not known yet
    assert parser.feed(b"\nab") == [RawStart("HTTP"), RawData("HTTP", b"ab")]


@pytest.mark.parametrize("cut", range(1, len(CLOSED) - 2))
def test_raw_end_marker_split_across_reads_is_retracted(cut: int) -> None:
    parser = AtParser()
    assert parser.feed(b"+HTTPRECV:\r\nbody") == [RawStart("HTTP"), RawData("HTTP", b"body")]
    first = parser.feed(CLOSED[:cut])
    rest = parser.feed(CLOSED[cut:])
    events = first + rest
    end = events[-1]
    assert isinstance(end, RawEnd)
    assert end.line == "+HTTPCLOSED: HTTP Link Closed"
    passed = b"".join(event.data for event in events if isinstance(event, RawData))
    # the bytes passed as raw data before the marker was recognised are exactly retracted
    assert end.retract == len(passed)
    assert passed == CLOSED[: len(passed)]
    assert not parser.in_raw_mode


def test_raw_end_retract_spans_several_reads() -> None:
    parser = AtParser()
    events = parser.feed(b"+HTTPRECV:\r\nbody")
    for byte in CLOSED:
        events += parser.feed(bytes([byte]))
    end = [event for event in events if isinstance(event, RawEnd)]
    assert end == [RawEnd("HTTP", "+HTTPCLOSED: HTTP Link Closed", retract=len(b"\r\n+HTTPCLOSED"))]
    assert normalise(events) == [
        RawStart("HTTP"),
        RawData("HTTP", b"body"),
        RawEnd("HTTP", "+HTTPCLOSED: HTTP Link Closed"),
    ]


def test_raw_near_miss_of_the_marker_is_data() -> None:
    body = b"\r\n+HTTPCLOSEX \r\n+HTTP\r\n+HTTPCLOSED\r\n"
    events = normalise(feed_bytewise(AtParser(), b"+HTTPRECV:\r\n" + body + CLOSED))
    assert events == [
        RawStart("HTTP"),
        RawData("HTTP", body),
        RawEnd("HTTP", "+HTTPCLOSED: HTTP Link Closed"),
    ]


def test_raw_empty_response() -> None:
    events = AtParser().feed(b"\r\n+HTTPRECV:\r\n" + CLOSED)
    assert events == [RawStart("HTTP"), RawEnd("HTTP", "+HTTPCLOSED: HTTP Link Closed")]


def test_end_raw_distrusts_what_follows() -> None:
    """After a mode-0 response the server may go on sending: the leftover and what follows
    (forged reports, replies, payload) are discarded until the probe's echo."""
    parser = AtParser()
    parser.receive_data(b"\r\n+HTTPRECV:\r\n0123456789\r\n+PBREADY\r\n\r\nOK\r\n")
    assert parser.next_event() == RawStart("HTTP")
    data = parser.next_event()
    assert isinstance(data, RawData)
    assert data.data.startswith(b"0123456789")
    parser.end_raw(len(data.data) - 10)  # the response was 10 bytes
    assert not parser.in_raw_mode
    assert parser.distrusted
    forged = b"\r\n+HTTPSRECV: 5,hello\r\n\r\n+CSQ: 31,99\r\n\r\nOK\r\n" + CLOSED
    assert parser.feed(forged) == []
    assert resynced(parser, forged) == PROBE_ANSWER
    assert parser.discarded >= 2 * len(forged)


def test_end_raw_with_leftover_holding_a_partial_marker() -> None:
    parser = AtParser()
    parser.receive_data(b"+HTTPRECV:\r\nabc\r\n+HTTPCL")
    assert parser.next_event() == RawStart("HTTP")
    assert parser.next_event() == RawData("HTTP", b"abc\r\n+HTTPCL")
    parser.end_raw(9)
    assert parser.next_event() is NEED_DATA
    assert parser.feed(b"OSED: HTTP Link Closed\r\n") == []
    assert resynced(parser) == PROBE_ANSWER


def test_end_raw_limits() -> None:
    parser = AtParser()
    parser.receive_data(b"+HTTPRECV:\r\nabc")
    assert parser.next_event() == RawStart("HTTP")
    assert parser.next_event() == RawData("HTTP", b"abc")
    with pytest.raises(ValueError):
        parser.end_raw(4)  # more than the last RawData held
    with pytest.raises(ValueError):
        parser.end_raw(-1)
    parser.receive_data(b"de")  # a new read: the earlier bytes can no longer be handed back
    with pytest.raises(ValueError):
        parser.end_raw(1)
    assert parser.in_raw_mode
    parser.end_raw(0)
    assert not parser.in_raw_mode
    parser.end_raw(0)  # outside raw mode: nothing to do
    # the unread "de" and what follows are discarded until the probe
    assert parser.feed(b"\r\nOK\r\n") == []
    assert resynced(parser) == PROBE_ANSWER


# ---------------------------------------------------------------------- malformed input


def test_garbage_lines_are_stray() -> None:
    assert both_ways(b"\r\n\x00\xff\xfe garbage \x1b\r\n") == [
        Stray("\x00\ufffd\ufffd garbage \x1b")
    ]


def test_non_numeric_payload_length() -> None:
    events = both_ways(b"\r\n+HTTPRECV: 1x,abc\r\n\r\nOK\r\n", "AT")
    assert isinstance(events[0], WireError)
    assert "not a number" in events[0].reason
    assert events[1:] == []  # the command's OK is not trusted either: a probe decides


def test_negative_payload_length() -> None:
    events = both_ways(b"\r\n+HTTPRECV: -5,abc\r\n\r\n+PBREADY\r\n")
    assert isinstance(events[0], WireError)
    assert events[1:] == []


def test_absurd_payload_length() -> None:
    wire = b"\r\n+HTTPRECV: 99999999999,abc\r\n\r\n+PBREADY\r\n"
    events = both_ways(wire)
    assert isinstance(events[0], WireError)
    assert "exceeds" in events[0].reason
    assert events[1:] == []
    parser = AtParser(max_payload=100)
    events = parser.feed(b"+HTTPRECV: 101,abc\r\n+HTTPRECV: 100,")
    assert isinstance(events[0], WireError)
    assert events[1:] == []


def test_overlong_payload_header() -> None:
    wire = b"\r\n+HTTPRECV: " + b"1" * 40 + b",abc\r\n\r\n+PBREADY\r\n"
    events = both_ways(wire)
    assert isinstance(events[0], WireError)
    assert events[1:] == []


def test_payload_header_with_text_and_no_comma() -> None:
    events = both_ways(b"\r\n+HTTPRECV: 12\r\n\r\n+PBREADY\r\n")
    assert isinstance(events[0], WireError)
    assert events[1:] == []


def test_overlong_line_distrusts_the_line() -> None:
    for line_length in (DEFAULT_MAX_LINE + 1, 3 * DEFAULT_MAX_LINE):
        wire = b"\r\n" + b"A" * line_length + b"\r\n\r\nOK\r\n"
        events = both_ways(wire, "AT")
        assert isinstance(events[0], WireError)
        assert "longer than" in events[0].reason
        assert events[1:] == []
    # a line of exactly max_line bytes is fine
    wire = b"\r\n" + b"A" * DEFAULT_MAX_LINE + b"\r\n"
    assert both_ways(wire) == [Urc("A" * DEFAULT_MAX_LINE)]


def test_small_max_line() -> None:
    parser = AtParser(max_line=16)
    events = parser.feed(b"A" * 20 + b"\r\nOK\r\n")
    assert len(events) == 1
    assert isinstance(events[0], WireError)
    split = AtParser(max_line=16)
    assert split.feed(b"A" * 17) + split.feed(b"AAA\r\nOK\r\n") == events


def test_ten_megabytes_without_a_line_end_stay_bounded() -> None:
    parser = AtParser()
    block = bytes(range(14, 256)) * 300  # no CR or LF, about 72 KB
    events: list[Event] = []
    total = 0
    while total < 10 * 1024 * 1024:
        events += parser.feed(block)
        total += len(block)
        assert parser.buffered <= parser.max_line
    assert len(events) == 1
    assert isinstance(events[0], WireError)
    assert parser.feed(b"\r\n\r\nOK\r\n") == []
    assert parser.buffered == 0
    assert resynced(parser) == PROBE_ANSWER


def test_ten_megabytes_in_one_read_stay_bounded() -> None:
    parser = AtParser()
    events = parser.feed(b"x" * (10 * 1024 * 1024))
    assert [type(event) for event in events] == [WireError]
    assert parser.buffered == 0
    assert parser.feed(b"yy\r\n+PBREADY\r\n") == []
    assert resynced(parser, b"x" * 1_000_000) == PROBE_ANSWER
    assert parser.buffered == 0


def test_raw_mode_stays_bounded() -> None:
    parser = AtParser()
    parser.feed(b"+HTTPRECV:\r\n")
    for _ in range(100):
        events = parser.feed(b"\r\n+HTTP" * 10000)
        assert sum(len(e.data) for e in events if isinstance(e, RawData)) == 70000
        assert parser.buffered == 0


# ---------------------------------------------------------------------- the trust model


def test_echo_on_nothing_answers_a_command_before_its_echo() -> None:
    wire = (
        b"\r\nOK\r\n\r\n869012345678901\r\n\r\n+CME ERROR: 3\r\n\r\n+CREG: 1\r\n"
        b"AT+CGSN\r\r\n111\r\n\r\nOK\r\n"
    )
    events = both_ways(wire, "AT+CGSN", echo=True)
    assert events == [
        STRAY_OK,
        Stray("869012345678901"),
        FinalResult(ok=False, text="+CME ERROR: 3", code=3, solicited=False),
        Urc("+CREG: 1"),
        Echo("AT+CGSN"),
        InfoLine("111"),
        OK,
    ]


def test_echo_on_the_echo_must_be_exact() -> None:
    # a garbled echo is not the echo: the reply that follows answers nothing
    events = both_ways(b"AT+CGXN\r\r\n111\r\n\r\nOK\r\n", "AT+CGSN", echo=True)
    assert events == [Stray("AT+CGXN"), Stray("111"), STRAY_OK]


def test_echo_on_no_prompt_before_the_echo() -> None:
    parser = AtParser()
    parser.echo = True
    parser.begin_command("AT+HTTPACTION=2,5", data=b"hello")
    assert parser.feed(b"\r\n>") == []  # not taken for the prompt: nothing is written


def test_the_hunt_finds_the_probe_across_reads_and_stays_bounded() -> None:
    parser = AtParser()
    parser.distrust()
    assert parser.distrusted
    parser.begin_sync(PROBE)
    junk = b"\r\nOK\r\n+HTTPRECV: 5,abcde\r\nAT+N58SYNC=0123456789ABCDEE\r" * 1000
    events: list[Event] = []
    for index in range(0, len(junk), 777):
        events += parser.feed(junk[index : index + 777])
        assert parser.buffered < len(PROBE) + 1
    assert events == []
    for index in range(len(SYNCED)):  # the probe's echo and answer one byte at a time
        events += parser.feed(SYNCED[index : index + 1])
    assert events == PROBE_ANSWER
    assert not parser.distrusted
    assert parser.discarded == len(junk)


def test_begin_sync_distrusts_a_trusting_parser() -> None:
    parser = AtParser()
    parser.begin_sync(PROBE)
    assert parser.distrusted
    assert parser.feed(b"\r\nOK\r\n" + SYNCED) == PROBE_ANSWER
