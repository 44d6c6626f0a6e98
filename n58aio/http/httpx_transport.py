"""An httpx transport that sends requests through an N58 modem (or a pool of them).

``httpx.AsyncClient(transport=n58aio.ModemTransport(modem))`` makes code written for httpx run
over a cellular modem unchanged: responses stream, and every method works within the module's
2048-byte request limit. httpx is an optional dependency (``pip install n58aio[httpx]``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Protocol, Unpack

import httpx

from ..errors import (
    CommandError,
    CommandTimeout,
    ConnectError,
    ConnectTimeout,
    InvalidValue,
    LinkClosedError,
    N58Error,
    NoModemAvailable,
    PoolTimeout,
    PortClosedError,
    ProtocolError,
    ReadTimeout,
    RequestTimeout,
    RequestTooLarge,
    TLSConfigError,
    WriteTimeout,
)
from .options import RequestOptions
from .request import plan_request
from .response import Response
from .timeouts import DEFAULT_TIMEOUT, Timeouts
from .tls import TLSConfig
from .url import ModuleURL

__all__ = ["ModemTransport", "StreamingClient", "modem_timeouts"]

# Framing and connection management belong to the modem path, not to the caller. ``Host`` is
# dropped only where it is httpx's own (the URL's): a caller's virtual host is sent.
_DROPPED_HEADERS = frozenset({"connection", "content-length", "transfer-encoding", "keep-alive"})
# httpx's own defaults, dropped only when the request would not fit the module's budget.
_HTTPX_DEFAULTS = frozenset({"user-agent", "accept-encoding"})


class StreamingClient(Protocol):
    """What the transport needs: a Modem or a ModemPool."""

    def stream(
        self, method: str, url: str, **options: Unpack[RequestOptions]
    ) -> AbstractAsyncContextManager[Response]: ...


def modem_timeouts(timeout: Mapping[str, float | None] | None) -> Timeouts | None:
    """httpx's per-request ``timeout`` extension (``connect``, ``read``, ``write``, ``pool``)
    as :class:`~n58aio.Timeouts`: ``read`` bounds both the response head and each gap between
    chunks. A phase httpx leaves unbounded (None) gets the modem's 30 s (the module's own
    limit for link setup and for taking a request); all four None: the modem's defaults."""
    if not timeout or all(timeout.get(p) is None for p in ("connect", "read", "write", "pool")):
        return None
    phases = {phase: timeout.get(phase) for phase in ("connect", "read", "write")}
    return Timeouts(
        DEFAULT_TIMEOUT,
        connect=phases["connect"],
        read=phases["read"],
        write=phases["write"],
        pool=timeout.get("pool"),
    )


class _ModemByteStream(httpx.AsyncByteStream):
    def __init__(self, context: AbstractAsyncContextManager[Response], response: Response) -> None:
        self._context = context
        self._response = response
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self._response.aiter_raw():  # httpx undoes Content-Encoding
                yield chunk
        except N58Error as exc:
            raise _map_error(exc) from exc

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            await self._context.__aexit__(None, None, None)


class ModemTransport(httpx.AsyncBaseTransport):
    """Route httpx requests through a modem or a pool.

    ``tls`` is passed to HTTPS requests (server verification needs a CA file on the module).
    httpx's timeouts apply (see :func:`modem_timeouts`); httpx itself follows redirects.
    n58aio errors surface as the matching httpx exceptions, with the original as ``__cause__``.
    """

    def __init__(self, client: StreamingClient, *, tls: TLSConfig | None = None) -> None:
        self.client = client
        self.tls = tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the modem and return a streaming response."""
        body = await request.aread()
        content = body if body or request.method in ("POST", "PUT", "PATCH") else None
        url = str(request.url)
        try:
            headers = _fitting_headers(request, url, content)
        except N58Error as exc:
            raise _map_error(exc, request) from exc
        tls = self.tls if request.url.scheme == "https" else None
        timeouts = modem_timeouts(request.extensions.get("timeout"))
        context = self.client.stream(
            request.method,
            url,
            headers=headers,
            content=content,
            tls=tls,
            timeouts=timeouts,
            follow_redirects=False,
        )
        try:
            response = await context.__aenter__()
        except N58Error as exc:
            raise _map_error(exc, request) from exc
        return httpx.Response(
            response.status_code,
            headers=response.headers.raw,
            stream=_ModemByteStream(context, response),
            extensions={
                "http_version": response.http_version.encode("ascii"),
                "reason_phrase": response.reason.encode("latin-1"),
            },
        )


def _fitting_headers(
    request: httpx.Request, url: str, content: bytes | None
) -> list[tuple[str, str]]:
    """The request's headers less what the modem path writes itself (``Host`` unless the
    caller set another) and ``Accept: */*``
    (the same as none); without httpx's default ``User-Agent`` and ``Accept-Encoding`` too
    when the request would not fit the module's budget otherwise (checked here, sans I/O)."""
    headers = [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, value in request.headers.raw
        if name.decode("latin-1").lower() not in _DROPPED_HEADERS
    ]
    headers = [(n, v) for n, v in headers if not (n.lower() == "accept" and v.strip() == "*/*")]
    target = ModuleURL.parse(url)
    headers = [(n, v) for n, v in headers if not (n.lower() == "host" and v == target.host_header)]
    try:
        plan_request(request.method, target, headers=headers, content=content)
    except RequestTooLarge:
        trimmed = [(n, v) for n, v in headers if not _is_httpx_default(n, v)]
        if trimmed == headers:
            raise
        plan_request(request.method, target, headers=trimmed, content=content)
        return trimmed
    return headers


def _is_httpx_default(name: str, value: str) -> bool:
    lowered = name.lower()
    if lowered == "user-agent":
        return value == f"python-httpx/{httpx.__version__}"
    if lowered == "accept-encoding":
        codings = {part.strip().lower() for part in value.split(",")}
        return codings <= {"gzip", "deflate", "br", "zstd"}
    return False


def _map_error(exc: N58Error, request: httpx.Request | None = None) -> httpx.HTTPError:
    message = str(exc)
    if isinstance(exc, InvalidValue | TLSConfigError):
        return httpx.LocalProtocolError(message, request=request)
    if isinstance(exc, WriteTimeout):  # before CommandTimeout, which it is too
        return httpx.WriteTimeout(message, request=request)
    if isinstance(exc, ConnectTimeout | CommandTimeout):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, PoolTimeout | NoModemAvailable):
        return httpx.PoolTimeout(message, request=request)
    if isinstance(exc, ReadTimeout | RequestTimeout):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, LinkClosedError | ProtocolError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, ConnectError | PortClosedError | CommandError):
        return httpx.ConnectError(message, request=request)
    return httpx.TransportError(message, request=request)
