"""Sans-IO reader of the module's serial input: bytes in, command lines and data chunks out.

In command mode a line ends at CR or LF; an LF right after the CR that ended the previous line is
skipped. In data mode (after the ``>`` prompt) exactly the announced number of bytes is handed
out as data, whatever their value. Bytes are only consumed when :meth:`AtLineReader.next_event`
is called, so input that arrives while a command is processed stays queued, and a data phase
started by a command sees the bytes that follow that command line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["AtLineReader", "CommandLine", "DataChunk", "Event"]

CR = 0x0D
LF = 0x0A
_TERMINATOR = re.compile(rb"[\r\n]")


@dataclass(frozen=True)
class CommandLine:
    """A complete command line.

    ``text`` is the line without its terminator, ``echo`` the bytes to echo (the line as typed
    plus its terminator). ``overflow`` is set when the line was longer than the reader's limit;
    its text and echo are then truncated (the bytes past the limit are not kept).
    """

    text: bytes
    echo: bytes
    overflow: bool = False


@dataclass(frozen=True)
class DataChunk:
    """Bytes of a data phase; ``remaining`` counts the bytes still expected after these."""

    data: bytes
    remaining: int


Event = CommandLine | DataChunk


class AtLineReader:
    """Splits the serial input stream into command lines and data-phase chunks."""

    def __init__(self, max_line: int = 4200, max_input: int = 1 << 16) -> None:
        self._buf = bytearray()
        self._max_line = max_line
        self._max_input = max_input
        self._scan = 0
        self._skip_lf = False
        self._data_left = 0

    @property
    def in_data_phase(self) -> bool:
        """True while data bytes are expected."""
        return self._data_left > 0

    @property
    def buffered(self) -> int:
        """Number of input bytes not consumed yet."""
        return len(self._buf)

    def feed(self, data: bytes) -> None:
        """Add received bytes; beyond ``max_input`` unread bytes, input is dropped (a module
        has a fixed receive buffer)."""
        room = self._max_input - len(self._buf)
        if room > 0:
            self._buf += data[:room]

    def clear(self) -> None:
        """Forget all buffered input and leave any data phase."""
        self._buf.clear()
        self._scan = 0
        self._skip_lf = False
        self._data_left = 0

    def expect_data(self, length: int) -> None:
        """Switch to data mode: the next ``length`` bytes are data.

        An LF that directly follows the CR of the command line and arrived with it is dropped
        first (a client that ends lines with CR LF); an LF arriving later is data.
        """
        if length < 1:
            raise ValueError("length must be >= 1")
        if self._skip_lf and self._buf[:1] == b"\n":
            del self._buf[:1]
        self._skip_lf = False
        self._scan = 0
        self._data_left = length

    def cancel_data(self) -> None:
        """Leave data mode (e.g. after a data-phase timeout); bytes already received are lost."""
        self._data_left = 0
        self._scan = 0

    def next_event(self) -> Event | None:
        """Return the next complete event, or None when more input is needed."""
        if self._data_left:
            if not self._buf:
                return None
            take = min(self._data_left, len(self._buf))
            data = bytes(self._buf[:take])
            del self._buf[:take]
            self._data_left -= take
            return DataChunk(data, self._data_left)
        if self._skip_lf and self._buf:
            if self._buf[0] == LF:
                del self._buf[:1]
            self._skip_lf = False
        found = _TERMINATOR.search(self._buf, self._scan)
        if found is None:
            self._scan = len(self._buf)
            if self._scan > self._max_line + 1:
                # a line past the limit: keep its start (the answer is ERROR anyway), drop the
                # rest up to the terminator, so the buffer stays bounded whatever comes in
                del self._buf[self._max_line + 1 :]
                self._scan = self._max_line + 1
            return None
        end = found.start()
        raw = bytes(self._buf[: end + 1])
        del self._buf[: end + 1]
        self._scan = 0
        self._skip_lf = raw[end] == CR
        overflow = end > self._max_line
        text = raw[:end]
        if overflow:
            text = text[: self._max_line]
        return CommandLine(text, raw, overflow)
