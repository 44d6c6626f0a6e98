"""The serial line between the simulated module and the channel, in virtual time.

:class:`SimLine` runs the sans-IO :class:`~fuzz.sim.module.SimN58` (its timer, its input after
the line time of each write) and moves its output over the UART at the line rate into a finite
"OS buffer" (the host's tty buffer). :class:`SimTransport` is what the channel gets: it reads
from that buffer while reading is not paused. While reading is paused the buffer fills up, then
the UART stops (flow control) and the module's output backs up, and so does the server's data
behind it: the real pty situation.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any

from .module import SimN58

__all__ = ["SimLine", "SimTransport"]

SLICE = 256
"""Most bytes the UART moves in one step (the granularity of the line's timing)."""


class SimTransport(asyncio.Transport):
    """The channel's end of the line: write, pause/resume reading, close."""

    def __init__(self, line: SimLine) -> None:
        super().__init__()
        self._line = line
        self._closing = False
        self._paused = False
        self._protocol: asyncio.Protocol | None = None

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        assert isinstance(protocol, asyncio.Protocol)
        self._protocol = protocol

    def get_protocol(self) -> asyncio.BaseProtocol:
        assert self._protocol is not None
        return self._protocol

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not self._closing and data:
            self._line.host_write(bytes(data))

    def pause_reading(self) -> None:
        self._paused = True
        self._line.trace(f"host pauses reading ({len(self._line.rx)} B buffered)")

    def resume_reading(self) -> None:
        if self._paused:
            self._paused = False
            self._line.trace(f"host resumes reading ({len(self._line.rx)} B buffered)")
            self._line.kick()

    def is_reading(self) -> bool:
        return not self._paused and not self._closing

    def is_closing(self) -> bool:
        return self._closing

    def close(self) -> None:
        if self._closing:
            return
        self._closing = True
        protocol = self._protocol
        if protocol is not None:
            asyncio.get_running_loop().call_soon(protocol.connection_lost, None)

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class SimLine:
    """Module, UART, host buffer and transport, run on the (virtual) event loop."""

    def __init__(
        self,
        module: SimN58,
        *,
        baudrate: int = 115200,
        os_buffer: int = 4096,
        read_size: int = 4096,
        trace: deque[str] | None = None,
    ) -> None:
        self.module = module
        self.baudrate = baudrate
        self.os_buffer = os_buffer
        self.read_size = read_size
        self.rx = bytearray()
        """Bytes on the host's side, not yet read by the channel (the OS buffer)."""
        self.transport = SimTransport(self)
        self.written = bytearray()
        """Everything the host wrote."""
        self.delivered = 0
        self.max_rx = 0
        self._trace = trace if trace is not None else deque(maxlen=400)
        self._loop = asyncio.get_running_loop()
        self._uart: asyncio.TimerHandle | None = None  # bytes in transit to the host
        self._module_timer: asyncio.TimerHandle | None = None
        self._module_timer_at: float | None = None
        self._read_soon: asyncio.Handle | None = None
        self._inbound_free_at = 0.0  # when the host's last write has reached the module
        self._inbound: deque[asyncio.TimerHandle] = deque()
        self.stopped = False
        self.after_read: Callable[[], None] | None = None
        """Called after each delivery to the channel (the run checks its buffers there)."""

    def trace(self, text: str) -> None:
        """Note ``text`` in the run's trace."""
        self._trace.append(f"{self._loop.time():9.4f} {text}")

    def byte_time(self, size: int) -> float:
        """Seconds ``size`` bytes take on the line."""
        return size * 10 / self.baudrate

    # ------------------------------------------------------------------ host -> module
    def host_write(self, data: bytes) -> None:
        """The channel wrote ``data``: it reaches the module after its line time."""
        self.written += data
        self.trace(f"host > {_show(data)}")
        now = self._loop.time()
        arrive = max(now, self._inbound_free_at) + self.byte_time(len(data))
        self._inbound_free_at = arrive
        self._inbound.append(self._loop.call_at(arrive, self._arrive, data))

    def _arrive(self, data: bytes) -> None:
        self._inbound.popleft()  # writes arrive in order
        if self.stopped:
            return
        self.module.receive(data, self._loop.time())
        self.kick()

    # ------------------------------------------------------------------ module -> host
    def kick(self) -> None:
        """Let the module do what is due, move its output, wake the reader: after any event."""
        if self.stopped:
            return
        module = self.module
        module.poll(self._loop.time())
        if self._uart is None and module.tx:
            space = self.os_buffer - len(self.rx)
            if space > 0:
                size = min(len(module.tx), space, SLICE)
                data = module.take(size)
                self._uart = self._loop.call_later(self.byte_time(size), self._landed, data)
        deadline = module.next_deadline()
        if deadline != self._module_timer_at:
            if self._module_timer is not None:
                self._module_timer.cancel()
                self._module_timer = None
            self._module_timer_at = deadline
            if deadline is not None:
                self._module_timer = self._loop.call_at(deadline, self._module_due)
        if self.rx and self.transport.is_reading() and self._read_soon is None:
            self._read_soon = self._loop.call_soon(self._read)

    def _module_due(self) -> None:
        self._module_timer = None
        self._module_timer_at = None
        self.kick()

    def _landed(self, data: bytes) -> None:
        self._uart = None
        if self.stopped:
            return
        self.rx += data
        self.max_rx = max(self.max_rx, len(self.rx))
        self.kick()

    def _read(self) -> None:
        self._read_soon = None
        if self.stopped or not self.rx or not self.transport.is_reading():
            return
        data = bytes(self.rx[: self.read_size])
        del self.rx[: len(data)]
        self.delivered += len(data)
        self.trace(f"host < {_show(data)}")
        protocol = self.transport.get_protocol()
        assert isinstance(protocol, asyncio.Protocol)
        protocol.data_received(data)
        if self.after_read is not None:
            self.after_read()
        self.kick()

    def stop(self) -> None:
        """Stop every timer of the line (the end of a run)."""
        self.stopped = True
        for handle in (self._uart, self._module_timer, self._read_soon, *self._inbound):
            if handle is not None:
                handle.cancel()
        self._inbound.clear()


def _show(data: bytes) -> str:
    if len(data) > 64:
        return f"{len(data)} B {data[:20]!r}...{data[-20:]!r}"
    return repr(data)
