"""A simulated N58 behind a fake transport, with one fault on its output: the trust invariant.

The real channel, parser and HTTP client run against :class:`SimModule`, which answers their
command lines as the module does (echo on, the data phase with its echo, ``+HTTPRECV`` chunks of
a server's response, the link-closed report) with no I/O, on a virtual-time loop
(:mod:`fuzz.sim.vloop`): a timeout that a fault provokes costs no wall-clock time and no load on
the machine can move it, so that thousands of cases run in minutes and each one the same way
every time (the channel's probe tokens are drawn from a fixed seed too). One :class:`Fault`
strikes the module's output at a byte offset: bytes lost, garbled or inserted.
:func:`check_invariant` then asserts what the trust model promises:

- a response that comes back carries exactly the server's body, whatever the caller's POST body
  and the server's bytes contain (anything else is an :class:`~n58aio.errors.N58Error`);
- what reached the server is the caller's body, whole, or nothing;
- the next command gets its own reply.

Used by ``tests/faults/test_trust_invariant.py`` (hypothesis) and ``python -m fuzz.trust``
(atheris).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal
from unittest import mock

import h11

from n58aio.channel import ModemChannel
from n58aio.errors import N58Error
from n58aio.http import HttpClient, Timeouts

from .sim import vloop

__all__ = ["Fault", "FaultKind", "SimModule", "check_invariant", "http_response", "run_case"]

FaultKind = Literal["drop", "garble", "insert", "none"]
TIMEOUTS = Timeouts(connect=0.3, first_byte=0.3, idle=0.3)
SLACK = 0.05
DATA_TIMEOUT = 0.3
RESYNC_GRACE = 0.3  # seconds between probes (2 s on a real line)
# All durations are virtual seconds: kept as they were on the wall clock, so that each case
# times out where it did.
CHUNK = 64  # data bytes per +HTTPRECV report
_ACTION = re.compile(r"^AT\+HTTPACTION=(\d+)(?:,(\d+))?")


@dataclass
class Fault:
    """One fault on the module's output: ``size`` bytes at ``offset`` lost, inverted, or
    ``noise`` inserted there."""

    kind: FaultKind = "none"
    offset: int = 0
    size: int = 1
    noise: bytes = b"\r\nOK\r\n"
    hit: tuple[int, int] | None = None
    """Where in the output the fault struck (bytes ``[low, high)``; an insertion: empty)."""

    def apply(self, start: int, data: bytes) -> bytes:
        """The fault applied to output ``data`` written from byte ``start`` of the output."""
        if self.kind == "none":
            return data
        end = start + len(data)
        if self.kind == "insert":
            if start <= self.offset < end or (self.offset == end and not data):
                cut = self.offset - start
                self.kind = "none"
                self.hit = (self.offset, self.offset)
                return data[:cut] + self.noise + data[cut:]
            return data
        low, high = max(start, self.offset), min(end, self.offset + self.size)
        if low >= high:
            return data
        self.hit = (low, high) if self.hit is None else (self.hit[0], high)
        a, b = low - start, high - start
        hit = b"" if self.kind == "drop" else bytes(x ^ 0xFF for x in data[a:b])
        return data[:a] + hit + data[b:]


@dataclass
class SimModule:
    """Answers the channel's writes as an N58 with echo on (see the module docstring)."""

    response: bytes
    fault: Fault = field(default_factory=Fault)
    pieces: int = 7
    received_data: list[bytes] = field(default_factory=list)
    data_ranges: list[tuple[int, int]] = field(default_factory=list)
    """Where the data of the response's chunks went in the output (what no parser can check)."""
    requests: int = 0
    _written: int = 0
    _input: bytearray = field(default_factory=bytearray)
    _want: int = 0  # data bytes the open data phase still takes
    _data: bytearray = field(default_factory=bytearray)
    _echo: bool = True
    _cmee: bool = True  # numeric errors, as the bring-up sets them
    _link: bool = False
    _channel: ModemChannel | None = None
    _expiry: asyncio.TimerHandle | None = None

    def attach(self, channel: ModemChannel) -> None:
        self._channel = channel

    # ---------------------------------------------------------------- input
    def write(self, data: bytes) -> None:
        self._input += data
        while self._input:
            if self._want:
                take = bytes(self._input[: self._want])
                del self._input[: len(take)]
                self._want -= len(take)
                self._data += take
                if self._echo:
                    self._out(take)
                if not self._want:
                    self._end_data_phase()
                continue
            end = self._input.find(b"\r")
            if end < 0:
                return
            line = bytes(self._input[:end]).decode("latin-1")
            del self._input[: end + 1]
            if self._echo:
                self._out(line.encode("latin-1") + b"\r")
            self._command(line)

    def _command(self, line: str) -> None:
        text = line.upper()
        if text in ("ATE1", "ATE0"):
            self._echo = text == "ATE1"
            self._out(b"\r\nOK\r\n")
        elif text.startswith(("AT+HTTPPARA=", "AT+HTTPSETUP")):
            self._link = self._link or text == "AT+HTTPSETUP"
            self._out(b"\r\nOK\r\n")
        elif text == "AT+HTTPCLOSE":
            self._out(b"\r\nOK\r\n")
            if self._link:
                self._link = False
                self._out(b"\r\n+HTTPCLOSE: HTTP Link Closed\r\n")
        elif text == "AT+CGMM":
            self._out(b"\r\nN58\r\n\r\nOK\r\n")
        elif (action := _ACTION.match(text)) is not None:
            mode, length = int(action.group(1)), int(action.group(2) or 0)
            if not self._link:
                self._out(b"\r\n+HTTPACTION: SOCKET ID OPEN FAILED\r\n")
            elif mode in (2, 99) and length:
                self._out(b"\r\n>")
                self._want = length
                self._data.clear()
                loop = asyncio.get_running_loop()
                self._expiry = loop.call_later(DATA_TIMEOUT, self._expire)
            else:
                self._send_response()
        elif text in ("AT+CMEE=0", "AT+CMEE=1"):
            self._cmee = text.endswith("1")
            self._out(b"\r\nOK\r\n")
        else:
            # the probe, and anything unknown (numeric errors: the N58 after the bring-up)
            self._out(b"\r\n+CME ERROR: 58\r\n" if self._cmee else b"\r\nERROR\r\n")

    def _expire(self) -> None:
        if self._want:
            self._want = 0
            self._out(b"\r\nOPERATION EXPIRED\r\n")

    def _end_data_phase(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
        self.received_data.append(bytes(self._data))
        self._send_response()

    def _send_response(self) -> None:
        self.requests += 1
        self._out(b"\r\nOK\r\n")
        body = self.response
        for start in range(0, len(body), CHUNK):
            chunk = body[start : start + CHUNK]
            header = b"\r\n+HTTPRECV: %d," % len(chunk)
            at = self._written + len(header)
            self.data_ranges.append((at, at + len(chunk)))
            self._out(header + chunk + b"\r\n")
        self._link = False
        self._out(b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n")

    # ---------------------------------------------------------------- output
    def _out(self, data: bytes) -> None:
        start = self._written
        self._written += len(data)
        damaged = self.fault.apply(start, data)
        loop = asyncio.get_running_loop()
        for piece in _split(damaged, self.pieces):
            loop.call_soon(self._deliver, piece)

    def _deliver(self, data: bytes) -> None:
        channel = self._channel
        if channel is not None and not channel.closed:
            channel.data_received(data)


def _split(data: bytes, pieces: int) -> Iterator[bytes]:
    step = max(1, len(data) // max(1, pieces) + 1)
    for start in range(0, len(data), step):
        yield data[start : start + step]


class _Transport(asyncio.WriteTransport):
    """Hands the channel's writes to the simulated module."""

    def __init__(self, module: SimModule) -> None:
        super().__init__()
        self.module = module
        self.closing = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        asyncio.get_running_loop().call_soon(self.module.write, bytes(data))

    def is_closing(self) -> bool:
        return self.closing

    def close(self) -> None:
        self.closing = True


def http_response(body: bytes, *, extra: bytes = b"") -> bytes:
    """A server's answer with ``body`` and a Content-Length, then ``extra`` bytes after it."""
    head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
    return head + body + extra


@dataclass
class Outcome:
    """What the caller saw."""

    body: bytes | None = None
    error: N58Error | None = None
    next_reply: list[str] | None = None
    in_payload_data: bool = False
    """The fault struck only inside the data of a chunk: noise there has no framing to break,
    and no AT-level client can see it (the residual risk of docs/reliability.md)."""


async def run_case(post: bytes | None, response: bytes, fault: Fault, pieces: int) -> Outcome:
    """One request (a POST of ``post``, or a GET) through the simulated module, then AT+CGMM."""
    module = SimModule(response, fault=fault, pieces=pieces)
    channel = ModemChannel(name="sim", baudrate=None, timeout_slack=SLACK)
    channel.module_data_timeout = DATA_TIMEOUT
    channel.resync_grace = RESYNC_GRACE
    module.attach(channel)
    transport = _Transport(module)
    channel.connection_made(transport)
    client = HttpClient(channel, timeouts=TIMEOUTS)
    outcome = Outcome()
    try:
        async with asyncio.timeout(30):
            try:
                if post is None:
                    # compress=False: the module's own GET (the simulated module writes it)
                    answer = await client.request("GET", "http://origin.test/x", compress=False)
                else:
                    headers = {"Content-Type": "text/plain"}
                    answer = await client.request(
                        "POST", "http://origin.test/x", content=post, headers=headers
                    )
                outcome.body = answer.content
            except N58Error as exc:
                outcome.error = exc
            module.fault.kind = "none"
            reply = await channel.command("AT+CGMM")
            outcome.next_reply = reply.lines
    finally:
        channel.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0)
    _check_uploads(post, module)
    hit = fault.hit
    if hit is not None:
        low, high = hit
        outcome.in_payload_data = any(
            a < low and high < b if low == high else a <= low and high <= b
            for a, b in module.data_ranges
        )
    return outcome


def _check_uploads(post: bytes | None, module: SimModule) -> None:
    for data in module.received_data:
        assert post is not None and data == post, f"the server got {data!r:.80}, not the body"


@contextlib.contextmanager
def _fixed_tokens() -> Iterator[None]:
    """The channel's probe tokens from a fixed seed: a case that fails fails again on replay."""
    rng = random.Random("wiresim/tokens")

    def token_hex(nbytes: int | None = None) -> str:
        return rng.randbytes(nbytes or 32).hex()

    with mock.patch.object(secrets, "token_hex", token_hex):
        yield


def server_body(response: bytes) -> bytes:
    """The body of a server's answer, as any HTTP client reads it."""
    connection = h11.Connection(h11.CLIENT)
    connection.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
    connection.send(h11.EndOfMessage())
    connection.receive_data(response)
    body = b""
    while True:
        event = connection.next_event()
        if isinstance(event, h11.Data):
            body += bytes(event.data)
        elif event is h11.NEED_DATA or isinstance(event, h11.EndOfMessage):
            return body


def check_invariant(post: bytes | None, response: bytes, fault: Fault, pieces: int) -> Outcome:
    """Run a case in virtual time and assert the trust invariant (see the module docstring).

    A case that hangs raises :class:`~fuzz.sim.vloop.Deadlock` (nothing left to wake it) or
    :class:`~fuzz.sim.vloop.Livelock` at once, instead of waiting out a timeout."""
    with _fixed_tokens():
        outcome: Outcome = vloop.run(run_case(post, response, fault, pieces))
    if outcome.error is None and not outcome.in_payload_data:
        assert outcome.body == server_body(response), (
            f"a returned body that is not the server's: {outcome.body!r:.120}"
        )
    assert outcome.next_reply == ["N58"], f"the next command got {outcome.next_reply!r}"
    return outcome
