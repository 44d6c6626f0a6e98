"""The fault matrix machinery: one request through a fresh emulator with one fault at one phase.

:func:`run_cell` starts an emulator, opens a modem on it, arms the fault so that it strikes at
the chosen phase of a request, runs the request under a hard time bound and records what the
caller saw; then it runs a second request on the same modem, closes everything and checks that
no task and no file descriptor was left behind. The checks that do not depend on the cell
(bounded time, correct bytes, no leaks, the modem usable afterwards) are made here; the
expected outcome of each cell is asserted by the test module.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import n58aio
from n58aio import Timeouts
from n58aio.commands.http import HTTP
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.faults import Faults
from n58aio.emulator.origin import OriginServer, pattern_bytes

FAULTS = (
    "drop",
    "garble",
    "stall",
    "inject",
    "duplicate",
    "link_closed",
    "reset",
    "silent_reset",
    "port_gone",
)
PHASES = ("command", "prompt", "upload", "header", "body", "close")

TIMEOUTS = Timeouts(connect=3.0, first_byte=1.0, idle=1.0)
"""Per-request timeouts of the matrix: short, so that a cell ends quickly."""
SLACK = 0.3
"""``timeout_slack`` of the modems (added to the manual's command timeouts)."""
STALL = 2.0
"""An output stall longer than every timeout above: the caller must time out, not hang."""
DATA_TIMEOUT = 1.0
"""The emulated module's data-phase timeout (30 s on a real one)."""
BOUND = 15.0
"""Hard bound on one request of a cell, whatever happens."""
SETTLE = 3.0
"""Time allowed for tasks and descriptors to go after everything was closed."""

GET_SIZE = 20000
CLOSE_SIZE = 300000
HEADER_AT = 10  # relayed server bytes before the fault: inside the status line
BODY_AT = 6000  # past the head, in the middle of the body
NOISE = b"\r\n+CREG: 1\r\n\r\nRING\r\n\r\n+CSQ: 20,99\r\n"
DUPLICATE = b"\r\nOK\r\n\r\nOK\r\n\r\nERROR\r\n"
"""Final results that answer nothing (late or duplicate): never another command's reply."""
"""Reports a module may write at any time (``faults.inject``): never part of any reply."""
UPLOAD = (
    b"POST body\r\nOK\r\n+HTTPRECV: 43,HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nEVIL\r\n"
    b"AT+XIIC=0\r\n\x1a\x1b\x00>" + bytes(range(256)) + b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
)
"""A POST body that looks like modem output and commands: it must stay data."""


@dataclass
class Outcome:
    """What the caller saw in a cell."""

    fault: str
    phase: str
    recvmode: int
    result: str = ""  # "ok" or the exception class name
    kinds: frozenset[str] = frozenset()  # the names of the exception's classes, bases included
    message: str = ""
    received: bytes = b""  # body bytes handed to the caller (all of them, or before the error)
    expected: bytes = b""  # the full correct body
    seconds: float = 0.0
    uploaded: bytes | None = None  # what the origin got for the POST, if it got it
    after: str = ""  # outcome of the next request on the same modem
    fired: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        """``ok``, ``ok (partial)`` or the error class name."""
        return self.result


def spy_writes(modem: n58aio.Modem) -> list[bytes]:
    """Record every write the modem's channel makes to the port, in order."""
    writes: list[bytes] = []
    channel = modem.channel
    state = vars(channel)
    original = state.setdefault("_unspied_write", channel._write)  # one spy at a time

    def write(data: bytes) -> None:
        writes.append(bytes(data))
        original(data)

    channel._write = write  # type: ignore[method-assign]
    return writes


def fd_count() -> int:
    """Open file descriptors of this process."""
    return len(os.listdir("/proc/self/fd"))


def upload_answer(name: str, body: bytes) -> bytes:
    """The exact response body of ``POST /upload/<name>`` (see :class:`OriginServer`)."""
    digest = hashlib.sha256(body).hexdigest()
    return json.dumps({"name": name, "size": len(body), "sha256": digest}).encode()


def command_echo(command: str) -> int:
    """Bytes of a command line's echo (the line and its CR)."""
    return len(command) + 1


class Arming:
    """Arms one fault on an emulator so that it strikes at one phase of the request."""

    def __init__(self, emu: Emulator, fault: str, phase: str, recvmode: int) -> None:
        self.emu = emu
        self.faults: Faults = emu.faults
        self.fault = fault
        self.phase = phase
        self.recvmode = recvmode
        self.fired = False

    def _mark(self, action: Callable[[], object]) -> Callable[[], object]:
        def run() -> object:
            self.fired = True
            return action()

        return run

    def output_fault(self, size: int) -> Callable[[], object]:
        """The output fault of ``drop``/``garble``/``stall``/``inject``, over ``size`` bytes."""
        faults = self.faults
        if self.fault == "drop":
            return lambda: faults.drop_next(size)
        if self.fault == "garble":
            return lambda: faults.garble_next(size)
        if self.fault == "stall":
            return lambda: faults.stall(STALL)
        if self.fault == "inject":
            return lambda: faults.inject(NOISE, immediate=True)
        if self.fault == "duplicate":
            # a final result of nothing (a late or duplicate OK), after what is being written
            return lambda: faults.inject(DUPLICATE, immediate=False)
        raise AssertionError(self.fault)

    def event_fault(self) -> Callable[[], object]:
        """The action of ``link_closed``/``reset``/``port_gone``."""
        faults = self.faults
        if self.fault == "link_closed":
            return faults.close_link
        if self.fault == "reset":
            return faults.reset
        if self.fault == "silent_reset":
            return lambda: faults.restart(report=False)  # +PBREADY lost: nobody sees it
        if self.fault == "port_gone":
            return faults.drop_port
        raise AssertionError(self.fault)

    @property
    def output(self) -> bool:
        return self.fault in ("drop", "garble", "stall", "inject", "duplicate")

    def arm(self, upload_command: str) -> None:
        """Arm the fault for the request of this phase (see :func:`request_for`)."""
        faults = self.faults
        phase = self.phase
        if phase == "command":
            # the request's key command: AT+HTTPACTION=0 (echo and OK hit, or the command lost)
            command = HTTP.action(0)
            size = command_echo(command) + len(b"\r\nOK\r\n")
            if self.output:
                faults.on_command(command, self._mark(self.output_fault(size)), ordered=True)
            else:
                faults.on_command(command, self._mark(self.event_fault()))
        elif phase == "prompt":
            size = command_echo(upload_command) + len(b"\r\n>")
            if self.output:
                faults.on_command(upload_command, self._mark(self.output_fault(size)), ordered=True)
            else:
                faults.on_command(upload_command, self._mark(self.event_fault()))
        elif phase == "upload":
            # the echo of the body, the module's acknowledgement after it, or the send itself
            size = 24
            if self.output:
                faults.on_data(self._mark(self.output_fault(size)), ordered=True)
            else:
                faults.on_data(self._mark(self.event_fault()))
        elif phase in ("header", "body"):
            at = HEADER_AT if phase == "header" else BODY_AT
            # unpaced, the bytes after the boundary start the next report: its framing is hit
            size = 6
            # ordered: the fault strikes once the bytes before the boundary reached the port;
            # a link closed at the boundary itself, so that exactly `at` bytes come before
            action = self.output_fault(size) if self.output else self.event_fault()
            ordered = self.fault != "link_closed"
            faults.after_body_bytes(at, self._mark(action), ordered=ordered)
        elif phase == "close":
            command = HTTP.close()
            size = command_echo(command) + len(b"\r\nOK\r\n")
            if self.output:
                faults.on_command(command, self._mark(self.output_fault(size)), ordered=True)
            else:
                faults.on_command(command, self._mark(self.event_fault()))
        else:  # pragma: no cover
            raise AssertionError(phase)


async def run_request(
    modem: n58aio.Modem, origin: OriginServer, phase: str, outcome: Outcome
) -> None:
    """The request of ``phase``; fills ``outcome.received``/``expected``/``result``."""
    received = bytearray()
    try:
        if phase in ("prompt", "upload"):
            name = f"{phase}-{outcome.fault}-{outcome.recvmode}"
            outcome.expected = upload_answer(name, UPLOAD)
            async with modem.stream(
                "POST",
                origin.url(f"/upload/{name}"),
                content=UPLOAD,
                headers={"Content-Type": "text/plain"},
                timeouts=TIMEOUTS,
            ) as response:
                async for chunk in response.aiter_bytes():
                    received += chunk
            outcome.uploaded = origin.uploads.get(name)
        elif phase == "close":
            outcome.expected = pattern_bytes(0, CLOSE_SIZE)
            async with modem.stream(
                "GET", origin.url(f"/bytes/{CLOSE_SIZE}"), timeouts=TIMEOUTS, compress=False
            ) as response:
                async for chunk in response.aiter_bytes():
                    received += chunk
                    break  # leave early: the link must be closed with AT+HTTPCLOSE
            outcome.notes.append("left early")
        else:
            outcome.expected = pattern_bytes(0, GET_SIZE)
            async with modem.stream(  # compress=False: the module's own GET, AT+HTTPACTION=0
                "GET", origin.url(f"/bytes/{GET_SIZE}"), timeouts=TIMEOUTS, compress=False
            ) as response:
                async for chunk in response.aiter_bytes():
                    received += chunk
        outcome.result = "ok"
    except n58aio.N58Error as exc:
        outcome.result = type(exc).__name__
        outcome.kinds = frozenset(kind.__name__ for kind in type(exc).__mro__)
        outcome.message = str(exc)
    finally:
        outcome.received = bytes(received)


@contextlib.asynccontextmanager
async def no_leaks(outcome: Outcome) -> AsyncIterator[None]:
    """Check that the block leaves no task and no file descriptor behind."""
    tasks_before = asyncio.all_tasks()
    fds_before = fd_count()
    yield
    deadline = time.monotonic() + SETTLE
    while True:
        extra_tasks = asyncio.all_tasks() - tasks_before
        extra_fds = fd_count() - fds_before
        if not extra_tasks and extra_fds <= 0:
            return
        if time.monotonic() > deadline:
            names = sorted(task.get_name() + ":" + repr(task.get_coro()) for task in extra_tasks)
            raise AssertionError(
                f"{outcome.fault}/{outcome.phase}/mode {outcome.recvmode}: leaked "
                f"{len(extra_tasks)} task(s) {names} and {extra_fds} descriptor(s)"
            )
        await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def fresh_modem(
    fs_root: Path, outcome: Outcome, config: dict[str, Any] | None = None, **options: Any
) -> AsyncIterator[tuple[Emulator, n58aio.Modem]]:
    """A new emulator and an attached modem on it, with the leak check around both."""
    async with no_leaks(outcome):
        settings: dict[str, Any] = {"fs_root": fs_root, "resolve": {"origin.test": "127.0.0.1"}}
        emu = Emulator(EmulatorConfig(**(settings | (config or {}))))
        await emu.start()
        try:
            async with n58aio.open_modem(emu.device, timeout_slack=SLACK, **options) as modem:
                await modem.attach()
                yield emu, modem
        finally:
            await emu.close()


async def run_cell(
    fault: str,
    phase: str,
    recvmode: int,
    origin: OriginServer,
    fs_root: Path,
    *,
    check_body_bytes: bool = True,
) -> Outcome:
    """Run one cell of the matrix; raises AssertionError when a general promise is broken.

    ``check_body_bytes`` False skips the check of the response bytes (the cells where receive
    mode 0 cannot tell noise from data); everything else is still checked.
    """
    outcome = Outcome(fault, phase, recvmode)
    async with fresh_modem(
        fs_root,
        outcome,
        config={"data_timeout": DATA_TIMEOUT},
        recvmode=1 if recvmode else 0,
        timeouts=TIMEOUTS,
    ) as (emu, modem):
        modem.channel.module_data_timeout = DATA_TIMEOUT
        arming = Arming(emu, fault, phase, recvmode)
        upload_command = HTTP.action(2, length=len(UPLOAD), post_type=1)
        arming.arm(upload_command)
        started = time.monotonic()
        try:
            async with asyncio.timeout(BOUND):
                await run_request(modem, origin, phase, outcome)
        except TimeoutError:
            raise AssertionError(
                f"{fault}/{phase}/mode {recvmode}: the request hung past {BOUND} s"
            ) from None
        outcome.seconds = time.monotonic() - started
        await settled(modem)  # a close or probe may still be going out in the background
        outcome.fired = arming.fired
        check_bytes(outcome, body=check_body_bytes)
        check_uploads(origin, outcome)
        await next_request(modem, origin, outcome)
    return outcome


async def settled(modem: n58aio.Modem) -> None:
    """Wait (bounded) until the channel has proven itself in step, or the port is gone."""
    deadline = time.monotonic() + BOUND
    channel = modem.channel
    while channel.needs_resync and not modem.closed and time.monotonic() < deadline:  # noqa: ASYNC110
        await asyncio.sleep(0.05)


def check_bytes(outcome: Outcome, *, body: bool = True) -> None:
    """Never a wrong byte: a complete body is exact, a failed one is a correct prefix."""
    where = f"{outcome.fault}/{outcome.phase}/mode {outcome.recvmode}"
    if body and outcome.result == "ok" and "left early" not in outcome.notes:
        assert outcome.received == outcome.expected, f"{where}: wrong body"
    elif body:
        assert outcome.expected.startswith(outcome.received), f"{where}: wrong prefix"
    if outcome.uploaded is not None:
        assert outcome.uploaded == UPLOAD, f"{where}: the origin got a wrong upload"


def check_uploads(origin: OriginServer, outcome: Outcome) -> None:
    """Whatever reached the server is a request the caller made, with the caller's body."""
    where = f"{outcome.fault}/{outcome.phase}/mode {outcome.recvmode}"
    for request in origin.requests:
        if request.method == "POST":
            assert request.body == UPLOAD, f"{where}: the server got a wrong POST body"
        else:
            assert request.method == "GET" and request.body == b"", f"{where}: {request}"


async def next_request(modem: n58aio.Modem, origin: OriginServer, outcome: Outcome) -> None:
    """The next request on the same modem works, or the modem says it is gone."""
    where = f"{outcome.fault}/{outcome.phase}/mode {outcome.recvmode}"
    async with asyncio.timeout(BOUND):
        if outcome.fault == "port_gone" and outcome.fired:
            try:
                await modem.get(origin.url("/bytes/1000"), timeouts=TIMEOUTS)
            except n58aio.PortClosedError:
                outcome.after = "PortClosedError"
                assert modem.closed, f"{where}: PortClosedError but the modem is not closed"
                return
            raise AssertionError(f"{where}: a request on a vanished port did not fail")
        if outcome.fault in ("reset", "silent_reset") and outcome.fired:
            await modem.attach()  # a restarted module has its data link down
        response = await modem.get(origin.url("/bytes/1000"), timeouts=TIMEOUTS)
        assert response.content == pattern_bytes(0, 1000), f"{where}: next request wrong"
        outcome.after = "ok"
