"""Requests under supervision: they wait for a recovery in progress, a failure that may be the
module's starts one, and what the retry policy allows is sent again once the module is back.

The steps of one request (:func:`supervised_request`, :func:`supervised_stream`):

1. wait while a recovery is scheduled or running (within the request's ``pool`` timeout, or
   :data:`~n58aio.supervision.RECOVERY_TIMEOUT`);
2. send it;
3. on a failure of the link, the line or the module (never an HTTP status, never a refused
   value), have the supervisor judge the module by its state and repair it
   (:meth:`~n58aio.supervision.Supervisor.after_failure`);
4. send it again only when the module was repaired meanwhile (a restart, a lost link or
   registration, a reset: the failure was the module's, not the server's), the method is one
   the policy re-sends (GET, HEAD, OPTIONS by default; never a POST without the caller's
   policy), an attempt is left and the deadline allows; else raise the request's own error.

A stream is sent again only before its response is handed out; a body that fails later is the
caller's to handle (a download resumes its range).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import TypeVar

import structlog

from .errors import N58Error, PoolTimeout
from .http import HttpClient, RequestOptions, Response, Timeouts
from .redact import redact
from .retry import Attempts, RetryPolicy
from .supervision import RECOVERY_TIMEOUT, Supervisor

__all__ = ["supervised_call", "supervised_request", "supervised_stream"]

T = TypeVar("T")


async def _ready(supervisor: Supervisor, options: RequestOptions) -> None:
    timeouts = Timeouts.of(options.get("timeouts"))
    wait = timeouts.pool if timeouts is not None and timeouts.pool is not None else None
    try:
        async with asyncio.timeout(RECOVERY_TIMEOUT if wait is None else wait):
            await supervisor.ready()
    except TimeoutError:
        raise PoolTimeout("recovery", RECOVERY_TIMEOUT if wait is None else wait) from None


async def _again(
    supervisor: Supervisor,
    attempts: Attempts,
    method: str,
    url: str,
    exc: N58Error,
    log: structlog.typing.FilteringBoundLogger,
    before: int,
    suspect: bool | None = None,
) -> bool:
    """After the failure ``exc`` of an attempt that started when ``supervisor.repairs`` was
    ``before``: recover, then wait and return True when it is sent again."""
    await supervisor.after_failure(exc, suspect=suspect)
    repaired = supervisor.repairs != before
    delay = attempts.after(exc) if repaired and attempts.policy.resends(method) else None
    if delay is None:
        if repaired:
            log.info("request.not_resent", method=method, url=redact(url), error=type(exc).__name__)
        return False
    supervisor.resends += 1
    log.info(
        "request.resent",
        method=method,
        url=redact(url),
        attempt=attempts.total,
        error=type(exc).__name__,
        delay=round(delay, 3),
    )
    await asyncio.sleep(delay)
    return True


def _policy(default: RetryPolicy, options: RequestOptions) -> RetryPolicy:
    given = options.get("retry")
    return default if given is None else given


async def supervised_request(
    supervisor: Supervisor,
    client: HttpClient,
    default: RetryPolicy,
    method: str,
    url: str,
    options: RequestOptions,
) -> Response:
    """:meth:`HttpClient.request` under the steps of the module docstring."""
    attempts = Attempts(_policy(default, options))
    while True:
        await _ready(supervisor, options)
        before = supervisor.repairs
        try:
            response = await client.request(method, url, **options)
        except N58Error as exc:
            if await _again(supervisor, attempts, method.upper(), url, exc, client.log, before):
                continue
            raise
        response.attempts = attempts.total
        return response


@asynccontextmanager
async def supervised_stream(
    supervisor: Supervisor,
    client: HttpClient,
    default: RetryPolicy,
    method: str,
    url: str,
    options: RequestOptions,
) -> AsyncIterator[Response]:
    """:meth:`HttpClient.stream` under the steps of the module docstring (sent again only
    before the response is handed out)."""
    attempts = Attempts(_policy(default, options))
    while True:
        await _ready(supervisor, options)
        before = supervisor.repairs
        handed_out = False
        try:
            async with client.stream(method, url, **options) as response:
                response.attempts = attempts.total
                handed_out = True
                yield response
            return
        except N58Error as exc:
            if handed_out:
                await supervisor.after_failure(exc)
                raise
            if await _again(supervisor, attempts, method.upper(), url, exc, client.log, before):
                continue
            raise


async def supervised_call(
    supervisor: Supervisor,
    policy: RetryPolicy,
    method: str,
    url: str,
    operation: Callable[[], Awaitable[T]],
    log: structlog.typing.FilteringBoundLogger,
    *,
    failures: tuple[type[Exception], ...] = (),
    suspects: tuple[type[Exception], ...] = (),
) -> T:
    """Any other operation that talks to a server through the module (a module-side transfer:
    ``method`` is what it does to the server, GET or POST) under the same steps. ``failures``
    are its own errors worth another attempt once the module was repaired (a transfer cut by a
    restart), ``suspects`` those that may hide a module fault (the module's "no data link")."""
    if failures or suspects:
        policy = replace(policy, errors=(*policy.errors, *failures, *suspects))
    attempts = Attempts(policy)
    while True:
        try:
            async with asyncio.timeout(RECOVERY_TIMEOUT):
                await supervisor.ready()
        except TimeoutError:
            raise PoolTimeout("recovery", RECOVERY_TIMEOUT) from None
        before = supervisor.repairs
        try:
            return await operation()
        except N58Error as exc:
            suspect = True if isinstance(exc, suspects) else None
            if await _again(supervisor, attempts, method.upper(), url, exc, log, before, suspect):
                continue
            raise
