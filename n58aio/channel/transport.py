"""pyserial-asyncio's transport with a read path tuned for bulk payload.

:class:`SerialPortTransport` keeps everything of ``serial_asyncio.SerialTransport`` (buffered
writes, flow control, closing) but reads the port's file descriptor directly, which skips
pyserial's per-read ``select`` and timeout bookkeeping, and writes at once when nothing is
buffered (as asyncio's own transports do) instead of one loop turn later.

A tty hands out at most about 4 KiB per read (the line discipline's buffer), so while a
response streams the reader takes several reads in one wake-up: once a read comes back large (a
stream is flowing), it reads on until the port is empty or the batch reaches :data:`READ_SIZE`,
then hands the whole batch to the protocol at once. A short first read (a command's reply) is
delivered at once, so round trips gain no extra system call.
"""

from __future__ import annotations

import errno
import os
from typing import Any

import serial
import serial_asyncio

__all__ = ["BATCH_CONTINUE", "READ_SIZE", "SerialPortTransport"]

READ_SIZE = 65536
"""Most bytes handed to the protocol per wake-up (and asked of the port per read)."""

BATCH_CONTINUE = 2048
"""A first read at least this large means a stream is flowing: read on until the port is empty
(a short read in the middle of a stream is often followed by more; stopping there gave more and
smaller deliveries, each a parser pass and a consumer wake-up: docs/benchmarks.md, sixth round)."""

_RETRY = (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR)


class SerialPortTransport(serial_asyncio.SerialTransport):  # type: ignore[misc]
    """A ``SerialTransport`` for ports with a file descriptor, with batched direct reads."""

    def __init__(self, loop: Any, protocol: Any, serial_instance: Any) -> None:
        self._reading_paused = False
        super().__init__(loop, protocol, serial_instance)
        self._fd: int = serial_instance.fileno()

    def pause_reading(self) -> None:
        """Stop delivering data until :meth:`resume_reading` (also right after opening)."""
        self._reading_paused = True
        super().pause_reading()

    def resume_reading(self) -> None:
        """Deliver data again."""
        self._reading_paused = False
        super().resume_reading()

    def is_reading(self) -> bool:
        """True unless reading is paused or the transport is closing."""
        return not self._reading_paused and not self._closing

    def write(self, data: bytes) -> None:
        """Write ``data`` now if nothing waits before it, and buffer what the port does not take
        (pyserial-asyncio always buffers and writes one loop turn later)."""
        if self._closing or not data:
            return
        if not self._write_buffer:
            try:
                written = os.write(self._fd, data)
            except (BlockingIOError, InterruptedError):
                written = 0
            except OSError as exc:
                error = serial.SerialException(f"write failed: {exc}")
                self._fatal_error(error, "Fatal write error on serial transport")
                return
            if written == len(data):
                return
            data = data[written:]
        super().write(data)

    def _ensure_reader(self) -> None:
        # The base class starts reading one loop turn after it is made, even when reading
        # was paused in between: honour the pause.
        if not self._reading_paused:
            super()._ensure_reader()

    def _read_ready(self) -> None:
        fd = self._fd
        try:
            data = os.read(fd, READ_SIZE)
        except OSError as exc:
            if exc.errno not in _RETRY:
                self._close(exc=serial.SerialException(f"read failed: {exc}"))
            return
        if not data:
            # What a vanished device (or a closed socket) looks like: ready, but no data.
            self._close(exc=serial.SerialException("the port reports data but gives none"))
            return
        if len(data) >= BATCH_CONTINUE:
            parts = [data]
            total = len(data)
            while total < READ_SIZE:
                try:
                    more = os.read(fd, READ_SIZE - total)
                except OSError:
                    break  # the port is empty (or an error the next wake-up reports)
                if not more:
                    break
                parts.append(more)
                total += len(more)
            if len(parts) > 1:
                data = b"".join(parts)
        self._protocol.data_received(data)
