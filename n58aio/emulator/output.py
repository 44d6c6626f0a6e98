"""The module's single output path: an ordered blob queue, pacing and output faults.

Everything the module writes goes through one :class:`OutputChannel`. A blob (a reply, a URC, a
framed data report) is written whole before the next one starts; only immediate injections may
land between the slices of a blob. With a baud rate the bytes are released by a token bucket at
``baud / 10`` bytes per second, in slices of about 10 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import structlog

__all__ = ["ByteDamage", "OutputChannel", "OutputFaults", "Pacer"]

ByteDamage = Literal["replace", "drop", "insert"]
"""What :meth:`~n58aio.emulator.faults.Faults.damage_byte` does to one output byte."""


class Pacer:
    """Token bucket releasing ``baud / 10`` bytes per second (no limit when baud is None)."""

    def __init__(self, baud: int | None) -> None:
        self.rate: float | None = None
        self.slice: int | None = None
        self._next = 0.0
        self.set_baud(baud)

    def set_baud(self, baud: int | None) -> None:
        """Release ``baud / 10`` bytes per second from now on (None: no limit)."""
        self.rate = baud / 10 if baud else None
        self.slice = max(1, int(self.rate / 100)) if self.rate else None

    async def acquire(self, count: int) -> None:
        """Wait until ``count`` more bytes may go out."""
        if self.rate is None or count <= 0:
            return
        now = time.monotonic()
        if self._next < now:
            self._next = now
        delay = self._next - now
        self._next += count / self.rate
        if delay > 0:
            await asyncio.sleep(delay)


@dataclass
class OutputFaults:
    """Pending output faults: bytes to drop, bytes to garble, a stall deadline, and one byte
    to replace, drop or insert after ``single_skip`` more bytes."""

    drop_left: int = 0
    garble_left: int = 0
    stall_until: float = 0.0
    single: tuple[int, ByteDamage, int] | None = None

    def apply(self, data: bytes) -> bytes:
        """Drop then garble (XOR 0xFF) bytes from the front of ``data`` as still pending."""
        if self.drop_left:
            cut = min(self.drop_left, len(data))
            self.drop_left -= cut
            data = data[cut:]
        if self.garble_left and data:
            count = min(self.garble_left, len(data))
            self.garble_left -= count
            data = bytes(b ^ 0xFF for b in data[:count]) + data[count:]
        if self.single is not None and data:
            skip, kind, value = self.single
            if skip >= len(data):
                self.single = (skip - len(data), kind, value)
                return data
            self.single = None
            keep = data[skip + 1 :] if kind != "insert" else data[skip:]
            data = data[:skip] + (bytes([value]) if kind != "drop" else b"") + keep
        return data


class OutputChannel:
    """Ordered, paced, fault-aware writer towards the serial front."""

    def __init__(
        self,
        write: Callable[[bytes], Awaitable[None]],
        pacer: Pacer,
        faults: OutputFaults,
        log: structlog.typing.FilteringBoundLogger,
    ) -> None:
        self._write = write
        self._pacer = pacer
        self.pacer = pacer
        self._faults = faults
        self._log = log
        self._queue: deque[bytes | Callable[[], object]] = deque()
        self._urgent: deque[bytes] = deque()
        self._pending = 0
        self._gen = 0
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task: asyncio.Task[None] | None = None
        self.written = 0

    @property
    def pending(self) -> int:
        """Bytes queued and not written yet."""
        return self._pending

    def start(self) -> None:
        """Start the writer task."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="n58-output")

    async def close(self) -> None:
        """Stop the writer task; unwritten output is dropped."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    def stop(self) -> None:
        """Cancel the writer task now (a channel that is discarded, e.g. a closed DLC's)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()

    def put(self, blob: bytes) -> None:
        """Queue a blob; it is written whole, after everything queued before."""
        if not blob:
            return
        self._queue.append(blob)
        self._pending += len(blob)
        self._idle.clear()
        self._wake.set()

    def put_call(self, call: Callable[[], object]) -> None:
        """Queue ``call``: it runs in the writer once everything queued before is written."""
        self._queue.append(call)
        self._idle.clear()
        self._wake.set()

    def put_urgent(self, blob: bytes) -> None:
        """Write ``blob`` as soon as possible, even between two slices of a blob."""
        if not blob:
            return
        self._urgent.append(blob)
        self._idle.clear()
        self._wake.set()

    def clear(self) -> None:
        """Drop everything queued; a blob being written is abandoned after its current slice."""
        self._queue.clear()
        self._urgent.clear()
        self._pending = 0
        self._gen += 1
        self._space.set()

    async def wait_space(self, limit: int) -> None:
        """Wait until fewer than ``limit`` bytes are pending."""
        while self._pending >= limit:
            self._space.clear()
            await self._space.wait()

    async def drain(self) -> None:
        """Wait until everything queued so far has been written."""
        while not self._idle.is_set() or self._queue or self._urgent:
            await self._idle.wait()
            await asyncio.sleep(0)

    async def _run(self) -> None:
        while True:
            if not self._queue and not self._urgent:
                self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            self._idle.clear()
            if self._urgent:
                await self._emit(self._urgent.popleft())
                continue
            blob = self._queue.popleft()
            if callable(blob):
                blob()  # a fault hook queued with put_call
                continue
            gen = self._gen
            step = self._pacer.slice or len(blob)
            pos = 0
            while pos < len(blob):
                while self._urgent:
                    await self._emit(self._urgent.popleft())
                part = blob[pos : pos + step]
                await self._emit(part)
                if gen != self._gen:
                    break
                pos += len(part)
                self._pending -= len(part)
                self._space.set()

    async def _emit(self, data: bytes) -> None:
        # A stall deadline may be pushed back while sleeping: re-check it after each sleep.
        while (delay := self._faults.stall_until - time.monotonic()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(delay)
        data = self._faults.apply(data)
        if not data:
            return
        await self._pacer.acquire(len(data))
        try:
            await self._write(data)
        except OSError as exc:
            self._log.warning("output dropped", error=str(exc), size=len(data))
            return
        self.written += len(data)
