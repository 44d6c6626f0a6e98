"""Fuzz targets: each takes one byte string, drives a component with it, and raises
:class:`AssertionError` (or lets any unexpected exception out) when a promise is broken.

The input is read as a little program (:class:`Program`): operations such as "feed these
bytes", "declare this command in flight", "abandon it", so that a coverage-guided fuzzer
reaches every state of the component, not only its line reader.

* :func:`parser_input`: :class:`n58aio.wire.AtParser` with any bytes and any command context
  (``begin_command`` with or without data, ``abandon_command``, ``end_raw`` with a valid
  leftover, ``abandon_raw``). It must never raise, keep its buffers within their bounds, emit
  well-formed events, and give the same events however the bytes are split.
* :func:`atline_input`: the emulator's sans-IO line reader and command-line syntax parser.
* :func:`cmux_input`: the 27.010 frame decoder and control-message decoder with frames, damaged
  frames and noise: no exception, bounded buffer, only well-formed frames (each re-encodes to
  the bytes it came from), the same events however the bytes are split.
* :func:`module_input`: the emulated module itself, fed through its input method (with the
  network stubbed out): no handler may fail, nothing may hang, input buffers stay bounded.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, cast

import structlog

from n58aio.cmux import (
    ControlMessage,
    ControlType,
    Frame,
    FrameDecoder,
    FrameError,
    FrameType,
    ModemStatus,
    decode_controls,
    encode_control,
    encode_frame,
    encode_uih,
    modem_status,
)
from n58aio.cmux import (
    NeedData as FrameNeedData,
)
from n58aio.emulator import http_commands, transfer_commands
from n58aio.emulator.atline import AtLineReader, CommandLine, DataChunk
from n58aio.emulator.config import EmulatorConfig
from n58aio.emulator.filesystem import ModuleFS
from n58aio.emulator.module import Module
from n58aio.emulator.netlink import NetError
from n58aio.emulator.output import OutputChannel, OutputFaults, Pacer
from n58aio.emulator.syntax import parse_command, split_args, split_first, unquote
from n58aio.errors import DecodingError
from n58aio.http.encoding import (
    CALL_COST,
    CALL_WORK,
    PIECE,
    STEP_WORK,
    ContentDecoder,
    DecompressionLimits,
    Step,
    make_decoder,
    supported_encodings,
)
from n58aio.wire import (
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
    Stray,
    Urc,
    WireError,
)
from n58aio.wire.parser import AtParser

from .wiresim import Fault, FaultKind, check_invariant, http_response

__all__ = [
    "Program",
    "atline_input",
    "cmux_input",
    "decoder_input",
    "module_input",
    "parser_input",
    "trust_input",
]


class Program:
    """Reads operations out of the fuzz input; reads past the end give zeros."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def __bool__(self) -> bool:
        return self.pos < len(self.data)

    def byte(self) -> int:
        """One byte (0 past the end)."""
        if self.pos >= len(self.data):
            return 0
        self.pos += 1
        return self.data[self.pos - 1]

    def take(self, count: int) -> bytes:
        """Up to ``count`` bytes."""
        chunk = self.data[self.pos : self.pos + count]
        self.pos += len(chunk)
        return chunk

    def pick(self, options: tuple[Any, ...]) -> Any:
        """One of ``options``."""
        return options[self.byte() % len(options)]


# ---------------------------------------------------------------------- the AT parser

TOKENS: tuple[bytes, ...] = (
    b"\r\n",
    b"\r",
    b"\n",
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n",
    b"\r\n+CME ERROR: 50\r\n",
    b"\r\n+CME ERROR: operation not allowed\r\n",
    b"\r\n+HTTPRECV: ",
    b"\r\n+HTTPSRECV: ",
    b"+HTTPRECV:",
    b"\r\n+HTTPRECV:\r\n",
    b"\r\n+HTTPSRECV:\r\n",
    b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n",
    b"\r\n+HTTPSCLOSED: HTTPS Link Closed\r\n",
    b"\r\n+HTTPCLOSE: HTTP Link Closed\r\n",
    b"\r\n+HTTPCLOSED:",
    b"\r\n>",
    b"\r\n> ",
    b">",
    b" ",
    b"\r\n+PBREADY\r\n",
    b"\r\nOPERATION EXPIRED\r\n",
    b"\r\n+HTTPSEND: ERROR\r\n",
    b"\r\n+HTTPACTION: SOCKET ID OPEN FAILED\r\n",
    b"\r\n+HTTPSETUP: FAIL\r\n",
    b"\r\n+CMEE: 1\r\n",
    b"\r\n+CREG: 0,1\r\n",
    b"AT+HTTPACTION=2,5\r",
    b"AT\r",
    b"5,",
    b"12",
    b"0,",
    b"99999999999,",
    b"AT+N58SYNC=0123456789ABCDEF\r",  # the probe's echo (see PROBE)
    b"AT+N58SYNC=0123456789ABCDEF",
    b"AT+N58SYNC=0123456789ABCDEE\r",
    b"\r\n+FSRF: 5,",
    b"\r\n+FSRFEX: 3,1A,",
)
PROBE = "AT+N58SYNC=0123456789ABCDEF"

COMMANDS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("AT", {}),
    ("ATE0", {}),
    ("ATI", {}),
    ("AT+CMEE?", {"reply_prefix": "+CMEE"}),
    ("AT+XIIC?", {}),
    ("AT+CREG?", {"reply_match": lambda line: "," in line, "max_reply_lines": 1}),
    ("AT+HTTPSETUP", {}),
    ("AT+HTTPACTION=0", {}),
    ("AT+HTTPSACTION=0", {}),
    ("AT+HTTPACTION=2,{n},1", {"data": True}),
    ("AT+HTTPSACTION=99,{n}", {"data": True}),
    ("AT+HTTPACTION=2,{n}", {"prompt": True}),
    ("AT+HTTPCLOSE", {}),
    ("AT+HTTPSCLOSE", {}),
    ("AT+FSRF=a.txt", {}),
    ("AT+FSRFEX=a.txt,0,3", {}),
)

_TEXT_EVENTS = (Echo, InfoLine, Urc, Stray)


class _Consumer:
    """Pulls events like the channel does; ends raw blocks after ``raw_limit`` bytes when set
    (as the HTTP decoder does when a response is complete)."""

    def __init__(self, parser: AtParser, bounds: dict[str, int]) -> None:
        self.parser = parser
        self.bounds = bounds
        self.events: list[Event] = []
        self.raw_limit: int | None = None
        self.raw_count = 0

    def feed(self, data: bytes) -> None:
        self.parser.receive_data(data)
        self.drain()

    def drain(self) -> None:
        parser = self.parser
        while True:
            event = parser.next_event()
            if isinstance(event, NeedData):
                break
            check_event(event, self.bounds)
            self.events.append(event)
            if isinstance(event, RawStart):
                self.raw_count = 0
            elif isinstance(event, RawData) and self.raw_limit is not None:
                self.raw_count += len(event.data)
                if self.raw_count >= self.raw_limit:
                    leftover = self.raw_count - self.raw_limit
                    parser.end_raw(leftover)
                    kept = event.data[: len(event.data) - leftover]
                    self.events[-1] = RawData(event.source, kept)
                    self.events.append(RawEnd(event.source, "(end_raw)"))
                    self.raw_limit = None
        limit = max(self.bounds["line"], self.bounds["payload"], 160) + self.bounds["data"] + 64
        assert parser.buffered <= limit, f"parser holds {parser.buffered} bytes (bound {limit})"


def check_event(event: Event, bounds: dict[str, int]) -> None:
    """An event is well-formed and within the parser's bounds."""
    if isinstance(event, _TEXT_EVENTS):
        text = event.line if isinstance(event, (Echo, Urc, Stray)) else event.text
        if isinstance(event, InfoLine) and text.startswith("+FSRF"):
            # a file read's content, taken by count: any bytes, within the payload bound (or
            # an ordinary reply line of the read, within the line bound)
            limit = max(bounds["payload"] + 48, bounds["line"] + 1)
            assert len(text) <= limit, f"file read of {len(text)} chars"
            return
        assert "\r" not in text and "\n" not in text, event
        if text != PROBE:  # the probe's echo is found by the hunt, not read as a line
            assert len(text) <= bounds["line"] + 1, f"text of {len(text)} chars: {event!r:.80}"
    elif isinstance(event, FinalResult):
        assert "\r" not in event.text and "\n" not in event.text, event
    elif isinstance(event, Payload):
        assert len(event.data) <= bounds["payload"], f"payload of {len(event.data)} bytes"
    elif isinstance(event, RawData):
        assert event.data, "empty raw data"
    elif isinstance(event, RawEnd):
        assert event.retract >= 0 and len(event.line) <= 160, event
    elif isinstance(event, WireError):
        assert len(event.data) <= 80, event
    else:
        assert isinstance(event, (Prompt, RawStart)), event


def normalise(events: Sequence[Event]) -> list[Event]:
    """Merge adjacent raw data and apply retractions, so that raw chunking does not matter."""
    out: list[Event] = []
    for event in events:
        if isinstance(event, RawData):
            if out and isinstance(out[-1], RawData):
                out[-1] = RawData(event.source, out[-1].data + event.data)
            else:
                out.append(event)
        elif isinstance(event, RawEnd):
            if event.retract:
                last = out[-1] if out else None
                assert isinstance(last, RawData), "retract without raw data before it"
                assert len(last.data) >= event.retract, "retract beyond the raw data"
                kept = last.data[: len(last.data) - event.retract]
                out[-1:] = [RawData(last.source, kept)] if kept else []
            out.append(RawEnd(event.source, event.line))
        else:
            out.append(event)
    return out


def merge_payloads(events: Sequence[Event]) -> list[Event]:
    """Join adjacent payload events of one family (``merge_payload`` groups them by reads)."""
    out: list[Event] = []
    for event in events:
        last = out[-1] if out else None
        if isinstance(event, Payload) and isinstance(last, Payload) and last.source == event.source:
            out[-1] = Payload(event.source, last.data + event.data)
        else:
            out.append(event)
    return out


def _parser_run(
    data: bytes,
    split: Callable[[bytes], Iterator[bytes]],
    end_raw: bool,
    merge: bool = False,
) -> Any:
    program = Program(data)
    bounds = {"line": 8 + program.byte() % 120, "payload": 1 + program.byte() * 3, "data": 0}
    parser = AtParser(max_line=bounds["line"], max_payload=bounds["payload"], merge_payload=merge)
    consumer = _Consumer(parser, bounds)
    while program:
        op = program.byte() % 12
        if op <= 3:
            for piece in split(program.take(program.byte() % 64 + 1)):
                consumer.feed(piece)
        elif op == 4:
            for piece in split(program.pick(TOKENS)):
                consumer.feed(piece)
        elif op == 5:
            text, options = program.pick(COMMANDS)
            payload = program.take(program.byte() % 48 + 1) if options.get("data") else None
            text = text.format(n=len(payload) if payload else 5)
            bounds["data"] = max(bounds["data"], len(payload) if payload else 0)
            kwargs = {k: v for k, v in options.items() if k != "data"}
            parser.begin_command(text, data=payload, **kwargs)
        elif op == 6:
            parser.abandon_command()
        elif op == 7 and end_raw:
            consumer.raw_limit = consumer.raw_count + program.byte()  # bytes more, then done
        elif op == 8 and end_raw:
            parser.abandon_raw()
            consumer.drain()
        elif op == 9:
            # the module's echo as the channel knows it (the echo gate), and its data echo
            setting = program.byte()
            parser.echo = (None, True, False)[setting % 3]
            parser.echoes_data = bool(setting & 4)
        elif op == 10:
            pending, source = parser.pending_retract, parser.raw_source
            if pending is not None and source is not None:
                # a link-closed report still being read is dropped by the distrust: what a
                # split run passed on as raw data of it counts as retracted
                consumer.events.append(RawEnd(source, "(distrusted)", pending))
            if program.byte() % 2:
                parser.distrust()
            parser.begin_sync(PROBE)
        else:
            for piece in split(program.pick(TOKENS) + program.take(program.byte() % 8)):
                consumer.feed(piece)
    # end with a line end: a link-closed report found in one split and still being retracted
    # in another is complete then, and the events can be compared
    for piece in split(b"\r\n"):
        consumer.feed(piece)
    return consumer.events


def _whole(data: bytes) -> Iterator[bytes]:
    yield data


def _bytewise(data: bytes) -> Iterator[bytes]:
    for index in range(len(data)):
        yield data[index : index + 1]


def parser_input(data: bytes) -> None:
    """Fuzz target of the AT parser (see the module docstring)."""
    # with end_raw and abandon_raw: no exception, bounds, well-formed events
    _parser_run(data, _whole, end_raw=True)
    # without them (the consumer's choices depend on the split): the same events in any split
    whole = normalise(_parser_run(data, _whole, end_raw=False))
    bytewise = normalise(_parser_run(data, _bytewise, end_raw=False))
    assert whole == bytewise, _first_difference(whole, bytewise)
    # merged chunks (as the channel parses): the same bytes and other events
    merged = merge_payloads(normalise(_parser_run(data, _whole, end_raw=False, merge=True)))
    expected = merge_payloads(whole)
    assert merged == expected, _first_difference(merged, expected)


def _first_difference(left: list[Event], right: list[Event]) -> str:
    for index, (a, b) in enumerate(zip(left, right, strict=False)):
        if a != b:
            return f"events differ at {index}: {a!r:.120} vs {b!r:.120}"
    return f"{len(left)} events vs {len(right)}"


# ---------------------------------------------------------------------- the emulator's reader

LINE_TOKENS: tuple[bytes, ...] = (
    b"AT\r",
    b"\r\n",
    b"\r",
    b"\n",
    b'AT+HTTPPARA=url,"www.neoway.com.cn/a?b=1"\r',
    b"AT+HTTPSCFG=\xe2\x80\x9csslversion\xe2\x80\x9d,0\r",
    b"AT+ HTTPSCFG =?\r",
    b'AT+HTTPACTION=0,"1","2"\r',
    b"AT+HTTPACTION=2,5,1\r",
    b"ATE0\r",
    b"AT&F\r",
    b'"a,b",c',
    b",,,",
    b"\xff\xfe",
)


def atline_input(data: bytes) -> None:
    """Fuzz target of the emulator's line reader and command syntax parser."""
    program = Program(data)
    max_line = 4 + program.byte() % 200
    max_input = 64 + program.byte() * 4
    reader = AtLineReader(max_line=max_line, max_input=max_input)
    expected_data = 0
    while program:
        op = program.byte() % 8
        if op <= 3:
            reader.feed(program.take(program.byte() % 96 + 1))
        elif op == 4:
            reader.feed(program.pick(LINE_TOKENS))
        elif op == 5 and not reader.in_data_phase:
            expected_data = 1 + program.byte() % 64
            reader.expect_data(expected_data)
        elif op == 6:
            reader.cancel_data()
            expected_data = 0
        elif op == 7 and program.byte() % 4 == 0:
            reader.clear()
            expected_data = 0
        for _ in range(64):
            event = reader.next_event()
            if event is None:
                break
            if isinstance(event, DataChunk):
                assert event.data and event.remaining >= 0, event
                assert len(event.data) + event.remaining == expected_data, event
                expected_data = event.remaining
                continue
            assert isinstance(event, CommandLine)
            _check_line(event, max_line)
        assert reader.buffered <= max_input, f"reader holds {reader.buffered} > {max_input}"
        if not reader.in_data_phase and reader.next_event() is None:
            assert reader.buffered <= max_line + 2, f"an unterminated line of {reader.buffered}"


def _check_line(event: CommandLine, max_line: int) -> None:
    assert b"\r" not in event.text and b"\n" not in event.text, event
    assert len(event.text) <= max_line, f"line of {len(event.text)} > {max_line}"
    assert event.echo[-1:] in (b"\r", b"\n"), event
    if not event.overflow:
        assert event.echo[:-1] == event.text, event
    command = parse_command(event.text)
    if command is not None:
        assert command.name == command.name.upper(), command
        split_args(command.args)
        split_first(command.args)
        unquote(command.args)


# ---------------------------------------------------------------------- the emulated module


class _Log:
    """A logger that keeps the errors the module reports (a handler or task that failed)."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def bind(self, **_: object) -> _Log:
        return self

    def debug(self, *_: object, **__: object) -> None:
        pass

    info = warning = debug

    def error(self, event: str, *_: object, **fields: object) -> None:
        self.errors.append(f"{event} {fields}")

    exception = error


async def _no_connection(*_: object, **__: object) -> Any:
    raise NetError("fuzzing: no network")


@contextlib.contextmanager
def _offline() -> Iterator[None]:
    """The module's network calls fail at once (no DNS, no connection)."""
    patched = ((vars(http_commands), "open_connection"), (vars(transfer_commands), "fetch"))
    saved = [(namespace, name, namespace[name]) for namespace, name in patched]
    for namespace, name, _ in saved:
        namespace[name] = _no_connection
    try:
        yield
    finally:
        for namespace, name, value in saved:
            namespace[name] = value


_MODULE_TOKENS: tuple[bytes, ...] = (
    b"AT+XIIC=1\r",
    b"AT+XIIC?\r",
    b"AT+HTTPPARA=url,origin.test/x\r",
    b"AT+HTTPPARA=port,80\r",
    b"AT+HTTPPARA=recvmode,0\r",
    b"AT+HTTPSETUP\r",
    b"AT+HTTPACTION=0\r",
    b"AT+HTTPACTION=2,4,1\r",
    b"AT+HTTPACTION=99,3\r",
    b"AT+HTTPCLOSE\r",
    b"AT+HTTPGET\r",
    b"AT+HTTPGETSTAT?\r",
    b"AT+FILEHTTPACTION=0,0,10\r",
    b"AT+FILEHTTPACTION=1,4,1,ca.pem\r",
    b'AT+HTTPSCFG="authmode",1\r',
    b'AT+HTTPSCFG="cacert","ca.pem"\r',
    b"AT+HTTPSSETUP\r",
    b"AT+CMEE=2\r",
    b"ATE0\r",
    b"ATI\r",
    b"AT+CSQ\r",
    *LINE_TOKENS,
    # multiplexer mode: the command, then frames (control channel, DLCs, flow control, CLD)
    b"AT+CMUX=0\r",
    b"AT+CMUX=0,0,5,64\r",
    *(encode_frame(Frame(dlci, FrameType.SABM, pf=True)) for dlci in (0, 1, 2, 3, 5)),
    encode_frame(Frame(1, FrameType.DISC, pf=True)),
    encode_uih(1, b"AT+CSQ\r", 64),
    encode_uih(2, b"AT+HTTPSETUP\r", 64),
    encode_uih(2, b"AT+HTTPACTION=0\r", 64),
    encode_uih(1, b"AT+CFUN=1,1\r", 64),
    *(
        encode_frame(Frame(0, FrameType.UIH, encode_control(message)))
        for message in (
            ControlMessage(ControlType.MSC, True, modem_status(ModemStatus(2, fc=True))),
            ControlMessage(ControlType.MSC, True, modem_status(ModemStatus(2))),
            ControlMessage(ControlType.TEST, True, b"ping"),
            ControlMessage(ControlType.PSC, True),
            ControlMessage(ControlType.CLD, True),
        )
    ),
)

_loop: asyncio.AbstractEventLoop | None = None
_fs_dir: tempfile.TemporaryDirectory[str] | None = None


def module_input(data: bytes) -> None:
    """Fuzz target of the emulated module fed through :meth:`Module.feed`."""
    global _loop, _fs_dir
    if _loop is None or _loop.is_closed():
        _loop = asyncio.new_event_loop()
    if _fs_dir is None:
        _fs_dir = tempfile.TemporaryDirectory(prefix="n58fuzz-")
    with _offline():
        _loop.run_until_complete(_module_run(data, Path(_fs_dir.name)))


async def _module_run(data: bytes, root: Path) -> None:
    program = Program(data)
    config = EmulatorConfig(
        data_timeout=0.02,
        pdp_up=bool(program.byte() & 1),
        echo=bool(program.byte() & 1),
        connect_timeout=0.05,
    )
    written = bytearray()

    async def write(chunk: bytes) -> None:
        written.extend(chunk)
        if len(written) > 1 << 20:
            del written[: len(written) - (1 << 16)]

    log = _Log()
    logger = cast(structlog.typing.FilteringBoundLogger, log)
    output = OutputChannel(write, Pacer(None), OutputFaults(), logger)
    module = Module(config, ModuleFS(root), output, OutputFaults(), logger, 1, lambda: None)
    output.start()
    module.start()
    try:
        while program:
            op = program.byte() % 6
            if op <= 2:
                module.feed(program.take(program.byte() % 64 + 1))
            elif op == 3:
                module.feed(program.pick(_MODULE_TOKENS))
            elif op == 4:
                module.feed(program.pick(_MODULE_TOKENS) + program.take(program.byte() % 16))
            else:
                await asyncio.sleep(0)
            assert module.reader.buffered <= 1 << 16, "module input unbounded"
        await _settle(module, output)
        assert not log.errors, log.errors
    finally:
        await module.shutdown()
        await output.close()


async def _settle(module: Module, output: OutputChannel, limit: float = 2.0) -> None:
    """Wait until the module has handled all its input; a module that does not is hung."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    quiet = 0
    last = -1
    while quiet < 5:
        assert loop.time() < deadline, "the module did not settle: hung?"
        await asyncio.sleep(0.002)
        busy = module._busy or output.pending or module.reader.in_data_phase
        mark = output.written + module.reader.buffered
        quiet = quiet + 1 if not busy and mark == last else 0
        last = mark


# ---------------------------------------------------------------------- the trust invariant

_LOOKALIKES: tuple[bytes, ...] = (
    b"\r\nOK\r\n",
    b"\r\nERROR\r\n",
    b"\r\n+HTTPRECV: 38,HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE",
    b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n",
    b"\r\n+PBREADY\r\n",
    b"AT+CGMM\r\r\nFORGED\r\n\r\nOK\r\n",
    b"\r\n>",
    b"\r\n+HTTPRECV: 900000,",
)
_FAULT_KINDS: tuple[FaultKind, ...] = ("drop", "garble", "insert", "none")


def _tricky(program: Program) -> bytes:
    parts = []
    for _ in range(program.byte() % 5):
        parts.append(program.pick(_LOOKALIKES) if program.byte() % 2 else program.take(16))
    return b"".join(parts)


def trust_input(data: bytes) -> None:
    """Fuzz target of the trust invariant (``fuzz/wiresim.py``): any POST body, any server
    bytes, one fault anywhere on the module's output; a returned body is the server's, what
    the server got is the body, and the next command gets its own reply."""
    program = Program(data)
    post = _tricky(program)[:2048] if program.byte() % 3 else None
    body, extra = _tricky(program), _tricky(program)
    fault = Fault(
        kind=program.pick(_FAULT_KINDS),
        offset=program.byte() * 4,
        size=1 + program.byte() % 40,
        noise=_tricky(program) or b"\r\nOK\r\n",
    )
    check_invariant(post or None, http_response(body, extra=extra), fault, 1 + program.byte() % 12)


# ---------------------------------------------------------------------- the content decoder

_FUZZ_LIMITS = DecompressionLimits(max_ratio=1e9, max_size=1 << 20)
_MAX_SPILL = 5 * 128 * 1024  # one zstd call: at most 5 blocks from 16 bytes (brotli: less)


def _encoded(coding: str, data: bytes, program: Program) -> bytes:
    """``data`` in ``coding``, as one stream or (gzip, zstd) several members or frames."""
    if coding == "deflate":
        raw = program.byte() % 2
        obj = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS if raw else zlib.MAX_WBITS)
        return obj.compress(data) + obj.flush()
    if coding == "br":
        import brotli

        return bytes(brotli.compress(data))
    cut = program.byte() * len(data) // 256
    parts = (data[:cut], data[cut:]) if program.byte() % 2 else (data,)
    if coding == "gzip":
        return b"".join(gzip.compress(part) for part in parts)
    import zstandard

    return b"".join(zstandard.ZstdCompressor().compress(part) for part in parts)


def decoder_input(data: bytes) -> None:
    """Fuzz target of the content decoder: any stack of up to three codings, a valid body
    (several members, repeated content up to 256 KiB) or any bytes, maybe one bit flipped,
    in any split, with a 1 MiB size limit. Only a :class:`~n58aio.errors.DecodingError` may
    come out, and never for a valid body; every step stays
    within its budget, every buffer within one call's output, every layer's output within
    the limits, the whole work within a fixed multiple of the bytes; a valid body decodes to
    its document."""
    program = Program(data)
    # a fixed head: number of codings, three codings, document size and repeat, body, flip
    count, *picks, size, repeat, body, flip_at = program.take(8).ljust(8, b"\0")
    codings = [supported_encodings()[pick % len(supported_encodings())] for pick in picks]
    codings = codings[: 1 + count % 3]
    document = program.take(size) * (1 + repeat * 4)
    valid = body % 4 != 0
    if valid:
        wire = document
        for coding in codings:
            wire = _encoded(coding, wire, program)
    else:
        wire = program.take(2048)
    flip = flip_at % 8 == 0 and len(wire) > 0
    if flip:  # one bit of the body flipped
        at = (program.byte() * 256 + program.byte()) % len(wire)
        wire = wire[:at] + bytes([wire[at] ^ (1 << flip_at % 7)]) + wire[at + 1 :]
    decoder = make_decoder(", ".join(codings), _FUZZ_LIMITS)
    assert decoder is not None
    out: list[bytes] = []
    try:
        pos = 0
        while pos < len(wire):
            size = 1 + (program.byte() * 64 if program else len(wire))
            decoder.feed(wire[pos : pos + size])
            pos += size
            _decoder_drain(decoder, out, size)
        decoder.feed_eof()
        _decoder_drain(decoder, out, 0)
    except DecodingError:
        assert not valid or flip, "a valid body refused"
    else:
        assert not valid or flip or b"".join(out) == document
    finally:
        produced = [layer.produced for layer in decoder.layers]
        assert all(p <= (1 << 20) + _MAX_SPILL + PIECE for p in produced), produced
        bound = (CALL_COST + 2) * (decoder.encoded + sum(produced)) + CALL_COST
        assert decoder.work <= bound, (decoder.work, bound)


def _decoder_drain(decoder: ContentDecoder, out: list[bytes], fed: int) -> None:
    while True:
        got = decoder.next_piece()
        assert decoder.longest_step < STEP_WORK + CALL_WORK, decoder.longest_step
        for layer in decoder.layers:
            assert layer.waiting <= fed + PIECE, (layer.name, layer.waiting)
            assert len(layer.spill) <= _MAX_SPILL, (layer.name, len(layer.spill))
        if got is Step.NEED_DATA or got is Step.DONE:
            return
        if isinstance(got, bytes):
            assert 0 < len(got) <= PIECE
            out.append(got)


_FRAME_TYPES = tuple(FrameType)


def _cmux_wire(program: Program) -> bytes:
    """Frames (some damaged: a byte flipped, the closing flag lost, cut short) and noise."""
    parts = []
    while program:
        op = program.byte() % 6
        if op <= 2:
            frame = Frame(
                dlci=program.byte() % 62,
                type=program.pick(_FRAME_TYPES),
                info=program.take(program.byte() % 80),
                cr=bool(op & 1),
                pf=bool(op & 2),
            )
            parts.append(encode_frame(frame))
        elif op == 3:
            damaged = bytearray(
                encode_frame(Frame(1, FrameType.UIH, program.take(program.byte() % 40)))
            )
            spot = program.byte() % len(damaged)
            damaged[spot] ^= 1 + program.byte() % 255
            parts.append(bytes(damaged))
        elif op == 4:
            wire = encode_frame(Frame(2, FrameType.UIH, program.take(program.byte() % 40)))
            parts.append(wire[: program.byte() % len(wire)])
        else:
            parts.append(program.take(program.byte() % 32 + 1))
    return b"".join(parts)


def _cmux_run(wire: bytes, n1: int, step: int) -> list[Frame | FrameError]:
    decoder = FrameDecoder(n1)
    events: list[Frame | FrameError] = []
    for pos in range(0, len(wire), step):
        decoder.receive_data(wire[pos : pos + step])
        while not isinstance(event := decoder.next_event(), FrameNeedData):
            events.append(event)
            if isinstance(event, Frame):
                assert len(event.info) <= n1, event
                again = FrameDecoder(n1)
                again.receive_data(encode_frame(event))
                assert again.next_event() == event, event
                if event.dlci == 0 and event.type == FrameType.UIH:
                    with contextlib.suppress(ValueError):
                        decode_controls(event.info)
            else:
                assert event.dropped > 0 and len(event.sample) <= 64, event
        assert decoder.buffered <= n1 + 6, f"decoder holds {decoder.buffered} bytes"
    return events


def cmux_input(data: bytes) -> None:
    """Fuzz target of the 27.010 codec (see the module docstring)."""
    program = Program(data)
    n1 = 1 + program.byte() % 128
    wire = _cmux_wire(program)
    whole = _cmux_run(wire, n1, max(1, len(wire)))
    bytewise = _cmux_run(wire, n1, 1)
    assert [e for e in whole if isinstance(e, Frame)] == [
        e for e in bytewise if isinstance(e, Frame)
    ], "frames depend on the split"
