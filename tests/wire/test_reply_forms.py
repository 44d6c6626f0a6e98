"""The parser takes both reply forms (issue #24, item 7): the captured N58 writes no empty line
between information text and its final result (``\\r\\n+XIIC:    0,0.0.0.0\\r\\nOK\\r\\n``), the
manual's examples and other firmware write one. And the captured ``+CME ERROR`` codes
(item 8) reach :class:`~n58aio.CommandError` with their meaning."""

from __future__ import annotations

import pytest

from n58aio.errors import CME_CODES, CommandError, cme_meaning
from n58aio.wire import AtParser, Echo, Event, FinalResult, InfoLine

CAPTURED = b"\r\n+XIIC:    0,0.0.0.0\r\nOK\r\n"
SPACED = b"\r\n+XIIC:    0,0.0.0.0\r\n\r\nOK\r\n"


def parse(wire: bytes, command: str, *, bytewise: bool, echo: bool | None = None) -> list[Event]:
    parser = AtParser()
    parser.echo = echo
    parser.begin_command(command)
    if not bytewise:
        return parser.feed(wire)
    events: list[Event] = []
    for index in range(len(wire)):
        events += parser.feed(wire[index : index + 1])
    return events


@pytest.mark.parametrize("bytewise", [False, True])
@pytest.mark.parametrize("wire", [CAPTURED, SPACED], ids=["captured", "spaced"])
def test_information_text_then_ok_in_either_form(wire: bytes, bytewise: bool) -> None:
    expected = [InfoLine("+XIIC:    0,0.0.0.0"), FinalResult(ok=True, text="OK")]
    assert parse(wire, "AT+XIIC?", bytewise=bytewise) == expected
    echoed = parse(b"AT+XIIC?\r" + wire, "AT+XIIC?", bytewise=bytewise, echo=True)
    assert echoed == [Echo("AT+XIIC?"), *expected]


@pytest.mark.parametrize("bytewise", [False, True])
@pytest.mark.parametrize("gap", [b"", b"\r\n"], ids=["captured", "spaced"])
def test_several_lines_and_an_error_in_either_form(gap: bytes, bytewise: bool) -> None:
    wire = b"\r\nNeoway\r\nN58\r\nRevision: N58-R07\r\n" + gap + b"OK\r\n"
    events = parse(wire, "ATI", bytewise=bytewise)
    assert events == [
        InfoLine("Neoway"),
        InfoLine("N58"),
        InfoLine("Revision: N58-R07"),
        FinalResult(ok=True, text="OK"),
    ]
    failed = parse(b"\r\n+CPIN: NO SIM\r\n" + gap + b"OK\r\n", "AT+CPIN?", bytewise=bytewise)
    assert failed == [InfoLine("+CPIN: NO SIM"), FinalResult(ok=True, text="OK")]


@pytest.mark.parametrize(
    ("command", "code", "meaning"),
    [
        ("AT+TCPSET=0,1.2.3.4,80", 58, "unknown command"),
        ("AT+XIIC=9", 53, "invalid parameter"),
        ("AT+XIIC=1", 50, "no SIM"),
        ("AT+FILEHTTPACTION=0,0,10", 1001, "PDP not active"),
    ],
)
def test_captured_cme_codes_carry_their_meaning(command: str, code: int, meaning: str) -> None:
    line = f"+CME ERROR: {code}"
    events = parse(f"\r\n{line}\r\n".encode(), command, bytewise=False)
    assert events == [FinalResult(ok=False, text=line, code=code)]
    error = CommandError(command, line, code)
    assert error.code == code
    assert error.meaning is not None and meaning in error.meaning
    assert str(error) == f"{command!r} failed: {line} ({error.meaning})"


def test_the_table_holds_appendix_h() -> None:
    """Every code of appendix H's general range that the N58 manual lists, and the 900s."""
    for code in (*range(0, 8), *range(10, 19), *range(20, 28), 30, 31, 32, 100, 900, 901, 902):
        assert code in CME_CODES, code
    assert CME_CODES[10] == ("SIM not inserted", "SIM not inserted")
    assert cme_meaning(None) is None
    assert cme_meaning(4242) is None
    assert str(CommandError("AT+X", "ERROR")) == "'AT+X' failed: ERROR"
