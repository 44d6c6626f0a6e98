"""Many modems behind one object: scheduling, retries, quarantine and background reopening.

Each modem runs one request at a time. A request goes to the idle healthy modem with the fewest
recent errors, then the one idle the longest. When a modem faults mid-request, an idempotent
request is sent again on another modem; the faulty modem is checked (``AT`` and the data link)
before it is used again, or quarantined and reopened in the background with a growing delay.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
from collections.abc import AsyncIterator, Collection, Coroutine, Mapping, Sequence
from contextlib import asynccontextmanager
from os import PathLike
from typing import Any, Unpack

import structlog

from ..errors import (
    CommandTimeout,
    N58Error,
    NoModemAvailable,
    PoolTimeout,
    PortClosedError,
    ProtocolError,
)
from ..http import RequestOptions, Response, Timeouts
from ..http.options import check_request_options
from ..logs import get_logger
from ..redact import loggable_line, redact
from ..retry import IDEMPOTENT_METHODS, RECOVERABLE_ERRORS, RetryPolicy
from ..transfer.options import DownloadOptions
from .download import PoolDownloadResult, parallel_download
from .member import PoolMember
from .stats import PoolStats

__all__ = ["HARD_FAULTS", "IDEMPOTENT_METHODS", "RETRYABLE_FAULTS", "ModemPool"]

HARD_FAULTS: tuple[type[N58Error], ...] = (PortClosedError, CommandTimeout, ProtocolError)
"""Faults that quarantine the modem at once (its port or its AT stream cannot be trusted)."""

RETRYABLE_FAULTS: tuple[type[N58Error], ...] = RECOVERABLE_ERRORS
"""Faults after which an idempotent request is tried on another modem (those of
:class:`~n58aio.RetryPolicy`)."""

_ids = itertools.count(1)


class ModemPool:
    """A set of modems used as one: ``async with ModemPool([url, ...]) as pool:``.

    ``urls`` are device paths or pyserial URLs (``socket://``, ``rfc2217://`` ...);
    ``serial_options`` go to pyserial and ``modem_options`` to :func:`~n58aio.open_modem`
    (``recvmode``, ``keepalive``, ``timeouts``, ``tls``, ``timeout_slack``, ``mux``: each modem
    on 27.010 multiplexing, health checks on its command DLC while a request streams).

    ``health_interval``: seconds between checks of a modem that has been idle.
    ``reopen_backoff``: first and longest delay between reopen attempts (doubling, jittered).
    ``request_retries``: how many times an idempotent request moves to another modem.
    ``acquire_timeout``: how long a request waits for a free healthy modem before
    :class:`~n58aio.errors.NoModemAvailable`. ``check_timeout`` bounds one health check
    (including an attach).
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        serial_options: Mapping[str, Any] | None = None,
        health_interval: float = 30.0,
        reopen_backoff: tuple[float, float] = (1.0, 60.0),
        request_retries: int = 3,
        acquire_timeout: float = 60.0,
        check_timeout: float = 60.0,
        name: str | None = None,
        **modem_options: Any,
    ) -> None:
        if isinstance(urls, str) or not urls:
            raise ValueError("urls must be a non-empty sequence of port URLs")
        first, longest = reopen_backoff
        if not 0 < first <= longest:
            raise ValueError("reopen_backoff must be (first, longest) with 0 < first <= longest")
        if health_interval <= 0 or acquire_timeout <= 0 or check_timeout <= 0:
            raise ValueError("intervals and timeouts must be > 0")
        if request_retries < 0:
            raise ValueError("request_retries must be >= 0")
        self.name = name or f"pool{next(_ids)}"
        self.log: structlog.typing.FilteringBoundLogger = get_logger("n58aio.pool", pool=self.name)
        self.health_interval = health_interval
        self.reopen_backoff = (float(first), float(longest))
        self.request_retries = request_retries
        self.acquire_timeout = acquire_timeout
        self.check_timeout = check_timeout
        self._open_options: dict[str, Any] = {**(serial_options or {}), **modem_options}
        self._members = [
            PoolMember(index, url, f"{self.name}.{index}", self.log)
            for index, url in enumerate(urls)
        ]
        self._waiters: list[asyncio.Future[None]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._retries = 0
        self._phase = "new"

    # ------------------------------------------------------------------ lifecycle
    async def __aenter__(self) -> ModemPool:
        await self.open()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def open(self) -> None:
        """Open and check every modem concurrently; those that fail are reopened in the
        background. Raises :class:`~n58aio.errors.NoModemAvailable` when none could be opened."""
        if self._phase != "new":
            raise RuntimeError("a pool is opened once")
        self._phase = "open"
        try:
            results = await asyncio.gather(
                *(self._bring_up(member) for member in self._members), return_exceptions=True
            )
        except BaseException:
            await self.aclose()
            raise
        for member, result in zip(self._members, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, Exception):
                await self.aclose()
                raise result
            if member.modem is None or member.modem.closed:
                lost = result if isinstance(result, Exception) else PortClosedError("port lost")
                self._quarantine(member, lost, noted=False)
            else:
                self._set_idle(member)
        if not any(member.state == "healthy" for member in self._members):
            errors = "; ".join(f"{m.name}: {m.last_error}" for m in self._members)
            await self.aclose()
            raise NoModemAvailable(f"no modem of the pool could be opened ({errors})")
        self._spawn(self._health_loop(), "health")
        self.log.info("pool.open", modems=len(self._members), healthy=self.stats().healthy)

    async def aclose(self) -> None:
        """Stop background work, wake waiters (they get ``NoModemAvailable``), close ports."""
        if self._phase == "closed":
            return
        self._phase = "closed"
        self._notify()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await asyncio.gather(*(member.close() for member in self._members))
        for member in self._members:
            member.state = "closed"
        # Let the transports finish closing their ports before returning.
        for _ in range(3):
            await asyncio.sleep(0)
        self.log.info("pool.closed")

    @property
    def closed(self) -> bool:
        """True once :meth:`aclose` ran."""
        return self._phase == "closed"

    # ------------------------------------------------------------------ requests
    @asynccontextmanager
    async def stream(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> AsyncIterator[Response]:
        """:meth:`Modem.stream <n58aio.Modem.stream>` on the least busy healthy modem.

        An idempotent request whose modem faults before the response head is sent again on
        another modem; once the response is yielded, a fault is raised to the caller.
        """
        check_request_options(options)
        wait = _pool_wait(options)
        policy = self._policy(options)
        avoid: list[PoolMember] = []
        for attempt in itertools.count():
            yielded = False
            current: PoolMember | None = None
            try:
                async with self._lease(avoid, wait) as member:
                    current = member
                    assert member.modem is not None
                    async with member.modem.stream(method, url, **options) as response:
                        yielded = True
                        try:
                            yield response
                        finally:
                            member.bytes += response.num_bytes_downloaded
                return
            except Exception as exc:
                if yielded or current is None or not self._may_retry(policy, method, exc, attempt):
                    raise
                self._note_retry(current, method, url, exc)
                avoid.append(current)

    async def request(self, method: str, url: str, **options: Unpack[RequestOptions]) -> Response:
        """:meth:`Modem.request <n58aio.Modem.request>` on the least busy healthy modem; an
        idempotent request is sent again on another modem when its modem faults."""
        check_request_options(options)
        wait = _pool_wait(options)
        policy = self._policy(options)
        avoid: list[PoolMember] = []
        for attempt in itertools.count():
            current: PoolMember | None = None
            try:
                async with self._lease(avoid, wait) as member:
                    current = member
                    assert member.modem is not None
                    response = await member.modem.request(method, url, **options)
                    member.bytes += len(response.content)
                return response
            except Exception as exc:
                if current is None or not self._may_retry(policy, method, exc, attempt):
                    raise
                self._note_retry(current, method, url, exc)
                avoid.append(current)
        raise AssertionError("unreachable")  # pragma: no cover

    async def get(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("GET", url, ...)``."""
        return await self.request("GET", url, **options)

    async def head(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("HEAD", url, ...)``."""
        return await self.request("HEAD", url, **options)

    async def post(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("POST", url, ...)``."""
        return await self.request("POST", url, **options)

    async def put(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("PUT", url, ...)``."""
        return await self.request("PUT", url, **options)

    async def patch(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("PATCH", url, ...)``."""
        return await self.request("PATCH", url, **options)

    async def delete(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("DELETE", url, ...)``."""
        return await self.request("DELETE", url, **options)

    async def options(self, url: str, **options: Unpack[RequestOptions]) -> Response:
        """``request("OPTIONS", url, ...)``."""
        return await self.request("OPTIONS", url, **options)

    async def download(
        self, url: str, path: str | PathLike[str], **options: Unpack[DownloadOptions]
    ) -> PoolDownloadResult:
        """Download ``url`` to ``path`` in ranges fetched in parallel across the modems.

        The engine of :meth:`Modem.download <n58aio.Modem.download>` with one worker per modem;
        the options are :class:`~n58aio.transfer.DownloadOptions`. Ranges of at most
        ``range_size`` bytes (finer for small files, so every modem gets work) are written at
        their offsets into ``<path>.part``, which is hash-checked (``sha256``/``md5``, hex) and
        renamed to ``path`` once complete; ``<path>.part.json`` records the verified prefix, so
        an interrupted download resumes (by a pool or a modem); a ``path`` that is a device or
        FIFO is written in place once verified, without resume (see
        :mod:`~n58aio.transfer.localfile`). A range whose modem faults goes
        on from where it stopped, on another modem when one is free; ``retries`` bounds its
        failures in a row, with ``backoff`` seconds (doubling, full jitter) between them.
        ``progress`` gets a :class:`~n58aio.transfer.Progress` at most every 0.1 s.

        Raises :class:`~n58aio.transfer.IntegrityError` on a hash mismatch (the partial file is
        deleted), :class:`~n58aio.errors.TransferError` when a range keeps failing,
        :class:`~n58aio.transfer.RangeMismatchError` when the server answers other ranges (the
        verified prefix is kept for the next call).
        """
        return await parallel_download(self, url, path, **options)

    # ------------------------------------------------------------------ monitoring
    def stats(self) -> PoolStats:
        """Per-modem figures and pool totals."""
        modems = tuple(member.stats() for member in self._members)
        return PoolStats(
            modems=modems,
            requests=sum(m.requests for m in modems),
            bytes=sum(m.bytes for m in modems),
            errors=sum(m.errors for m in modems),
            retries=self._retries,
            waiting=len(self._waiters),
        )

    @property
    def size(self) -> int:
        """Number of modems (in any state)."""
        return len(self._members)

    # ------------------------------------------------------------------ leases
    @asynccontextmanager
    async def _lease(
        self, avoid: Collection[PoolMember] = (), wait: float | None = None
    ) -> AsyncIterator[PoolMember]:
        """Hold the best free modem (preferring those not in ``avoid``) for one exchange;
        ``wait`` (a request's ``pool`` timeout) replaces ``acquire_timeout``."""
        member = await self._acquire(avoid, wait)
        error: BaseException | None = None
        try:
            async with member.guard():
                yield member
        except BaseException as exc:
            error = exc
            raise
        finally:
            self._release(member, error)

    async def _acquire(self, avoid: Collection[PoolMember], wait: float | None) -> PoolMember:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (self.acquire_timeout if wait is None else wait)
        while True:
            if self._phase != "open":
                raise NoModemAvailable(f"{self.name} is {self._phase}")
            member = self._pick(avoid)
            if member is not None:
                member.state = "busy"
                member.requests += 1
                return member
            if loop.time() >= deadline:
                if wait is not None:
                    raise PoolTimeout("pool (no modem free)", wait)
                raise NoModemAvailable(self._unavailable(self.acquire_timeout))
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            try:
                async with asyncio.timeout_at(deadline):
                    await waiter
            except TimeoutError:
                pass
            finally:
                if waiter in self._waiters:
                    self._waiters.remove(waiter)

    def _pick(self, avoid: Collection[PoolMember]) -> PoolMember | None:
        idle = [member for member in self._members if member.state == "healthy"]
        if not idle:
            return None
        choice = [member for member in idle if member not in avoid]
        if not choice:
            # Only modems that just failed this request are free: wait for another one,
            # unless no other modem is in service.
            if any(m.state == "busy" and m not in avoid for m in self._members):
                return None
            choice = idle
        now = time.monotonic()
        return min(choice, key=lambda m: (m.recent_errors(now), m.last_used))

    def _release(self, member: PoolMember, error: BaseException | None) -> None:
        member.last_used = time.monotonic()
        if self._phase != "open":
            return
        if error is not None and isinstance(error, N58Error):
            member.note_error(error)
        modem = member.modem
        if modem is None or modem.closed or isinstance(error, HARD_FAULTS):
            self._quarantine(
                member,
                error or PortClosedError(f"{member.name}: port closed"),
                noted=isinstance(error, N58Error),
            )
        elif error is None or not isinstance(error, N58Error | asyncio.CancelledError):
            if member.needs_check:
                self._spawn(self._recheck(member), f"check-{member.name}")
            else:
                member.last_ok = member.last_used
                self._set_idle(member)
        else:
            member.log.info("pool.modem.suspect", error=str(error) or type(error).__name__)
            self._spawn(self._recheck(member), f"check-{member.name}")

    def _policy(self, options: RequestOptions) -> RetryPolicy:
        """The request's ``retry``, else ``request_retries`` moves of an idempotent request."""
        given = options.get("retry")
        return given if given is not None else RetryPolicy(attempts=self.request_retries + 1)

    def _may_retry(self, policy: RetryPolicy, method: str, exc: Exception, attempt: int) -> bool:
        return (
            policy.resends(method)
            and attempt + 1 < policy.attempts
            and policy.retryable(exc)
            and self._phase == "open"
        )

    def _note_retry(self, member: PoolMember, method: str, url: str, exc: Exception) -> None:
        self._retries += 1
        member.log.info(
            "pool.request.retry",
            method=method.upper(),
            url=redact(url),
            error=f"{type(exc).__name__}",
        )

    def _unavailable(self, waited: float) -> str:
        states = self.stats().by_state()
        summary = ", ".join(f"{count} {state}" for state, count in sorted(states.items()))
        errors = "; ".join(f"{m.name}: {m.last_error}" for m in self._members if m.last_error)
        message = f"{self.name}: no healthy modem free within {waited:g} s ({summary})"
        return f"{message}; last errors: {errors}" if errors else message

    # ------------------------------------------------------------------ state changes
    def _set_idle(self, member: PoolMember) -> None:
        if self._phase != "open":
            return
        if member.state != "healthy":
            member.log.info("pool.modem.healthy", previous=member.state)
        member.state = "healthy"
        self._notify()

    def _notify(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def _quarantine(self, member: PoolMember, error: BaseException, *, noted: bool) -> None:
        if self._phase != "open" or member.state in ("quarantined", "reopening"):
            return
        if not noted:
            member.note_error(error)
        member.state = "quarantined"
        member.log.warning("pool.modem.quarantined", error=f"{type(error).__name__}: {error}")
        self._spawn(self._recover(member), f"recover-{member.name}")
        self._notify()

    async def _recover(self, member: PoolMember) -> None:
        await member.close()
        first, longest = self.reopen_backoff
        delay = first
        while True:
            member.state = "quarantined"
            self._notify()
            await asyncio.sleep(delay * random.uniform(0.8, 1.2))
            member.state = "reopening"
            try:
                await self._bring_up(member)
            except Exception as exc:
                member.note_error(exc)
                member.log.info("pool.modem.reopen_failed", error=str(exc), retry_in=delay)
                delay = min(delay * 2, longest)
                continue
            member.reopens += 1
            member.log.info("pool.modem.reopened", reopens=member.reopens)
            self._set_idle(member)
            return

    async def _bring_up(self, member: PoolMember) -> None:
        """Open the port, resynchronise, check health and watch the port."""
        try:
            modem = await member.open(self._open_options)
            async with asyncio.timeout(self.check_timeout):
                await modem.resync()
            status = await member.check(self.check_timeout)
        except BaseException as exc:
            await member.close()
            if isinstance(exc, TimeoutError) and not isinstance(exc, N58Error):
                raise CommandTimeout("open", self.check_timeout) from None
            raise
        member.start_watch(self._on_port_lost, self._on_reset)
        member.log.info("pool.modem.up", address=status.address)

    async def _recheck(self, member: PoolMember) -> None:
        member.state = "busy"
        try:
            await member.check(self.check_timeout)
        except Exception as exc:
            member.note_error(exc)
            member.log.warning("pool.modem.check_failed", error=f"{type(exc).__name__}: {exc}")
            self._quarantine(member, exc, noted=True)
            return
        self._set_idle(member)

    async def _health_loop(self) -> None:
        while True:
            await asyncio.sleep(self.health_interval)
            now = time.monotonic()
            for member in self._members:
                if member.state == "healthy" and now - member.last_ok >= self.health_interval:
                    member.state = "busy"
                    self._spawn(self._recheck(member), f"check-{member.name}")

    def _on_port_lost(self, member: PoolMember, exc: BaseException) -> None:
        if member.state == "healthy":
            self._quarantine(member, exc, noted=False)

    def _on_reset(self, member: PoolMember, line: str) -> None:
        if member.modem is not None and member.modem.supervisor.explains(line):
            return  # the modem's own bring-up (the +PBREADY of a PIN taken)
        member.needs_check = True
        shown = loggable_line(line)
        if member.abort(f"the modem reported {shown!r}"):
            member.log.warning("pool.modem.reset", report=shown, in_flight=True)
        elif member.state == "healthy":
            member.log.info("pool.modem.reset", report=shown, in_flight=False)
            member.state = "busy"
            self._spawn(self._recheck(member), f"check-{member.name}")

    def _spawn(self, coro: Coroutine[Any, Any, None], name: str) -> None:
        if self._phase == "closed":
            coro.close()
            return
        task = asyncio.ensure_future(coro)
        task.set_name(f"{self.name}-{name}")
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.log.error("pool.task_failed", task=task.get_name(), error=repr(task.exception()))


def _pool_wait(options: RequestOptions) -> float | None:
    """A request's ``pool`` timeout, which bounds its wait for a free modem."""
    timeouts = Timeouts.of(options.get("timeouts"))
    return None if timeouts is None else timeouts.pool
