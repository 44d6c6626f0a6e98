"""The sans-IO AT parser: bytes in, events out.

:class:`AtParser` knows nothing of I/O or asyncio. The caller hands it the bytes read from the
port with :meth:`AtParser.receive_data` and pulls events with :meth:`AtParser.next_event`
(or both at once with :meth:`AtParser.feed`), much like ``h11.Connection``. The caller tells the
parser which command is in flight (:meth:`AtParser.begin_command`) so that it can tell the
command's echo, reply lines and final result from unsolicited reports.

Framing is by content only, never by timing: the same bytes give the same events in any split.
The parser never raises on input and its buffers are bounded.

The trust model. The modem's output carries bytes that others choose: the echo of a caller's
POST body, a server's response. The parser only interprets bytes as the module's own output
where they cannot be those:

- with echo on (:attr:`AtParser.echo`), nothing answers a command before the command's own
  echo: an ``OK`` that comes earlier is a late or duplicate reply (``solicited=False``);
- the data typed after the ``>`` prompt comes back, when the module echoes it, as exactly that
  many bytes, consumed by count and compared; it is never parsed as lines;
- ``+HTTPRECV: <len>,`` data is taken by count, whatever it holds.

Where that cannot hold (malformed input: a :class:`~n58aio.wire.events.WireError`; the end of
receive-mode-0 raw bytes, after which the server may still be sending), the parser stops
trusting the line: it discards every byte (:attr:`AtParser.distrusted`) until the echo of a
probe that the caller declares with :meth:`AtParser.begin_sync`, a command line carrying a fresh
random token that neither a late reply nor a caller's data nor a server can contain.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum, auto
from operator import itemgetter
from typing import cast

from .events import (
    NEED_DATA,
    Echo,
    Event,
    FinalResult,
    InfoLine,
    NeedData,
    Payload,
    Prompt,
    RawData,
    RawEnd,
    RawStart,
    Source,
    Stray,
    Urc,
    WireError,
)

__all__ = ["DEFAULT_MAX_LINE", "DEFAULT_MAX_PAYLOAD", "REPORT_SHAPE", "AtParser", "command_name"]

DEFAULT_MAX_LINE = 8192
"""Longest line kept (the echo of a 2048-byte URL fits with room to spare)."""

DEFAULT_MAX_PAYLOAD = 1 << 20
"""Largest ``+HTTPRECV`` chunk length accepted; anything larger is reported as malformed."""

_TERMINATOR = re.compile(rb"[\r\n]")
_RECV_MARKERS: tuple[tuple[bytes, Source], ...] = (
    (b"+HTTPRECV:", "HTTP"),
    (b"+HTTPSRECV:", "HTTPS"),
)
_RECV_HEADER_LIMIT = 24  # bytes allowed between "+HTTPRECV:" and the comma
# The usual complete "+HTTP(S)RECV: <len>," header, taken in one match (hot path of downloads);
# anything else goes through the general code of _line_event and _recv_header.
_FAST_RECV = re.compile(rb"[\r\n]*\+HTTP(S?)RECV: ?([1-9][0-9]{0,8}),")
# Back-to-back chunks of one header and length (a download: the module sends full chunks),
# each taken by count: one match finds the whole run, one call slices it (see _merged_payload).
_RUNS: dict[tuple[bytes, int], re.Pattern[bytes]] = {}
_Slicer = Callable[[memoryview], tuple[memoryview, ...]]
_SLICERS: dict[tuple[int, int, int], _Slicer] = {}
_CACHE_MAX = 64  # headers and run lengths seen: a handful per download; bounded anyway
_RUN_MIN = 10  # chunks ahead from which one match for the run beats a comparison each


def _frame_run(header: bytes, length: int) -> re.Pattern[bytes]:
    """A pattern matching as many back-to-back ``header`` + ``length`` data bytes as follow."""
    key = (header, length)
    pattern = _RUNS.get(key)
    if pattern is None:
        if len(_RUNS) >= _CACHE_MAX:
            _RUNS.clear()
        pattern = re.compile(b"(?:%s(?s:.){%d})*" % (re.escape(header), length))
        _RUNS[key] = pattern
    return pattern


def _frame_slicer(size: int, length: int, count: int) -> _Slicer:
    """Takes the data of ``count`` (at least 2: one gives no tuple) back-to-back frames
    (``size`` header bytes, ``length`` data bytes each) out of a view that starts at the first
    header, in one call."""
    key = (size, length, count)
    slicer = _SLICERS.get(key)
    if slicer is None:
        if len(_SLICERS) >= _CACHE_MAX:
            _SLICERS.clear()
        period = size + length
        slices = [slice(at, at + length) for at in range(size, count * period, period)]
        slicer = cast(_Slicer, itemgetter(*slices))
        _SLICERS[key] = slicer
    return slicer


# What ends raw bytes (receive mode 0): the link-closed report, the close command's report,
# or the module's restart report (a module that restarts sends no link-closed report).
_CLOSE_MARKER = {
    "HTTP": re.compile(rb"\r\n\+(?:HTTPCLOSED?:|PBREADY\r)"),
    "HTTPS": re.compile(rb"\r\n\+(?:HTTPSCLOSED?:|PBREADY\r)"),
}
_CLOSE_MARKER_MAX = len(b"\r\n+HTTPSCLOSED:")
_CLOSE_LINE_LIMIT = 128
_PLUS_LINE = re.compile(r"^\+([A-Za-z0-9_]+)\s*:\s*(.*)$")
_BARE_NAME = re.compile(r"^\+[A-Za-z0-9_]+$")
_ERROR_CODE = re.compile(r"^\+(CME|CMS) ERROR\s*:\s*(.*)$")
_FAILURE_VALUES = frozenset({"ERROR", "FAIL", "TIMEOUT!"})  # "+FSWF: Timeout!" ends the write
_HTTP_FAILURE_NAMES = frozenset({"HTTPSEND", "HTTPSSEND", "HTTPSETUP", "HTTPSSETUP"})
_FINAL_IN_COMMAND = frozenset(
    {"NO CARRIER", "BUSY", "NO ANSWER", "NO DIALTONE", "OPERATION EXPIRED", "ABORTED"}
)
_DISCARDED_FINAL = re.compile(rb"\n(OK|ERROR|\+CME ERROR: ?(\d{1,4}))\r")
_DISCARDED_FINALS_MAX = 256
_DISCARDED_FINAL_LONGEST = len(b"\n+CME ERROR: 9999\r")


_BARE_URCS = frozenset({"+PBREADY", "GPRS DISCONNECTION", "RING", "RDY", "NO CARRIER"})
# What a report looks like: "+NAME: ..." or a bare word or two in capitals (RING, NO CARRIER).
REPORT_SHAPE = re.compile(r"^(\+[A-Za-z0-9_]+(\s*:.*)?|[A-Z][A-Z ]*)$")
# File reads (manual v2.0 ch28): "+FSRF: <size>,<content>" and "+FSRFEX: <len>,<checksum>,<content>"
# carry exactly <size> raw bytes, CR and LF included; only the reply of the read in flight does.
_FILE_READS: dict[str, re.Pattern[bytes]] = {
    "FSRF": re.compile(rb"\+FSRF: ?([0-9]{1,9}),"),
    "FSRFEX": re.compile(rb"\+FSRFEX: ?([0-9]{1,9}), ?([0-9A-Fa-f]{0,16}),"),
}
_FILE_HEADER_LIMIT = 48
# A line that starts like a report with a length: "<head><digits>," with a short head and no
# comma before the number. A payload header damaged by noise (a bit of its name, its "+", the
# line end before it or its colon flipped) reads like this, and what follows is then a
# server's bytes read as lines: such a line is believed only with a well-formed head naming a
# report that carries a number first (_LENGTH_REPORTS) or the reply of the command in flight.
_LENGTH_LIKE = re.compile(r"^(?P<head>.{0,14}?)(?P<length>[0-9]{1,9}),")
_REPORT_HEAD = re.compile(r"^[+$]([A-Za-z0-9_]+) *: *$")
_LENGTH_REPORTS = frozenset(
    {
        # unsolicited (manual v2.0 appendix I, chapters 6, 11, 14): registration, SMS status,
        # TCP/UDP/SSL data and close, HTTP GET progress, network events
        "CREG", "CGREG", "CEREG", "C5GREG", "CBM", "CDS", "CDSI", "NETREJCAUSE",
        "MYURCSYSINFO", "MYURCACT", "MYURCCLIENT", "MYURCUSBACT",
        "TCPRECV", "TCPCLOSE", "UDPRECV", "UDPCLOSE", "SSLTCPRECV", "SSLTCPCLOSE",
        "HTTPGETRPT", "HTTPSGETRPT", "HTTPGETSTAT", "HTTPSGETSTAT", "FILEHTTPSTAT",
        # replies that may come late, after their command timed out
        "CSQ", "CESQ", "XIIC", "COPS", "CGDCONT", "CGPADDR", "HTTPSCFG", "CMGL", "CPMS",
    }
)  # fmt: skip
_COMMAND_NAME = re.compile(r"^AT\s*\+\s*([A-Za-z0-9_]+)", re.IGNORECASE)


def command_name(command: str) -> str | None:
    """Return the extended command name of an AT command line (``AT+HTTPPARA=...`` gives
    ``HTTPPARA``), or None for basic commands such as ``ATE0``."""
    match = _COMMAND_NAME.match(command)
    return match.group(1).upper() if match else None


def _damaged_echo(line: str, text: str) -> bool:
    """Whether ``line``, which follows a CR directly, is the echo of command ``text`` behind
    one byte no line of the module starts with: the line feed after that CR, damaged by noise.
    The byte would otherwise hide the echo (the reply is then never the command's: it times
    out). After a whole CR LF such a byte is the module's reading of noise on the command line
    it echoes, a line it answers as written (``+CME ERROR: 58``): not the command's echo."""
    if len(line) != len(text) + 1 or not line.endswith(text):
        return False
    first = line[0]
    return not (first.isascii() and first.isprintable())


_FAILURE_NAMES: dict[str | None, frozenset[str]] = {}


def _failure_names(name: str | None) -> frozenset[str]:
    """The report names whose failure value ends command ``name`` (kept per name: command
    names only, a few dozen at most)."""
    names = _FAILURE_NAMES.get(name)
    if names is None:
        failure = {name} if name else set()
        if name and "HTTP" in name:
            failure |= _HTTP_FAILURE_NAMES
        names = _FAILURE_NAMES[name] = frozenset(failure)
    return names


class _State(Enum):
    LINE = auto()
    HUNT = auto()
    PAYLOAD = auto()
    RAW = auto()
    RAW_CLOSING = auto()
    DATA_ECHO = auto()
    AFTER_PAYLOAD = auto()
    FILE_DATA = auto()


@dataclass(slots=True)
class _Command:
    text: str
    name: str | None
    reply_name: str | None
    reply_match: Callable[[str], bool] | None
    max_reply_lines: int | None
    prompt: bool
    data: bytes | None
    echo_seen: bool = False
    prompted: bool = False
    replies: int = 0
    failure_names: frozenset[str] = field(default_factory=frozenset)


class AtParser:
    """Incremental parser of an N58 modem's output.

    ``max_line`` bounds a text line, ``max_payload`` a ``+HTTPRECV`` chunk; beyond them input
    is reported as malformed and skipped, so memory stays bounded whatever the modem sends.
    """

    def __init__(
        self,
        *,
        max_line: int = DEFAULT_MAX_LINE,
        max_payload: int = DEFAULT_MAX_PAYLOAD,
        merge_payload: bool = False,
    ) -> None:
        self.max_line = max_line
        self.max_payload = max_payload
        self.merge_payload = merge_payload
        """Return the complete ``+HTTP(S)RECV`` chunks of one family that follow each other in
        the buffer as one :class:`Payload` (their data joined), instead of one event each. The
        bytes are the same in any split; only their grouping into events depends on the reads."""
        self._buf = bytearray()
        self._pos = 0
        self._before = 0  # the byte before the buffer (the last one dropped from its start)
        self._state = _State.LINE
        self._command: _Command | None = None
        # payload (receive mode 1)
        self._source: Source = "HTTP"
        self._remaining = 0
        self._file_header = ""
        # raw mode (receive mode 0)
        self._raw_tail = b""
        self._raw_retract = 0
        self._raw_marker = b""
        self._rewindable = 0
        # data echo after the prompt
        self._echo_pos = 0  # bytes of the data whose echo was matched (and consumed)
        self._prompt_space = False
        # distrust: bytes are discarded until the probe's echo
        self._needle: bytes | None = None
        self.discarded = 0
        """Bytes discarded while the line was not trusted (see :attr:`distrusted`)."""
        self.finals_discarded: list[tuple[bool, bool]] = []
        """Final results (``OK``, ``ERROR``, ``+CME ERROR``) among the discarded bytes, in order,
        as ``(ok, unknown command)``: answers to lines written before a probe that came before
        its echo (an estimate: a server's bytes may hold such lines too). The reader empties it
        when it has taken them into account."""
        self._watch: list[bytes] = []
        self._scan_mark = 0  # where the next scan of the hunt starts (an index into the buffer)
        self.echoes_found = 0
        """How many of the echoes given to :meth:`watch_echoes` were found, in order, among
        the discarded bytes."""
        self.echo: bool | None = None
        """Whether the module echoes command lines (``ATE1``), as the caller knows it; None when
        unknown. With echo on, a command's reply counts only after the command's own echo."""
        self.echoes_data = True
        """Whether the module, with echo on, also echoes the data typed after ``>`` (the
        manual's captures show it does). With echo off no data echo is expected."""

    # ------------------------------------------------------------------ commands
    @property
    def command_in_flight(self) -> str | None:
        """The command line the parser attributes replies to, if any."""
        return self._command.text if self._command else None

    @property
    def in_raw_mode(self) -> bool:
        """True while receive-mode-0 raw bytes are being passed through."""
        return self._state in (_State.RAW, _State.RAW_CLOSING)

    @property
    def distrusted(self) -> bool:
        """True while every byte is discarded: after malformed input or the end of raw bytes,
        until the echo of the probe declared with :meth:`begin_sync`."""
        return self._state is _State.HUNT

    @property
    def in_payload(self) -> bool:
        """True in the middle of a ``+HTTPRECV`` chunk (waiting for more of its bytes)."""
        return self._state is _State.PAYLOAD

    @property
    def payload_source(self) -> Source | None:
        """The family of the ``+HTTPRECV`` chunk in progress, if any."""
        return self._source if self._state is _State.PAYLOAD else None

    @property
    def payload_missing(self) -> int:
        """In the middle of a ``+HTTPRECV`` chunk: its bytes not received yet (0 otherwise)."""
        if self._state is not _State.PAYLOAD:
            return 0
        return max(0, self._remaining - (len(self._buf) - self._pos))

    @property
    def pending_retract(self) -> int | None:
        """While a link-closed report in raw mode waits for its line end: how many bytes of
        earlier :class:`RawData` its :class:`RawEnd` will retract; None otherwise."""
        return self._raw_retract if self._state is _State.RAW_CLOSING else None

    @property
    def raw_source(self) -> Source | None:
        """The family of the raw stream in progress, if any."""
        return self._source if self.in_raw_mode else None

    @property
    def buffered(self) -> int:
        """Bytes received but not yet turned into events."""
        return len(self._buf) - self._pos

    def begin_command(
        self,
        command: str,
        *,
        reply_prefix: str | None = None,
        reply_match: Callable[[str], bool] | None = None,
        max_reply_lines: int | None = None,
        prompt: bool = False,
        data: bytes | None = None,
        echoed: bool = False,
    ) -> None:
        """Declare the command about to be written, so replies are told from reports.

        ``reply_prefix`` (default: ``+NAME`` of the command) marks the reply lines; other
        ``+...:`` lines are reports. ``reply_match`` and ``max_reply_lines`` narrow it further
        when a report shares the prefix (``+CREG``). ``prompt`` says the command waits for
        ``>``; ``data`` are the bytes that will be sent after it (their echo is recognised).
        ``echoed`` declares the command's echo seen already (a probe that goes on waiting for
        its own answer after a final result that was not its own).
        """
        name = command_name(command)
        self._needle = None  # while distrusted, only begin_sync ends the hunt
        if reply_prefix is None:
            reply_name = name
        else:
            reply_name = reply_prefix.lstrip("+").rstrip(":").strip().upper() or None
        failure = _failure_names(name)
        self._command = _Command(
            text=command,
            name=name,
            reply_name=reply_name,
            reply_match=reply_match,
            max_reply_lines=max_reply_lines,
            prompt=prompt or data is not None,
            data=data,
            failure_names=failure,
            echo_seen=echoed,
        )

    def abandon_command(self) -> None:
        """Forget the command in flight (timed out or cancelled); later replies are stray.
        In the middle of its data's echo, the line is distrusted (see :meth:`distrust`)."""
        self._command = None
        self._needle = None  # a probe being hunted for is given up too
        if self._state is _State.DATA_ECHO:
            # The rest of the data's echo may still come, and must not be read as output.
            self._enter_hunt()

    def withhold_data(self) -> None:
        """The caller did not write the data after the prompt (it came too late, or nobody
        waits for the command any more): no echo of it can come, and what follows the prompt
        is the module's own output (``OPERATION EXPIRED`` when it gives up waiting)."""
        if self._state is _State.DATA_ECHO:
            self._leave_echo()

    def distrust(self) -> None:
        """Stop trusting the line: discard every byte until the echo of a probe declared with
        :meth:`begin_sync`. Whatever was in progress (a command, a chunk, raw bytes, a data echo)
        is forgotten. The parser does this itself after malformed input and after raw bytes."""
        self._command = None
        self._enter_hunt()

    def watch_echoes(self, lines: list[str]) -> None:
        """Look for the echoes of ``lines`` (written, in this order) among the bytes discarded
        from now on; :attr:`echoes_found` counts those found."""
        self._watch = [line.encode("ascii", "replace") + b"\r" for line in lines]
        self.echoes_found = 0

    def _scan_discarded(self, buf: bytearray, start: int, stop: int) -> None:
        """Count the final results and watched echoes among the bytes the hunt discards (or
        keeps to look for the probe's echo in) up to ``stop``. What was scanned is remembered
        (:attr:`_scan_mark`), but for a tail that may start a line the next read completes."""
        start = max(start, self._scan_mark)
        if stop - start < 4:
            return
        end = start  # the end of the last line counted
        finals = self.finals_discarded
        for match in _DISCARDED_FINAL.finditer(buf, start, stop):
            if len(finals) < _DISCARDED_FINALS_MAX:
                finals.append((match.group(1) == b"OK", match.group(2) == b"58"))
            end = match.end()
        watch = self._watch
        pos = start
        longest = max((len(echo) for echo in watch[self.echoes_found :]), default=0)
        longest = max(longest, _DISCARDED_FINAL_LONGEST)
        while self.echoes_found < len(watch):
            echo = watch[self.echoes_found]
            found = buf.find(echo, pos, stop)
            if found < 0:
                break
            self.echoes_found += 1
            pos = found + len(echo)
        self._scan_mark = max(end, pos, stop - longest + 1)

    def begin_sync(self, probe: str) -> None:
        """Declare the probe just about to be written: a command line with a fresh random token
        that nothing else on the line can contain. Every byte up to the probe's echo is
        discarded; from there the parser trusts the line again, with the probe in flight."""
        if self._state is not _State.HUNT:
            self._enter_hunt()
        self.begin_command(probe)
        self._needle = probe.encode("ascii") + b"\r"

    def _enter_hunt(self) -> None:
        self._state = _State.HUNT
        self._needle = None
        self._scan_mark = 0
        self._remaining = 0
        self._raw_tail = b""
        self._raw_retract = 0
        self._rewindable = 0
        self._echo_pos = 0
        self._prompt_space = False

    # ------------------------------------------------------------------ input
    def receive_data(self, data: bytes) -> None:
        """Append bytes read from the port."""
        if self._pos:
            self._before = self._buf[min(self._pos, len(self._buf)) - 1]
            if self._pos >= len(self._buf):
                self._buf.clear()
            else:
                del self._buf[: self._pos]
            self._scan_mark = max(0, self._scan_mark - self._pos)
            self._pos = 0
        self._rewindable = 0
        self._buf += data

    def feed(self, data: bytes) -> list[Event]:
        """Receive ``data`` and return every event it completes (convenience for tests).

        Raw-mode consumers that must call :meth:`end_raw` should pull with :meth:`next_event`.
        """
        self.receive_data(data)
        events: list[Event] = []
        while True:
            event = self.next_event()
            if isinstance(event, NeedData):
                return events
            events.append(event)

    def end_raw(self, leftover: int = 0) -> None:
        """End receive mode 0: the response is complete.

        Call right after the :class:`RawData` event that completed the response, with the
        number of its trailing bytes that were not part of the response. The server may still
        be sending, so those bytes and all that follow are not trusted: the parser discards them
        until :meth:`begin_sync` (the caller closes the link and probes).
        """
        if self._state is not _State.RAW:
            return
        if leftover < 0 or leftover > self._rewindable:
            raise ValueError(f"cannot hand back {leftover} bytes here")
        self._pos -= leftover
        self._enter_hunt()

    def abandon_raw(self) -> None:
        """Leave receive mode 0 without its end: nobody consumes the raw bytes any more (the
        module restarted, or the link is being closed). Like every end of raw bytes, the line is
        then distrusted until :meth:`begin_sync`."""
        if self._state is _State.RAW:
            self._enter_hunt()

    # ------------------------------------------------------------------ events
    def next_event(self) -> Event | NeedData:
        """Return the next event, or :data:`NEED_DATA` when the buffer is exhausted."""
        self._rewindable = 0
        while True:
            state = self._state
            if state is _State.LINE:
                event = self._line_event()
            elif state is _State.PAYLOAD:
                event = self._payload_event()
            elif state is _State.RAW:
                event = self._raw_event()
            elif state is _State.RAW_CLOSING:
                event = self._raw_closing_event()
            elif state is _State.DATA_ECHO:
                event = self._data_echo()
            elif state is _State.AFTER_PAYLOAD:
                event = self._after_payload()
            elif state is _State.FILE_DATA:
                event = self._file_data()
            else:
                event = self._hunt_event()
            if event is not None:
                if type(event) is WireError:
                    self._command = None
                    self._enter_hunt()  # framing is lost: nothing is trusted until a probe
                return event

    def _line_event(self) -> Event | NeedData | None:
        buf = self._buf
        pos = self._pos
        fast = _FAST_RECV.match(buf, pos)
        if fast is not None and 0 < (length := int(fast.group(2))) <= self.max_payload:
            self._pos = fast.end()
            self._source = "HTTPS" if fast.group(1) else "HTTP"
            self._remaining = length
            self._state = _State.PAYLOAD
            return self._payload_event()
        end = len(buf)
        while pos < end and buf[pos] in (0x0D, 0x0A):
            pos += 1
        self._pos = pos
        if pos == end:
            return NEED_DATA
        first = buf[pos]
        command = self._command
        if (
            first == 0x3E
            and command is not None
            and command.prompt
            and not command.prompted
            and (command.echo_seen or self.echo is not True)
        ):
            self._pos = pos + 1
            command.prompted = True
            if command.data:
                self._state = _State.DATA_ECHO
                self._echo_pos = 0
                self._prompt_space = True
            return Prompt()
        if first == 0x2B:  # "+": maybe a payload header
            header = self._recv_header(pos, end)
            if header is not False:
                assert header is not True
                return header
            if (
                command is not None
                and command.name in _FILE_READS
                and (command.echo_seen or self.echo is not True)
            ):
                file_header = self._file_read_header(command.name, pos, end)
                if file_header is not None:
                    return file_header
        match = _TERMINATOR.search(buf, pos)
        if match is None:
            if end - pos > self.max_line:
                snippet = bytes(buf[pos : pos + min(64, self.max_line + 1)])
                self._pos = end
                return WireError(f"line longer than {self.max_line} bytes", snippet)
            return NEED_DATA
        stop = match.start()
        self._pos = stop
        if stop - pos > self.max_line:
            # the same snippet as above, so the event does not depend on how reads were split
            snippet = bytes(buf[pos : pos + min(64, self.max_line + 1)])
            return WireError(f"line longer than {self.max_line} bytes", snippet)
        line = buf[pos:stop].decode("utf-8", "replace").strip()
        if not line:
            return None
        if (
            command is not None
            and not command.echo_seen
            and self.echo is not False
            and (buf[pos - 1] if pos else self._before) == 0x0D
            and _damaged_echo(line, command.text)
        ):
            command.echo_seen = True
            return Echo(command.text)
        return self._classify(line)

    def _recv_header(self, pos: int, end: int) -> Event | NeedData | bool | None:
        """Parse a ``+HTTP(S)RECV:`` header at ``pos``; False when the line is not one."""
        buf = self._buf
        for marker, source in _RECV_MARKERS:
            size = len(marker)
            if end - pos < size:
                if marker.startswith(bytes(buf[pos:end])):
                    return NEED_DATA
                continue
            if buf[pos : pos + size] != marker:
                continue
            start = pos + size
            idx = start
            limit = min(end, start + _RECV_HEADER_LIMIT)
            while idx < limit and buf[idx] not in (0x2C, 0x0D, 0x0A):
                idx += 1
            if idx == limit:
                if limit == end and end - start < _RECV_HEADER_LIMIT:
                    return NEED_DATA
                self._pos = start
                return WireError("malformed payload header", bytes(buf[pos:limit]))
            field_bytes = bytes(buf[start:idx]).strip()
            if buf[idx] == 0x2C:  # "<len>,<data>"
                if not field_bytes.isdigit():
                    self._pos = idx + 1
                    return WireError("payload length is not a number", bytes(buf[pos : idx + 1]))
                if field_bytes[:1] == b"0" and len(field_bytes) > 1:
                    # the module writes no leading zero: the space before the length was damaged
                    self._pos = idx + 1
                    return WireError(
                        "payload length with a leading zero", bytes(buf[pos : idx + 1])
                    )
                length = int(field_bytes)
                if length > self.max_payload:
                    self._pos = idx + 1
                    return WireError(
                        f"payload length {length} exceeds {self.max_payload}",
                        bytes(buf[pos : idx + 1]),
                    )
                self._pos = idx + 1
                self._source = source
                if length == 0:
                    self._state = _State.AFTER_PAYLOAD
                    return Payload(source, b"")
                self._remaining = length
                self._state = _State.PAYLOAD
                return None
            # A line end: a bare header "+HTTPRECV:<CR><LF>" starts receive mode 0. Anything
            # else (a lone CR or LF) is the space of a receive-mode-1 header damaged into a
            # line end: the server's bytes would pass for the response's raw bytes.
            if field_bytes:
                self._pos = idx
                return WireError("malformed payload header", bytes(buf[pos:idx]))
            if buf[idx] == 0x0D and idx + 1 == end:
                return NEED_DATA  # is it CR or CR LF? wait for the next byte to know
            if buf[idx] != 0x0D or buf[idx + 1] != 0x0A:
                self._pos = idx + 1
                return WireError("payload header ends in a lone line end", bytes(buf[pos:idx]))
            idx += 2
            self._pos = idx
            self._source = source
            self._state = _State.RAW
            self._raw_tail = b""
            return RawStart(source)
        return False

    def _file_read_header(self, name: str, pos: int, end: int) -> Event | NeedData | None:
        """Start the content of a file read's reply at ``pos``; None when the line is not one."""
        buf = self._buf
        match = _FILE_READS[name].match(buf, pos)
        if match is None:
            head = bytes(buf[pos : min(end, pos + _FILE_HEADER_LIMIT)])
            if len(head) < _FILE_HEADER_LIMIT and _TERMINATOR.search(head) is None:
                return NEED_DATA  # the header may still be arriving
            return None
        length = int(match.group(1))
        if length > self.max_payload:
            return None
        self._pos = match.end()
        self._file_header = bytes(buf[pos : match.end()]).decode("ascii")
        self._remaining = length
        self._state = _State.FILE_DATA
        return self._file_data()

    def _file_data(self) -> Event | NeedData | None:
        """Take a file read's content; the reply line is the header and the content, each
        byte one character (``text.encode("latin-1")`` gives the bytes back). The content waits
        in the buffer until it is all here (bounded by max_payload)."""
        buf = self._buf
        pos = self._pos
        stop = pos + self._remaining
        if len(buf) < stop:
            return NEED_DATA
        text = self._file_header + bytes(buf[pos:stop]).decode("latin-1")
        self._pos = stop
        self._remaining = 0
        self._state = _State.LINE
        command = self._command
        if command is not None:
            command.replies += 1
        return InfoLine(text)

    def _classify(self, line: str) -> Event:
        command = self._command
        length_like = _LENGTH_LIKE.match(line) if "," in line else None
        if length_like is not None and not self._known_length_report(length_like, command):
            # a damaged payload header: the server's bytes follow (see _LENGTH_LIKE)
            return WireError(
                "a line shaped like a report with a length, of no known report: a damaged"
                " payload header?",
                length_like.group(0).encode("utf-8", "replace"),
            )
        if command is not None and not command.echo_seen:
            if line == command.text:
                command.echo_seen = True
                return Echo(line)
            if self.echo is True:
                return self._before_echo(line)
            if not command.replies and line[:2].upper() == "AT":
                command.echo_seen = True  # echo off or unknown: an AT line is the echo
                return Echo(line)
        if line == "OK":
            return self._final(True, line, None)
        if line == "ERROR":
            return self._final(False, line, None)
        coded = _ERROR_CODE.match(line)
        if coded is not None:
            value = coded.group(2).strip()
            return self._final(False, line, int(value) if value.isdigit() else None)
        if line in _BARE_URCS:
            if line == "+PBREADY":
                self.echo = True  # the module restarted: echo is on after power-up
            return Urc(line)
        if command is None:
            return Urc(line) if REPORT_SHAPE.match(line) else Stray(line)
        if line in _FINAL_IN_COMMAND:
            return self._final(False, line, None)
        plus = _PLUS_LINE.match(line)
        if plus is None:
            if _BARE_NAME.match(line):
                # "+NAME" alone: a report that lost its text (no reply line has that shape)
                return Urc(line)
            command.replies += 1
            return InfoLine(line)
        name = plus.group(1).upper()
        value = plus.group(2).strip().upper()
        if name in command.failure_names and (value in _FAILURE_VALUES or value.endswith("FAILED")):
            return self._final(False, line, None)
        if (
            name == command.reply_name
            and (command.max_reply_lines is None or command.replies < command.max_reply_lines)
            and (command.reply_match is None or command.reply_match(line))
        ):
            command.replies += 1
            return InfoLine(line)
        return Urc(line)

    @staticmethod
    def _known_length_report(match: re.Match[str], command: _Command | None) -> bool:
        """A ``<head><digits>,`` line that is the module's own: a known report, or a reply
        of the command in flight; a command line (a damaged echo) is not a report at all."""
        head = match.group("head")
        if head[:2].upper() == "AT":
            return True
        form = _REPORT_HEAD.match(head)
        if form is None:
            return False
        name = form.group(1)
        if name in _LENGTH_REPORTS:
            return True
        return command is not None and name in (command.reply_name, command.name)

    def _final(self, ok: bool, text: str, code: int | None) -> FinalResult:
        solicited = self._command is not None
        self._command = None
        return FinalResult(ok=ok, text=text, code=code, solicited=solicited)

    def _before_echo(self, line: str) -> Event:
        """Echo on, the command's echo not seen yet: nothing here answers the command."""
        coded = _ERROR_CODE.match(line)
        if line in ("OK", "ERROR") or line in _FINAL_IN_COMMAND or coded is not None:
            value = coded.group(2).strip() if coded is not None else ""
            code = int(value) if value.isdigit() else None
            return FinalResult(ok=line == "OK", text=line, code=code, solicited=False)
        if line == "+PBREADY":
            self.echo = True
        if line in _BARE_URCS or REPORT_SHAPE.match(line):
            return Urc(line)
        return Stray(line)

    def _payload_event(self) -> Event | NeedData | None:
        # A chunk is emitted only once the byte after its data is here and is a CR (its
        # optional CRLF, or the next report's): a byte lost (or one too many) in the data would
        # otherwise shift the length onto the next bytes, and a response could complete with
        # them. Until then the data waits in the buffer (bounded by max_payload).
        buf = self._buf
        pos = self._pos
        stop = pos + self._remaining
        if len(buf) <= stop:
            return NEED_DATA
        if buf[stop] != 0x0D:
            self._pos = stop
            return WireError(
                "payload not followed by a line end: length and data disagree",
                bytes(buf[stop : stop + 1]),  # only the byte known in every split of the input
            )
        if self.merge_payload:
            return self._merged_payload(pos, stop)
        self._pos = stop
        self._state = _State.LINE  # the CR after the data is confirmed already
        return Payload(self._source, bytes(buf[pos:stop]))

    def _merged_payload(self, start: int, stop: int) -> Payload:
        """The chunk ``buf[start:stop]`` and every complete, confirmed chunk of the same family
        that follows it in the buffer, as one event (the hot path of downloads)."""
        buf = self._buf
        end = len(buf)
        https = self._source == "HTTPS"
        # The module sends full chunks of one size: a header equal to the previous one is
        # recognised by comparison alone, any other goes through the regular expression; and
        # where many follow, one match takes the whole run of them (each one's data by count,
        # whatever it holds) and one call slices it.
        same = b""
        length = period = 0
        bulk = -1  # from here on, a run of chunks is taken in one match
        with memoryview(buf) as view:
            parts: list[memoryview] = [view[start:stop]]
            while True:
                if same and buf.startswith(same, stop):
                    if stop <= bulk:
                        run = _frame_run(same, length).match(buf, stop)
                        assert run is not None  # (a repetition matches at least nothing)
                        matched = count = (run.end() - stop) // period
                        if count and (run.end() == end or buf[run.end()] != 0x0D):
                            count -= 1  # the last one is not confirmed: the next event decides
                        if count == 1:
                            parts.append(view[stop + len(same) : stop + period])
                        elif count:
                            region = view[stop : stop + count * period]
                            parts += _frame_slicer(len(same), length, count)(region)
                            del region
                        stop += count * period
                        if count < matched or not count:
                            break
                        continue
                    begin = stop + len(same)
                elif stop < end and buf[stop] == 0x0D:
                    header = _FAST_RECV.match(buf, stop)
                    if header is None or bool(header.group(1)) is not https:
                        break
                    length = int(header.group(2))
                    if not 0 < length <= self.max_payload:
                        break
                    begin = header.end()
                    same = bytes(buf[stop:begin])
                    period = begin - stop + length
                    bulk = end - _RUN_MIN * period
                else:
                    break
                if begin + length >= end or buf[begin + length] != 0x0D:
                    break  # not complete, or not confirmed yet: the next event decides
                stop = begin + length
                parts.append(view[begin:stop])
            data = b"".join(parts) if len(parts) > 1 else bytes(parts[0])
            del parts  # the slices must go before the view is released
        self._pos = stop
        self._state = _State.LINE  # each merged chunk's CR is confirmed already
        return Payload(self._source, data)

    def _after_payload(self) -> Event | NeedData | None:
        # After a zero-length chunk (the others are emitted only once their CR is here):
        # whatever follows a chunk starts with CR (its optional CRLF, or the next report's
        # leading CRLF); anything else means the length did not match the data (a byte lost
        # in the data would otherwise go unnoticed when the chunk then ends in CR, LF follows).
        pos = self._pos
        if pos == len(self._buf):
            return NEED_DATA
        if self._buf[pos] == 0x0D:
            self._state = _State.LINE
            return self._line_event()
        return WireError(
            "payload not followed by a line end: length and data disagree",
            bytes(self._buf[pos : pos + 1]),  # only the byte known in every split of the input
        )

    def _raw_event(self) -> Event | NeedData | None:
        buf = self._buf
        pos = self._pos
        end = len(buf)
        if pos == end:
            return NEED_DATA
        marker = _CLOSE_MARKER[self._source]
        tail = self._raw_tail
        if tail:
            probe = tail + bytes(buf[pos : pos + _CLOSE_MARKER_MAX - 1])
            found = marker.search(probe)
            if found is not None and found.start() < len(tail):
                self._raw_retract = len(tail) - found.start()
                self._raw_marker = found.group(0)
                self._pos = pos + found.end() - len(tail)
                self._raw_tail = b""
                self._state = _State.RAW_CLOSING
                return None
        found = marker.search(buf, pos)
        if found is not None:
            if found.start() > pos:
                data = bytes(buf[pos : found.start()])
                self._pos = found.start()
                self._raw_tail = b""
                self._rewindable = len(data)
                return RawData(self._source, data)
            self._raw_retract = 0
            self._raw_marker = found.group(0)
            self._pos = found.end()
            self._raw_tail = b""
            self._state = _State.RAW_CLOSING
            return None
        data = bytes(buf[pos:end])
        self._pos = end
        keep = _CLOSE_MARKER_MAX - 1
        self._raw_tail = (tail + data)[-keep:] if len(data) < keep else data[-keep:]
        self._rewindable = len(data)
        return RawData(self._source, data)

    def _raw_closing_event(self) -> Event | NeedData | None:
        buf = self._buf
        pos = self._pos
        match = _TERMINATOR.search(buf, pos, min(len(buf), pos + _CLOSE_LINE_LIMIT))
        if match is None:
            if len(buf) - pos < _CLOSE_LINE_LIMIT:
                return NEED_DATA
            stop = pos + _CLOSE_LINE_LIMIT
        else:
            stop = match.start()
        rest = buf[pos:stop].decode("utf-8", "replace")
        self._pos = stop
        line = (self._raw_marker[2:].decode("ascii") + rest).strip()
        retract = self._raw_retract
        # The report may be the server's own bytes, and the server may go on sending: what
        # follows is not trusted until a probe (the caller closes the link first).
        self._enter_hunt()
        return RawEnd(self._source, line, retract)

    def _data_echo(self) -> Event | NeedData | None:
        # The bytes typed after ">" come back as they were, when the module echoes them:
        # consumed by count and compared as they arrive, never parsed as lines. The first
        # difference is damage (noise, a lost byte, a report written inside the echo): a
        # WireError, after which nothing is trusted until a probe, so that no byte of the
        # caller's data is ever read as the module's output. With no echo expected (echo off,
        # or a module that does not echo data: echoes_data False), the bytes are the reply.
        command = self._command
        expected = command.data if command is not None else None
        if not expected or not (self.echo is True and self.echoes_data):
            self._leave_echo()  # no echo: the module's reply follows the prompt
            return None
        buf = self._buf
        end = len(buf)
        if self._pos == end:
            return NEED_DATA
        if self._prompt_space:
            if buf[self._pos] == 0x20:
                # The space of the "> " prompt, or the echo of data starting with spaces? The
                # prompt's when one more space comes than the data starts with.
                lead = len(expected) - len(expected.lstrip(b" "))
                window = bytes(buf[self._pos : self._pos + lead + 1])
                spaces = len(window) - len(window.lstrip(b" "))
                if spaces == len(window) and spaces <= lead:
                    return NEED_DATA  # only spaces so far: cannot tell yet
                if spaces > lead:
                    self._pos += 1  # "> " form of the prompt
            self._prompt_space = False
            if self._pos == end:
                return NEED_DATA
        pos = self._pos
        index = self._echo_pos
        size = len(expected)
        while pos < end and index < size and buf[pos] == expected[index]:
            pos += 1
            index += 1
        if index == size:
            self._pos = pos
            self._leave_echo()
            return None
        if pos == end:
            self._pos = pos
            self._echo_pos = index
            return NEED_DATA
        self._pos = pos
        reason = f"data echo damaged after {index} of {size} bytes: the line is not trusted"
        if index == 0:
            reason += (
                " (a module that does not echo the data typed after '>' needs echoes_data=False)"
            )
        return WireError(reason, bytes(buf[pos : pos + 1]))  # the byte known in every split

    def _leave_echo(self) -> None:
        self._state = _State.LINE
        self._echo_pos = 0

    def _hunt_event(self) -> Event | NeedData | None:
        buf = self._buf
        pos = self._pos
        end = len(buf)
        needle = self._needle
        if needle is None:
            self.discarded += end - pos
            self._scan_discarded(buf, pos, end)
            self._pos = end
            return NEED_DATA
        found = buf.find(needle, pos)
        if found < 0:
            stop = max(pos, end - len(needle) + 1)  # keep what could start the needle
            self.discarded += stop - pos
            self._scan_discarded(buf, pos, end)
            self._pos = stop
            return NEED_DATA
        self.discarded += found - pos
        self._scan_discarded(buf, pos, found)
        self._pos = found + len(needle)
        self._needle = None
        self._state = _State.LINE
        command = self._command
        assert command is not None
        command.echo_seen = True
        return Echo(command.text)
