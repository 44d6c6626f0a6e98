"""Serial fronts of the emulator: a pseudo-terminal or a TCP port (pyserial ``socket://``)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from collections.abc import Callable
from typing import Protocol

import structlog

from .linerate import termios_rate

__all__ = ["Front", "PtyFront", "TcpFront"]


class Front(Protocol):
    """Where the module's serial bytes go and come from."""

    @property
    def url(self) -> str:
        """What a client opens: a device path or a ``socket://`` URL."""
        ...

    async def write(self, data: bytes) -> None:
        """Write all of ``data`` (waiting while the other side does not read)."""
        ...

    async def close(self) -> None:
        """Release the port."""
        ...


class PtyFront:
    """A pseudo-terminal: the module owns the master; clients open the slave path.

    A slave descriptor stays open in the emulator so that the path survives clients closing and
    reopening it. Output written while no client is open stays in the terminal buffer.
    """

    def __init__(
        self, on_data: Callable[[bytes], None], log: structlog.typing.FilteringBoundLogger
    ) -> None:
        self._on_data = on_data
        self._log = log
        self._loop = asyncio.get_running_loop()
        master, slave = os.openpty()
        try:
            tty.setraw(slave)
            os.set_blocking(master, False)
            self._path = os.ttyname(slave)
        except BaseException:
            os.close(master)
            os.close(slave)
            raise
        self._master: int | None = master
        self._slave: int | None = slave
        self._loop.add_reader(master, self._readable)

    @property
    def url(self) -> str:
        """The slave device path, e.g. ``/dev/pts/7``."""
        return self._path

    def host_rate(self) -> int | None:
        """The line rate the client set on its side (``tcsetattr``), None if unknown."""
        if self._master is None:
            return None
        try:
            speed = termios.tcgetattr(self._master)[5]
        except termios.error:
            return None
        return termios_rate(int(speed))

    @property
    def closed(self) -> bool:
        """True once the master is closed."""
        return self._master is None

    def _readable(self) -> None:
        if self._master is None:
            return
        try:
            data = os.read(self._master, 65536)
        except BlockingIOError:
            return
        except OSError as exc:
            self._log.debug("pty read failed", error=str(exc))
            return
        if data:
            self._on_data(data)

    async def write(self, data: bytes) -> None:
        """Write everything, waiting for the terminal buffer to drain when it is full."""
        view = memoryview(data)
        while view:
            if self._master is None:
                raise OSError("port closed")
            try:
                count = os.write(self._master, view)
            except BlockingIOError:
                await self._writable()
                continue
            view = view[count:]

    async def _writable(self) -> None:
        master = self._master
        if master is None:
            raise OSError("port closed")
        fut: asyncio.Future[None] = self._loop.create_future()

        def ready() -> None:
            if not fut.done():
                fut.set_result(None)

        self._loop.add_writer(master, ready)
        try:
            await fut
        finally:
            if self._master == master:
                self._loop.remove_writer(master)

    def close_now(self) -> None:
        """Close the master and the kept slave descriptor at once."""
        master, self._master = self._master, None
        slave, self._slave = self._slave, None
        if master is not None:
            self._loop.remove_reader(master)
            self._loop.remove_writer(master)
            os.close(master)
        if slave is not None:
            os.close(slave)

    async def close(self) -> None:
        """Close the terminal."""
        self.close_now()


class TcpFront:
    """A TCP listener; one client at a time (a new connection replaces the previous one).

    Output waits while no client is connected, so a client connecting later gets it.
    """

    def __init__(
        self,
        on_data: Callable[[bytes], None],
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self._on_data = on_data
        self._log = log
        self._server: asyncio.Server | None = None
        self._client: asyncio.StreamWriter | None = None
        self._client_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()
        self._host = ""
        self._port = 0
        self._closed = False

    async def start(self, host: str, port: int) -> None:
        """Listen on ``host:port`` (port 0 picks a free one)."""
        self._server = await asyncio.start_server(self._accept, host, port)
        sockname = self._server.sockets[0].getsockname()
        self._host, self._port = str(sockname[0]), int(sockname[1])

    @property
    def url(self) -> str:
        """``socket://host:port`` for pyserial."""
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"socket://{host}:{self._port}"

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._closed:
            writer.close()
            return
        previous = self._client
        if previous is not None:
            previous.close()
        self._client = writer
        self._connected.set()
        self._client_task = asyncio.current_task()
        self._log.debug("tcp client connected", peer=str(writer.get_extra_info("peername")))
        try:
            while True:
                data = await reader.read(65536)
                if not data:
                    break
                self._on_data(data)
        except OSError:
            pass
        finally:
            if self._client is writer:
                self._client = None
                self._connected.clear()
            writer.close()

    async def write(self, data: bytes) -> None:
        """Send to the connected client, waiting for one if necessary."""
        while True:
            if self._closed:
                raise OSError("port closed")
            client = self._client
            if client is None:
                await self._connected.wait()
                continue
            try:
                client.write(data)
                await client.drain()
            except (ConnectionError, RuntimeError) as exc:
                raise OSError(f"client gone: {exc}") from exc
            return

    def close_now(self) -> None:
        """Stop listening and drop the client at once."""
        self._closed = True
        self._connected.set()
        if self._server is not None:
            self._server.close()
        if self._client is not None:
            self._client.transport.abort()
            self._client = None

    async def close(self) -> None:
        """Stop listening and drop the client."""
        self.close_now()
        task = self._client_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            await self._server.wait_closed()
