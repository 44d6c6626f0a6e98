"""Issue #22, items 1 to 3, through a real pty: a module model that behaves as the N58 does.

:class:`BusyModule` plays the modem on the pty's master side as ``fuzz/sim/module.py`` does in
the simulation: it echoes each byte as it comes, even while busy (the UART echoes; commands
queue behind the one being worked on), answers one command at a time in order, and writes
everything (echoes, answers, payload chunks) through one FIFO, so that what it writes while
the host does not read waits in the pty, in order. Each test takes 1 to 3 s (short timeouts).

The channel before its sans-IO core (#22) failed all three. The core passes the three: item 3
(two probes echoed before the first answer) since a probe's answer is told by counting the
answers owed (``n58aio/channel/answers.py``). The same situations run in virtual time in
``tests/sim``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from scripted_peer import ScriptedPeer, scripted_modem

import n58aio
from n58aio import CommandTimeout, N58Error
from n58aio.channel import ByteDecoder

CHUNK = 1024
SLACK = 0.5  # wall-clock seconds a call may overrun its timeout here (a loaded CI machine)


class BusyModule:
    """The module on a :class:`ScriptedPeer` (see the module docstring)."""

    def __init__(self, peer: ScriptedPeer, body: bytes = b"") -> None:
        self.peer = peer
        self.body = body
        self.busy: dict[str, float] = {}
        """Seconds the module works on a command line before it answers (once)."""
        self.work = 0.05
        """Seconds it works on any command."""
        self.cmee = 0
        self.csq = 0
        self._out: asyncio.Queue[bytes] = asyncio.Queue(maxsize=4)
        self._commands: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._relay: asyncio.Task[None] | None = None

    async def __aenter__(self) -> BusyModule:
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(self._write()),
            loop.create_task(self._read()),
            loop.create_task(self._work()),
        ]
        return self

    async def __aexit__(self, *exc: object) -> None:
        for task in [*self._tasks, self._relay]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, EOFError, OSError):
                    await task

    async def _write(self) -> None:  # the UART: one FIFO
        while True:
            await self.peer.send(await self._out.get())

    async def _read(self) -> None:  # the echo comes at once, busy or not
        while True:
            line = await self.peer.read_command()
            await self._out.put(line.encode() + b"\r")
            self._commands.put_nowait(line)

    async def _work(self) -> None:  # one command at a time, in order
        while True:
            line = await self._commands.get()
            await asyncio.sleep(self.busy.pop(line, self.work))
            await self._out.put(self._answer(line))

    def _answer(self, line: str) -> bytes:
        error = b"\r\n+CME ERROR: 58\r\n" if self.cmee == 1 else b"\r\nERROR\r\n"
        if line.startswith("AT+CMEE="):
            self.cmee = int(line[8:])
        elif line == "AT+CSQ":
            self.csq += 1
            return b"\r\n+CSQ: %d,99\r\n\r\nOK\r\n" % (self.csq % 32)
        elif line == "AT+HTTPACTION=0":
            self._relay = asyncio.get_running_loop().create_task(self._relay_body())
        elif line.startswith("AT+N58SYNC=") or line == "AT+NOSUCH":
            return error
        return b"\r\nOK\r\n"

    async def _relay_body(self) -> None:
        for start in range(0, len(self.body), CHUNK):
            chunk = self.body[start : start + CHUNK]
            await self._out.put(b"\r\n+HTTPRECV: %d,%s\r\n" % (len(chunk), chunk))
        await self._out.put(b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n")


@asynccontextmanager
async def busy_module(body: bytes = b"") -> AsyncIterator[tuple[BusyModule, n58aio.Modem]]:
    """A modem on a pty with a :class:`BusyModule`, in step, probes every 0.3 s."""
    async with (
        scripted_modem(echo=False, auto_sync=False) as (peer, modem),
        BusyModule(peer, body) as module,
    ):
        modem.channel.resync_grace = 0.3
        await modem.command("AT")
        yield module, modem


async def test_a_stalled_download_while_commands_poll_gets_the_servers_bytes_or_an_error() -> None:
    """A receive-mode-1 download whose consumer stalls 1.5 s while another task polls
    ``AT+CSQ`` with 0.3 s timeouts: every byte handed out is the server's; the stream ends
    complete or raises, never later bytes in place of lost ones."""
    body = random.Random(22).randbytes(400_000)
    async with asyncio.timeout(20), busy_module(body) as (_module, modem):
        stream = modem.channel.open_stream("HTTP", ByteDecoder(), max_buffer=8192)
        await modem.command("AT+HTTPACTION=0")
        polling = True

        async def poll() -> None:
            while polling:
                with contextlib.suppress(N58Error):
                    await modem.command("AT+CSQ", timeout=0.3)
                await asyncio.sleep(0.1)

        poller = asyncio.create_task(poll())
        got = bytearray()
        error: N58Error | None = None
        stalled = False
        try:
            while True:
                if len(got) >= 20_000 and not stalled:
                    stalled = True
                    await asyncio.sleep(1.5)
                try:
                    item = await stream.receive(timeout=5.0)
                except anyio.EndOfStream:
                    break
                except N58Error as exc:
                    error = exc
                    break
                assert item == body[len(got) : len(got) + len(item)], (
                    f"wrong bytes from offset {len(got)}"
                )
                got += item
        finally:
            polling = False
            await poller
        assert error is not None or bytes(got) == body


async def test_a_command_behind_a_busy_module_ends_within_its_own_timeout() -> None:
    """The module works 2.5 s on ``AT+HTTPSETUP``, whose caller gave up after 0.3 s: the next
    ``command(timeout=0.5)`` ends within its 0.5 s (an answer or CommandTimeout)."""
    async with asyncio.timeout(20), busy_module() as (module, modem):
        module.busy["AT+HTTPSETUP"] = 2.5
        with pytest.raises(CommandTimeout):
            await modem.command("AT+HTTPSETUP", timeout=0.3)
        started = time.monotonic()
        with contextlib.suppress(N58Error):  # whose answer it gets is item 3's test
            await modem.command("AT+CSQ", timeout=0.5)
        assert time.monotonic() - started < 0.5 + SLACK


async def test_a_late_ok_does_not_end_the_probe() -> None:
    """``AT`` keeps the module busy 2 s and its caller gives up after 0.3 s; the probes are
    echoed at once, and ``AT``'s late OK follows a probe's echo. The probe must not end on
    it: the next command gets its own answer, not the probe's ``+CME ERROR: 58``."""
    async with asyncio.timeout(20), busy_module() as (module, modem):
        await modem.command("AT+CMEE=1")
        # probes 1 s apart: the late OK (at 2 s) comes amid the wait of the second, not in
        # the pause after the ATE1 that goes before it
        modem.channel.resync_grace = 1.0
        module.busy["AT"] = 2.0
        with pytest.raises(CommandTimeout):
            await modem.command("AT", timeout=0.3)
        reply = await modem.command("AT+CSQ", timeout=3.0)
        assert reply.lines == [f"+CSQ: {module.csq % 32},99"]
