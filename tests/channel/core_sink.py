"""A payload stream as the channel core sees it, for the core's tests in virtual time."""

from __future__ import annotations


class Sink:
    """A payload stream as the core sees it: it keeps what it gets, and is behind (paused)
    while it holds ``limit`` bytes or more."""

    def __init__(self, limit: int = 1 << 30) -> None:
        self.data = bytearray()
        self.limit = limit
        self.unread = 0
        self.error: BaseException | None = None
        self.closed_by: str | None = None
        self.bytes_received = 0
        self._done = False

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def paused(self) -> bool:
        return self.unread >= self.limit

    def deliver(self, data: bytes) -> int | None:
        self.bytes_received += len(data)
        self.data += data
        self.unread += len(data)
        return None

    def link_closed(self, line: str, retract: int = 0) -> None:
        self.closed_by = line
        self._done = True

    def fail(self, exc: BaseException) -> None:
        self.error = exc
        self._done = True
