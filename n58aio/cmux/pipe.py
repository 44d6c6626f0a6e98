"""A DLC as an asyncio transport: the byte pipe an ordinary protocol (a
:class:`~n58aio.channel.ModemChannel`) runs on, over the :class:`~.mux.Multiplexer`.

The pipe gives exactly what the channel uses of a transport: ``write``, ``pause_reading`` /
``resume_reading`` (MSC with the FC bit for this DLC only: the port is never paused),
``is_closing``, ``close`` and ``get_extra_info`` (the serial port's extras). Bytes that arrive
while paused (those under way when the MSC went out) are held, at most :data:`MAX_HELD`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Any, Protocol

__all__ = ["MAX_HELD", "DlcPipe", "PipeOwner"]

MAX_HELD = 1 << 20
"""Bytes a paused DLC holds (what was under way when its MSC went out); beyond, dropped."""


class PipeOwner(Protocol):
    """What a pipe needs from its multiplexer."""

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """The serial transport's extra information."""
        ...

    def _send_data(self, dlci: int, data: bytes) -> None: ...

    def _send_msc(self, dlci: int, *, fc: bool) -> None: ...

    def _close_dlc(self, pipe: DlcPipe) -> None: ...


class DlcPipe(asyncio.Transport):
    """One DLC as a transport for an :class:`asyncio.Protocol`."""

    def __init__(
        self,
        mux: PipeOwner,
        dlci: int,
        protocol: asyncio.Protocol,
        on_gap: Callable[[str], object] | None,
    ) -> None:
        super().__init__()
        self.dlci = dlci
        self._mux = mux
        self._protocol = protocol
        self._on_gap = on_gap
        self._connected = False
        self._reading = True
        self._closing = False
        self._held: deque[bytes] = deque()
        self.held_bytes = 0
        self.dropped_bytes = 0
        self.tx_paused = False  # the module's MSC asked us to stop sending
        self._tx_held: deque[bytes] = deque()

    # ------------------------------------------------------------------ transport API
    def write(self, data: bytes | bytearray | memoryview) -> None:
        """Send ``data`` on this DLC (as UIH frames of at most N1 bytes)."""
        if self._closing or not data:
            return
        if self.tx_paused:
            self._tx_held.append(bytes(data))
            return
        self._mux._send_data(self.dlci, bytes(data))

    def pause_reading(self) -> None:
        """Stop delivering: MSC with FC set for this DLC (the port keeps reading)."""
        if self._reading:
            self._reading = False
            self._mux._send_msc(self.dlci, fc=True)

    def resume_reading(self) -> None:
        """Deliver again: MSC with FC clear; held bytes follow on the next loop turn."""
        if not self._reading:
            self._reading = True
            self._mux._send_msc(self.dlci, fc=False)
            asyncio.get_running_loop().call_soon(self._flush)

    def is_reading(self) -> bool:
        """False while paused."""
        return self._reading

    def is_closing(self) -> bool:
        """True once closed (or the multiplexer is gone)."""
        return self._closing

    def close(self) -> None:
        """Close the DLC (DISC); the protocol is told on the next loop turn."""
        if self._closing:
            return
        self._closing = True
        self._mux._close_dlc(self)
        asyncio.get_running_loop().call_soon(self._protocol.connection_lost, None)

    def abort(self) -> None:
        """Same as :meth:`close` (nothing is buffered on the host side)."""
        self.close()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        """``"dlci"``, or the serial transport's extras (``"serial"``: the port itself)."""
        if name == "dlci":
            return self.dlci
        return self._mux.get_extra_info(name, default)

    def get_protocol(self) -> asyncio.BaseProtocol:
        """The protocol on this DLC."""
        return self._protocol

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """Replace the protocol."""
        assert isinstance(protocol, asyncio.Protocol)
        self._protocol = protocol

    def can_write_eof(self) -> bool:
        """No half-close on a DLC."""
        return False

    def get_write_buffer_size(self) -> int:
        """Writes go straight to the serial transport."""
        return 0

    # ------------------------------------------------------------------ multiplexer side
    def _connect(self) -> None:
        self._connected = True
        self._protocol.connection_made(self)
        self._flush()

    def _deliver(self, data: bytes) -> None:
        if self._closing:
            return
        if self._reading and self._connected and not self._held:
            self._protocol.data_received(data)
        elif self.held_bytes + len(data) > MAX_HELD:
            # a module that ignores MSC: drop rather than grow, and say bytes were lost
            self.dropped_bytes += len(data)
            self._gap("DLC input dropped while paused (the module kept sending)")
        else:
            self._held.append(data)
            self.held_bytes += len(data)

    def _flush(self) -> None:
        while self._held and self._reading and self._connected and not self._closing:
            data = self._held.popleft()
            self.held_bytes -= len(data)
            self._protocol.data_received(data)

    def _set_tx_paused(self, paused: bool) -> None:
        self.tx_paused = paused
        while not self.tx_paused and self._tx_held and not self._closing:
            self._mux._send_data(self.dlci, self._tx_held.popleft())

    def _gap(self, reason: str) -> None:
        if self._on_gap is not None and not self._closing:
            self._on_gap(reason)

    def _lost(self, exc: Exception | None) -> None:
        if self._closing:
            return
        self._closing = True
        if self._connected:
            self._protocol.connection_lost(exc)
