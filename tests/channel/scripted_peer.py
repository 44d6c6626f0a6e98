"""A scripted modem on the master side of a real pseudo-terminal.

The library opens the slave side with :func:`n58aio.open_modem` (pyserial-asyncio underneath);
the test drives the master side with :class:`ScriptedPeer`: it reads the command lines the host
writes and answers them byte by byte as the script says. The peer reads the master without
blocking (``loop.add_reader``) and writes with backpressure (``loop.add_writer`` when the pty
is full), so a host that stops reading stalls the peer's writes, as a real port would.

There is no conftest.py here (its module name would clash with other test directories'): the
test module imports this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tty
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import n58aio

__all__ = ["ScriptedPeer", "scripted_modem"]


class ScriptedPeer:
    """The modem's end of the pty: read the host's commands, send scripted answers.

    With ``echo`` on, :meth:`read_command` echoes each command line (``AT...<CR>``) as the N58
    does by default. With ``auto_sync`` (the default) it answers the channel's own
    resynchronisation as a module would, without the script seeing it: ``ATE1``/``ATE0`` switch
    the echo and answer ``OK``, ``AT+CMEE=0|1`` likewise, a probe ``AT+N58SYNC=<token>`` is
    echoed and answered as an unknown command (``+CME ERROR: 58`` with :attr:`cmee` 1, the
    N58's answer after the bring-up; ``ERROR`` with 0); :attr:`probes` counts the probes.
    """

    def __init__(self, master_fd: int, *, echo: bool = False, auto_sync: bool = True) -> None:
        self.fd = master_fd
        self.echo = echo
        self.auto_sync = auto_sync
        self.cmee = 1
        self.probes = 0
        self.mark = 0
        """An offset into :attr:`received`, for tests."""
        self.received = bytearray()
        """Every byte the host ever wrote."""
        self.bytes_sent = 0
        self._loop = asyncio.get_running_loop()
        self._buf = bytearray()
        self._changed = asyncio.Event()
        self._eof = False
        self._closed = False
        os.set_blocking(master_fd, False)
        self._loop.add_reader(master_fd, self._on_readable)

    # ------------------------------------------------------------------ reading
    def _on_readable(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    self._set_eof()
                    break
                self._buf += chunk
                self.received += chunk
        except BlockingIOError:
            pass
        except OSError:  # EIO: the slave side is closed
            self._set_eof()
        self._changed.set()

    def _set_eof(self) -> None:
        if not self._eof:
            self._eof = True
            self._loop.remove_reader(self.fd)

    async def _wait(self, ready: Callable[[], bool]) -> None:
        while not ready():
            if self._eof or self._closed:
                raise EOFError("the host side of the pty is closed")
            self._changed.clear()
            await self._changed.wait()

    @property
    def unread(self) -> bytes:
        """Bytes the host wrote that the script has not consumed yet."""
        return bytes(self._buf)

    async def read_command(self) -> str:
        """Return the next command line the host writes (without its CR); echo it if on."""
        while True:
            await self._wait(lambda: b"\r" in self._buf)
            end = self._buf.index(b"\r")
            line = bytes(self._buf[:end])
            del self._buf[: end + 1]
            if self.echo:
                await self.send(line + b"\r")
            text = line.decode("ascii")
            if not self.auto_sync:
                return text
            if text in ("ATE1", "ATE0"):
                self.echo = text == "ATE1"
                await self.send(b"\r\nOK\r\n")
            elif text in ("AT+CMEE=0", "AT+CMEE=1"):
                self.cmee = int(text[-1])
                await self.send(b"\r\nOK\r\n")
            elif text.startswith("AT+N58SYNC="):
                self.probes += 1
                await self.send(b"\r\n+CME ERROR: 58\r\n" if self.cmee else b"\r\nERROR\r\n")
            else:
                return text

    async def read_probe(self) -> tuple[str, int]:
        """Read up to the channel's next probe (with :attr:`auto_sync` off): return it and how
        many ``ATE1`` went before it. The channel writes one (echo on) when lines are still
        owed answers; each is owed an ``OK``, to be sent in order (a module answers in order)."""
        blind = 0
        while True:
            line = await self.read_command()
            if line == "ATE1":
                self.echo = True
                blind += 1
                continue
            assert line.startswith("AT+N58SYNC="), f"the peer expected a probe, got {line!r}"
            return line, blind

    async def expect(self, command: str) -> None:
        """Read the next command line and check that it is ``command``."""
        line = await self.read_command()
        assert line == command, f"the peer expected {command!r} but the host wrote {line!r}"

    async def read_exactly(self, size: int) -> bytes:
        """Return the next ``size`` raw bytes the host writes (the data after a prompt)."""
        await self._wait(lambda: len(self._buf) >= size)
        data = bytes(self._buf[:size])
        del self._buf[:size]
        return data

    # ------------------------------------------------------------------ writing
    async def send(self, data: bytes, *, piece: int | None = None) -> None:
        """Write ``data`` to the host; ``piece`` writes it that many bytes at a time, letting
        the host read in between (to split it across reads)."""
        view = memoryview(data)
        step = piece or len(view) or 1
        for start in range(0, len(view), step):
            await self._write_all(view[start : start + step])
            if piece:
                await asyncio.sleep(0)

    async def _write_all(self, view: memoryview) -> None:
        while view:
            if self._closed:
                raise EOFError("the peer is closed")
            try:
                written = os.write(self.fd, view)
            except BlockingIOError:
                await self._writable()
                continue
            self.bytes_sent += written
            view = view[written:]

    async def _writable(self) -> None:
        ready: asyncio.Future[None] = self._loop.create_future()

        def wake() -> None:
            if not ready.done():
                ready.set_result(None)

        self._loop.add_writer(self.fd, wake)
        try:
            await ready
        finally:
            self._loop.remove_writer(self.fd)

    async def reply(self, *lines: str, final: str = "OK") -> None:
        """Send information lines and a final result, each framed ``<CR><LF>...<CR><LF>``."""
        await self.send(b"".join(b"\r\n" + line.encode() + b"\r\n" for line in (*lines, final)))

    async def answer(self, command: str, *lines: str, final: str = "OK") -> None:
        """Expect ``command`` and reply with ``lines`` and ``final``."""
        await self.expect(command)
        await self.reply(*lines, final=final)

    # ------------------------------------------------------------------ teardown
    def close(self) -> None:
        """Close the master side: to the host, the port vanishes."""
        if self._closed:
            return
        self._closed = True
        if not self._eof:
            self._eof = True
            self._loop.remove_reader(self.fd)
        os.close(self.fd)
        self._changed.set()


@asynccontextmanager
async def scripted_modem(
    *, echo: bool = False, auto_sync: bool = True, **modem_options: Any
) -> AsyncIterator[tuple[ScriptedPeer, n58aio.Modem]]:
    """Open a pty, a :class:`ScriptedPeer` on its master and a modem on its slave."""
    master, slave = os.openpty()
    tty.setraw(slave)
    peer = ScriptedPeer(master, echo=echo, auto_sync=auto_sync)
    try:
        async with n58aio.open_modem(os.ttyname(slave), **modem_options) as modem:
            transport = modem.channel._transport
            yield peer, modem
        # pyserial-asyncio closes the port in a callback: let it run while the master is open
        for _ in range(200):
            if getattr(transport, "serial", None) is None:
                break
            await asyncio.sleep(0.01)
    finally:
        peer.close()
        with contextlib.suppress(OSError):
            os.close(slave)
