"""Sans-IO pieces: line reader, command syntax, URL parsing, framing, body hooks, file system."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from n58aio.emulator import ModuleFS
from n58aio.emulator.atline import AtLineReader, CommandLine, DataChunk, Event
from n58aio.emulator.faults import Faults
from n58aio.emulator.framing import cme_error, recv_chunk, recv_header
from n58aio.emulator.output import OutputFaults
from n58aio.emulator.state import parse_url
from n58aio.emulator.syntax import Command, parse_command, split_args


def drain(reader: AtLineReader) -> list[Event]:
    events: list[Event] = []
    while (event := reader.next_event()) is not None:
        events.append(event)
    return events


def test_reader_lines_and_terminators() -> None:
    reader = AtLineReader()
    reader.feed(b"AT\r\nATE0\nAT+X\r")
    assert drain(reader) == [
        CommandLine(b"AT", b"AT\r"),
        CommandLine(b"ATE0", b"ATE0\n"),
        CommandLine(b"AT+X", b"AT+X\r"),
    ]
    reader.feed(b"\nAT")
    assert drain(reader) == []
    reader.feed(b"\r")
    assert drain(reader) == [CommandLine(b"AT", b"AT\r")]


def test_reader_data_phase() -> None:
    reader = AtLineReader()
    reader.feed(b"AT+HTTPACTION=2,6\r\nab\r\nAT\r")
    assert reader.next_event() == CommandLine(b"AT+HTTPACTION=2,6", b"AT+HTTPACTION=2,6\r")
    reader.expect_data(6)  # the LF sent with the command's CR is not data
    assert reader.next_event() == DataChunk(b"ab\r\nAT", 0)
    assert drain(reader) == [CommandLine(b"", b"\r")]
    reader.feed(b"X\r")
    assert reader.next_event() == CommandLine(b"X", b"X\r")
    reader.expect_data(3)
    reader.feed(b"\n")  # arrives later: data
    reader.feed(b"\x1a\xff")
    assert reader.next_event() == DataChunk(b"\n\x1a\xff", 0)


def test_reader_overflow_and_cancel() -> None:
    reader = AtLineReader(max_line=10)
    reader.feed(b"A" * 20 + b"\r")
    (event,) = drain(reader)
    assert isinstance(event, CommandLine) and event.overflow and len(event.text) == 10
    reader.feed(b"AT\r")
    drain(reader)
    reader.expect_data(5)
    reader.feed(b"ab")
    assert reader.next_event() == DataChunk(b"ab", 3)
    reader.cancel_data()
    assert not reader.in_data_phase
    reader.feed(b"AT\r")
    assert drain(reader) == [CommandLine(b"AT", b"AT\r")]


@given(st.binary(max_size=200), st.lists(st.integers(1, 50), max_size=20))
def test_reader_split_invariance(data: bytes, cuts: list[int]) -> None:
    whole = AtLineReader()
    whole.feed(data)
    expected = drain(whole)
    pieces = AtLineReader()
    got: list[Event] = []
    pos = 0
    for cut in [*cuts, len(data)]:
        pieces.feed(data[pos : pos + cut])
        pos += cut
        got += drain(pieces)
    pieces.feed(data[pos:])
    got += drain(pieces)
    assert got == expected


@pytest.mark.parametrize(
    ("line", "command"),
    [
        (b"AT", Command("", "exec")),
        (b"at", Command("", "exec")),
        (b"ATE0", Command("E", "exec", "0")),
        (b"ATI", Command("I", "exec", "")),
        (b"AT+CMEE?", Command("+CMEE", "query")),
        (b"AT+ HTTPSCFG =?", Command("+HTTPSCFG", "test")),
        (b"AT+HTTPPARA =url,x/y", Command("+HTTPPARA", "set", "url,x/y")),
        (
            "AT+ HTTPSCFG =\u201dsslversion\u201d,0".encode(),
            Command("+HTTPSCFG", "set", '"sslversion",0'),
        ),
        (b"  AT+XIIC=1  ", Command("+XIIC", "set", "1")),
    ],
)
def test_parse_command(line: bytes, command: Command) -> None:
    assert parse_command(line) == command


@pytest.mark.parametrize("line", [b"", b"A", b"HELLO", b"AT+", b"AT+X!", b"ATE0Q1", b"AT+X Y"])
def test_parse_command_rejects(line: bytes) -> None:
    assert parse_command(line) is None


def test_split_args() -> None:
    assert split_args('"a,b", c ,"",d') == ["a,b", "c", "", "d"]
    assert split_args("") == [""]


def test_parse_url() -> None:
    target = parse_url("www.neoway.com.cn/en/index.aspx", None, False)
    assert (target.host, target.port, target.path) == ("www.neoway.com.cn", 80, "/en/index.aspx")
    assert target.host_header == "www.neoway.com.cn"
    target = parse_url("HTTPS://h:8443?q=1", None, True)
    assert (target.host, target.port, target.path) == ("h", 8443, "/?q=1")
    assert target.host_header == "h:8443"
    assert parse_url("h:8443/x", 99, False).port == 99
    assert parse_url("[::1]:81/a", None, False).host == "::1"
    assert parse_url("h/dir/", None, False).basename == ""
    assert parse_url("h/dir/f.zip?x=1", None, False).basename == "f.zip"
    for bad in ("", "http://", ":80/x", "h:0", "h:x/y", "h:70000", "a b/c"):
        with pytest.raises(ValueError):
            parse_url(bad, None, False)


def test_framing() -> None:
    assert recv_chunk("+HTTPRECV", b"abc", True) == b"\r\n+HTTPRECV: 3,abc\r\n"
    assert recv_chunk("+HTTPSRECV", b"", False) == b"\r\n+HTTPSRECV: 0,"
    assert recv_header("+HTTPSRECV") == b"\r\n+HTTPSRECV:\r\n"
    assert cme_error(1001, 1) == b"\r\n+CME ERROR: 1001\r\n"
    assert cme_error(50, 2) == b"\r\n+CME ERROR: Incorrect parameters\r\n"  # appendix H
    assert cme_error(50, 0) == b"\r\nERROR\r\n"


class _NoTarget:
    def kill_links(self, which: object) -> int:
        return 0

    def reboot(self) -> None:
        pass

    def drop_port(self) -> None:
        pass

    def wedge(self, reset_helps: bool) -> None:
        pass

    def inject(self, data: bytes, immediate: bool) -> None:
        pass

    def restart(self, report: bool = True) -> None:
        pass

    def set_sim(self, state: object, pin: str | None, puk: str | None) -> None:
        pass

    def set_registration(self, state: object, cause: int | None) -> None:
        pass

    def set_signal(self, csq: int) -> None:
        pass

    def set_network(self, apn: str | None, user: str | None, password: str | None) -> None:
        pass

    def lose_data_link(self) -> bool:
        return False


def test_body_hooks_split_reports() -> None:
    faults = Faults(OutputFaults(), _NoTarget())
    fired: list[str] = []
    faults.after_body_bytes(5, lambda: fired.append("a"))
    faults.after_body_bytes(5, lambda: fired.append("b"))
    pieces = [(piece, len(actions)) for piece, actions in faults.split_relayed(b"0123")]
    assert pieces == [(b"0123", 0)]
    for piece, actions in faults.split_relayed(b"456789"):
        fired.append(piece.decode())
        for action in actions:
            action()
    assert fired == ["4", "a", "b", "56789"]
    assert faults.relayed_bytes == 10
    faults.after_body_bytes(0, lambda: fired.append("now"))
    assert [len(a) for _, a in faults.split_relayed(b"x")] == [1, 0]


def test_output_faults_apply() -> None:
    out = OutputFaults(drop_left=2, garble_left=2)
    assert out.apply(b"abcdef") == bytes([ord("c") ^ 0xFF, ord("d") ^ 0xFF]) + b"ef"
    assert out.apply(b"xy") == b"xy"


def test_module_fs_confinement(tmp_path: Path) -> None:
    fs = ModuleFS(tmp_path)
    fs.write("a/b.txt", b"data")
    assert fs.read("/a/b.txt") == b"data"
    assert fs.exists("a/b.txt") and not fs.exists("../etc/passwd")
    with pytest.raises(Exception, match="invalid"):
        fs.path("../x")
    assert fs.md5("a/b.txt") == "8d777f385d3dfec8815d20f7496026dc"
