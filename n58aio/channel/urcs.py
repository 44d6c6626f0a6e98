"""Routing of unsolicited reports (URCs) to callbacks and async iterators, off the reader."""

from __future__ import annotations

import asyncio
import inspect
from collections import deque
from collections.abc import Awaitable, Callable
from types import TracebackType

import structlog

from ..errors import PortClosedError
from ..redact import loggable_line

__all__ = ["UrcCallback", "UrcRouter", "UrcSubscription"]

UrcCallback = Callable[[str], None] | Callable[[str], Awaitable[None]]


class UrcSubscription:
    """Async iterator over report lines that start with a prefix.

    Holds at most ``maxlen`` unread lines; when a slow consumer lets it overflow, the oldest
    line is dropped and counted in :attr:`dropped` (the reader never blocks on a report).
    Use it as an async context manager, or call :meth:`close`, to unsubscribe.
    """

    def __init__(self, router: UrcRouter, prefix: str, maxlen: int) -> None:
        self.prefix = prefix
        self.dropped = 0
        self._router = router
        self._lines: deque[str] = deque()
        self._maxlen = maxlen
        self._waiter: asyncio.Future[None] | None = None
        self._error: BaseException | None = None
        self._closed = False

    def _put(self, line: str) -> None:
        if len(self._lines) >= self._maxlen:
            self._lines.popleft()
            self.dropped += 1
        self._lines.append(line)
        self._wake()

    def _fail(self, exc: BaseException) -> None:
        self._error = exc
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def close(self) -> None:
        """Unsubscribe; a waiting iteration ends."""
        if not self._closed:
            self._closed = True
            self._router._remove_subscription(self)
            self._wake()

    def __aiter__(self) -> UrcSubscription:
        return self

    async def __anext__(self) -> str:
        while True:
            if self._lines:
                return self._lines.popleft()
            if self._closed:
                raise StopAsyncIteration
            if self._error is not None:
                raise self._error
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    async def __aenter__(self) -> UrcSubscription:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class UrcRouter:
    """Delivers each report line to the callbacks and subscriptions whose prefix it starts with.

    Callbacks run via ``loop.call_soon`` (coroutine functions as tasks), never inside the
    reader, so a callback may send commands without deadlocking. A callback's exception is
    logged and does not reach the reader.
    """

    def __init__(self, log: structlog.typing.FilteringBoundLogger) -> None:
        self._log = log
        self._callbacks: list[tuple[str, UrcCallback]] = []
        self._subscriptions: list[UrcSubscription] = []
        self._tasks: set[asyncio.Task[None]] = set()

    def add_callback(self, prefix: str, callback: UrcCallback) -> Callable[[], None]:
        """Register ``callback`` for lines starting with ``prefix``; return the unsubscriber."""
        entry = (prefix, callback)
        self._callbacks.append(entry)

        def unsubscribe() -> None:
            if entry in self._callbacks:
                self._callbacks.remove(entry)

        return unsubscribe

    def subscribe(self, prefix: str, maxlen: int = 1024) -> UrcSubscription:
        """Return an async iterator of lines starting with ``prefix``."""
        subscription = UrcSubscription(self, prefix, maxlen)
        self._subscriptions.append(subscription)
        return subscription

    def _remove_subscription(self, subscription: UrcSubscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)

    def dispatch(self, line: str) -> None:
        """Route one report line (called from the reader)."""
        loop = asyncio.get_running_loop()
        for prefix, callback in tuple(self._callbacks):
            if line.startswith(prefix):
                loop.call_soon(self._run, callback, line)
        for subscription in tuple(self._subscriptions):
            if line.startswith(subscription.prefix):
                subscription._put(line)

    def _run(self, callback: UrcCallback, line: str) -> None:
        try:
            result = callback(line)
            if inspect.isawaitable(result):
                task: asyncio.Task[None] = asyncio.ensure_future(_await(result))
                self._tasks.add(task)
                task.add_done_callback(self._task_done)
        except Exception:
            self._log.exception("urc.callback_failed", line=loggable_line(line))

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._log.error("urc.callback_failed", exc_info=task.exception())

    def close(self, exc: PortClosedError) -> None:
        """Fail every subscription (the port is gone) and cancel running callback tasks."""
        for subscription in tuple(self._subscriptions):
            subscription._fail(exc)
        for task in tuple(self._tasks):
            task.cancel()


async def _await(awaitable: Awaitable[None]) -> None:
    await awaitable
