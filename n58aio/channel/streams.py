"""Bounded async streams that carry payload from the reader to a consumer task.

The reader (inside the channel's ``data_received``) pushes with the synchronous
:meth:`PayloadStream.deliver`; the consumer awaits :meth:`PayloadStream.receive` or iterates.
A :class:`Decoder` turns bytes into items and says when a message is complete, which is how
receive mode 0 finds the end of a response from its HTTP framing. When more than
``max_buffer`` bytes wait unread, :attr:`PayloadStream.paused` turns True and the channel
stops reading the port until the consumer catches up (backpressure, never unbounded buffers).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

import anyio

from ..errors import N58Error
from ..wire import Source

__all__ = ["ByteDecoder", "Decoder", "PayloadStream"]

T = TypeVar("T")


class Decoder(Protocol[T]):
    """Turns payload bytes into stream items (synchronously, inside the reader)."""

    def feed(self, data: bytes) -> tuple[list[T], int | None]:
        """Consume ``data``; return the items it completes, and when the message is complete,
        the number of trailing bytes of ``data`` that were not part of it (else None)."""
        ...

    def link_closed(self, retract: int) -> list[T]:
        """The module reported the link closed; ``retract`` trailing bytes fed earlier were not
        payload. Return the last items, or raise an :class:`~n58aio.errors.N58Error`."""
        ...

    def item_size(self, item: T) -> int:
        """Bytes an item accounts for in the buffer bound."""
        ...


# The reports that end receive mode 0 (see the parser): an end of the bytes that could be
# their start may be retracted.
_CLOSE_MARKERS = (b"\r\n+HTTPCLOSED:", b"\r\n+HTTPSCLOSED:", b"\r\n+PBREADY\r")
_HOLD = max(map(len, _CLOSE_MARKERS)) - 1


def link_closed_prefix(data: bytes) -> int:
    """Length of the longest end of ``data`` that could be the start of a link-closed report
    (``<CR><LF>+HTTPCLOSED:`` and its twins): the most a later ``RawEnd`` can retract."""
    index = data.find(b"\r", max(0, len(data) - _HOLD))
    while index != -1:
        tail = data[index:]
        if any(marker.startswith(tail) for marker in _CLOSE_MARKERS):
            return len(data) - index
        index = data.find(b"\r", index + 1)
    return 0


class ByteDecoder:
    """Identity decoder: items are the payload chunks; the stream ends when the link closes.

    A chunk's last bytes that could be the start of the link-closed report (``<CR><LF>+HTTP``
    ...) are held back until the next chunk or the end: in receive mode 0 the report may
    retract them (:attr:`~n58aio.wire.RawEnd.retract`), and no wrong byte reaches the consumer.
    """

    def __init__(self) -> None:
        self._held = b""

    def feed(self, data: bytes) -> tuple[list[bytes], int | None]:
        """Pass the chunk through, but for a possible start of the link-closed report."""
        if self._held:
            data = self._held + data
        hold = link_closed_prefix(data)
        self._held = data[len(data) - hold :] if hold else b""
        body = data[: len(data) - hold]
        return ([body] if body else []), None

    def link_closed(self, retract: int) -> list[bytes]:
        """Emit the bytes held back, less the ``retract`` that were the report's start."""
        held, self._held = self._held, b""
        kept = held[: max(0, len(held) - retract)]
        return [kept] if kept else []

    def item_size(self, item: bytes) -> int:
        """Length of the chunk."""
        return len(item)


class PayloadStream(Generic[T]):
    """A bounded single-consumer stream of decoded payload items for one family.

    Iterate it (``async for item in stream``) or call :meth:`receive`. It ends when the decoder
    says the message is complete or the link closes; errors (port gone, link closed early,
    malformed framing) are raised to the consumer after the items that preceded them.
    """

    def __init__(
        self,
        source: Source,
        decoder: Decoder[T],
        *,
        max_buffer: int = 256 * 1024,
        on_drain: Callable[[], None] | None = None,
    ) -> None:
        self.source: Source = source
        self.decoder = decoder
        self.max_buffer = max_buffer
        self._items: deque[T] = deque()
        self._buffered = 0
        self._waiter: asyncio.Future[None] | None = None  # the consumer waiting, if any
        self._loop: asyncio.AbstractEventLoop | None = None  # the consumer's, from its first wait
        self._deadline: float | None = None  # loop time at which the waiting consumer times out
        self._watchdog: asyncio.TimerHandle | None = None  # see _arm_watchdog
        self._done = False
        self._error: BaseException | None = None
        self._on_drain = on_drain
        self._detached = False
        self.bytes_received = 0
        self.closed_by_link: str | None = None

    # ---------------------------------------------------------------- reader side
    @property
    def finished(self) -> bool:
        """True once no more items will be added (complete, closed or failed)."""
        return self._done

    @property
    def failed(self) -> bool:
        """True when the stream ended with an error."""
        return self._error is not None

    @property
    def paused(self) -> bool:
        """True while the unread items exceed the buffer bound."""
        return self._buffered >= self.max_buffer and not self._detached

    def deliver(self, data: bytes) -> int | None:
        """Feed payload bytes; return the leftover count once the message is complete."""
        if self._done:
            return len(data)
        self.bytes_received += len(data)
        try:
            items, leftover = self.decoder.feed(data)
        except N58Error as exc:
            self.fail(exc)
            return 0
        self._push(items)
        if leftover is not None:
            self.bytes_received -= leftover
            self._finish()
        return leftover

    def link_closed(self, line: str, retract: int = 0) -> None:
        """The module reported the link closed with ``line``."""
        if self._done:
            return
        self.closed_by_link = line
        self.bytes_received -= retract
        try:
            items = self.decoder.link_closed(retract)
        except N58Error as exc:
            self.fail(exc)
            return
        self._push(items)
        self._finish()

    def fail(self, exc: BaseException) -> None:
        """End the stream with an error raised to the consumer after the buffered items."""
        if self._done:
            return
        self._error = exc
        self._finish()

    def detach(self) -> None:
        """The consumer is gone: drop buffered items and stop counting them for backpressure."""
        self._detached = True
        self._items.clear()
        self._buffered = 0
        self._finish()
        if self._on_drain is not None:
            self._on_drain()

    def _push(self, items: list[T]) -> None:
        if not items or self._detached:
            return
        size = self.decoder.item_size
        for item in items:
            self._items.append(item)
            self._buffered += size(item)
        self._wake()

    def _finish(self) -> None:
        self._done = True
        self._wake()
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            watchdog.cancel()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # ---------------------------------------------------------------- consumer side
    async def receive(self, timeout: float | None = None) -> T:
        """Return the next item; raise ``anyio.EndOfStream`` at the end, or the stream's error.

        With ``timeout``, raise ``TimeoutError`` when no item comes within that many seconds.
        One task receives at a time (``RuntimeError`` otherwise).
        """
        deadline: float | None = None
        while True:
            if self._items:
                item = self._items.popleft()
                buffered = self._buffered
                self._buffered = left = buffered - self.decoder.item_size(item)
                # the reader paused for this stream: resume it once below the bound again
                if buffered >= self.max_buffer > left and not self._detached and self._on_drain:
                    self._on_drain()
                return item
            if self._done:
                if self._error is not None:
                    raise self._error
                raise anyio.EndOfStream
            if self._waiter is not None:
                raise RuntimeError("another task is already receiving from this stream")
            # A bare future, and one watchdog timer for many waits (see _arm_watchdog) instead
            # of a timer per wait: this runs once per delivery of a download. The loop is
            # looked up once (on CPython 3.11 each lookup is a getpid() system call).
            loop = self._loop
            if loop is None:
                loop = self._loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            if timeout is not None:
                if deadline is None:
                    deadline = loop.time() + timeout
                self._deadline = deadline
                watchdog = self._watchdog
                if watchdog is None or watchdog.when() > deadline:
                    self._arm_watchdog(loop, deadline)
            try:
                await waiter
            finally:
                self._waiter = None
                self._deadline = None

    def _arm_watchdog(self, loop: asyncio.AbstractEventLoop, deadline: float) -> None:
        """Have the watchdog run at ``deadline``. A timer armed no later than a new wait's
        deadline is kept, and when it fires it re-arms itself for the wait in progress then:
        a steady stream sets one timer per timeout period instead of one per item."""
        watchdog = self._watchdog
        if watchdog is not None:
            watchdog.cancel()
        self._watchdog = loop.call_at(deadline, self._watchdog_fired, loop, deadline)

    def _watchdog_fired(self, loop: asyncio.AbstractEventLoop, armed_for: float) -> None:
        self._watchdog = None
        waiter, deadline = self._waiter, self._deadline
        if waiter is None or deadline is None or waiter.done():
            return  # nobody waits with a timeout: the next wait arms the watchdog again
        if armed_for < deadline:  # armed for an earlier wait: this one has time left
            self._arm_watchdog(loop, deadline)
            return
        waiter.set_exception(TimeoutError())

    def __aiter__(self) -> PayloadStream[T]:
        return self

    async def __anext__(self) -> T:
        try:
            return await self.receive()
        except anyio.EndOfStream:
            raise StopAsyncIteration from None
