"""An asyncio transport for pyserial ports without a file descriptor (``rfc2217://``).

pyserial-asyncio needs ``fileno()`` to watch the port; pyserial's RFC 2217 client has none, so
this transport reads in a daemon thread and hands the bytes to the event loop. Writes go out
from a second thread in order. Pausing reading stops the reader thread from reading.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Any, TypeVar

import serial

__all__ = ["ThreadedSerialTransport", "connection_for_threaded_serial"]

P = TypeVar("P", bound=asyncio.Protocol)
_STOP = object()
_READ_TIMEOUT = 0.05


class ThreadedSerialTransport(asyncio.Transport):
    """Transport over a blocking pyserial port, using a reader and a writer thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop, protocol: asyncio.Protocol, port: Any):
        super().__init__()
        self._loop = loop
        self._protocol = protocol
        self._port = port
        self._closing = False
        self._lost = False
        self._reading = threading.Event()
        self._reading.set()
        self._writes: queue.Queue[object] = queue.Queue()
        if port.timeout != _READ_TIMEOUT:
            port.timeout = _READ_TIMEOUT
        self._reader = threading.Thread(target=self._read_loop, daemon=True, name="n58-read")
        self._writer = threading.Thread(target=self._write_loop, daemon=True, name="n58-write")

    def start(self) -> None:
        """Start the threads and tell the protocol it is connected."""
        self._protocol.connection_made(self)
        self._reader.start()
        self._writer.start()

    def _read_loop(self) -> None:
        try:
            while not self._closing:
                if not self._reading.wait(0.1):
                    continue
                data = self._port.read(max(1, min(self._port.in_waiting, 65536)))
                if data:
                    self._loop.call_soon_threadsafe(self._deliver, data)
        except (serial.SerialException, OSError) as exc:
            if not self._closing:
                self._loop.call_soon_threadsafe(self._connection_lost, exc)

    def _deliver(self, data: bytes) -> None:
        if not self._lost:
            self._protocol.data_received(data)

    def _write_loop(self) -> None:
        while True:
            item = self._writes.get()
            if item is _STOP:
                return
            assert isinstance(item, bytes)
            try:
                self._port.write(item)
            except (serial.SerialException, OSError) as exc:
                self._loop.call_soon_threadsafe(self._connection_lost, exc)
                return

    def _connection_lost(self, exc: Exception | None) -> None:
        if self._lost:
            return
        self._lost = True
        self._closing = True
        self._writes.put(_STOP)
        try:
            self._protocol.connection_lost(exc)
        finally:
            # pyserial's RFC 2217 close() joins its thread and sleeps 0.3 s: not on the loop.
            self._loop.run_in_executor(None, self._close_port)

    def _close_port(self) -> None:
        with contextlib.suppress(Exception):
            self._port.close()

    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Queue bytes for the writer thread."""
        if not self._closing:
            self._writes.put(bytes(data))

    def is_closing(self) -> bool:
        """True once closing started."""
        return self._closing

    def close(self) -> None:
        """Stop both threads and close the port."""
        if not self._closing:
            self._closing = True
            self._loop.call_soon(self._connection_lost, None)

    def abort(self) -> None:
        """Same as :meth:`close`."""
        self.close()

    def pause_reading(self) -> None:
        """Stop reading until :meth:`resume_reading`."""
        self._reading.clear()

    def resume_reading(self) -> None:
        """Read again."""
        self._reading.set()

    def is_reading(self) -> bool:
        """True unless paused."""
        return self._reading.is_set()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``serial`` gives the pyserial port."""
        return self._port if name == "serial" else default


async def connection_for_threaded_serial(
    loop: asyncio.AbstractEventLoop, protocol_factory: Callable[[], P], port: Any
) -> tuple[asyncio.Transport, P]:
    """Wrap an open pyserial port that has no file descriptor."""
    # Setting the timeout of an RFC 2217 port waits for the server: not on the loop.
    await loop.run_in_executor(None, setattr, port, "timeout", _READ_TIMEOUT)
    protocol = protocol_factory()
    transport = ThreadedSerialTransport(loop, protocol, port)
    transport.start()
    return transport, protocol
