"""The module's line rate: auto-baud, ``AT+IPR`` and what a rate mismatch does to the bytes.

A pseudo-terminal carries bytes at any speed, but the host's speed setting (``tcsetattr``, which
pyserial's ``baudrate`` setter calls) is visible from the master side. The emulator reads it: while
the module runs at a fixed rate (after auto-baud detection or ``AT+IPR``), bytes exchanged at
another host rate come out garbled in both directions, as on a real UART. Pacing follows the
module's rate (when the emulator paces at all). The TCP front has no rate: nothing is checked.
"""

from __future__ import annotations

import termios
from collections.abc import Callable

__all__ = ["AUTO_BAUD_MAX", "RATES", "LineRate", "termios_rate"]

#: ``AT+IPR`` rates of the v2.0 manual (0: auto-baud).
RATES = (
    0, 1200, 2400, 4800, 9600, 14400, 19200, 28800, 33600, 38400, 57600, 115200,
    230400, 460800, 921600, 2166666,
)  # fmt: skip
#: Highest host rate the auto-baud detection locks onto (the manual is silent; see
#: docs/emulator.md).
AUTO_BAUD_MAX = 115200

_TERMIOS_RATES = (
    1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200, 230400, 460800, 500000,
    576000, 921600, 1000000, 1152000, 1500000, 2000000, 2500000, 3000000, 3500000, 4000000,
)  # fmt: skip
_SPEEDS: dict[int, int] = {
    getattr(termios, f"B{rate}"): rate for rate in _TERMIOS_RATES if hasattr(termios, f"B{rate}")
}


def termios_rate(code: int) -> int | None:
    """The bit rate of a termios speed code (None for one without a standard value)."""
    return _SPEEDS.get(code)


class LineRate:
    """The module's current rate and the host's, compared on every byte."""

    def __init__(self, host_rate: Callable[[], int | None], auto_baud: bool) -> None:
        self._host_rate = host_rate
        self.auto_baud = auto_baud
        self.module_rate: int | None = None  # None: not locked (auto-baud, or unchecked)

    def reset(self) -> None:
        """A restart: the module forgets ``AT+IPR`` and (at auto-baud) its detected rate."""
        self.module_rate = None

    @property
    def host(self) -> int | None:
        """The host's rate setting, when the front shows one."""
        return self._host_rate()

    def mismatch(self) -> bool:
        """True when the module runs at a fixed rate the host is not set to."""
        host = self.host
        return self.module_rate is not None and host is not None and host != self.module_rate

    def detect(self) -> bool:
        """Auto-baud sees ``AT``: lock onto the host's rate; False when it is out of reach."""
        host = self.host
        if host is not None and host > AUTO_BAUD_MAX:
            return False
        self.module_rate = host
        return True

    @staticmethod
    def garble(data: bytes) -> bytes:
        """What bytes sent at the wrong rate look like at the other end."""
        return bytes((b ^ 0xA5) | 0x80 for b in data)
