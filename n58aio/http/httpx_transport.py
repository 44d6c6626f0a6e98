"""An httpx transport that sends requests through an N58 modem (or a pool of them).

``httpx.AsyncClient(transport=n58aio.ModemTransport(modem))`` makes code written for httpx run
over a cellular modem unchanged: responses stream, and every method works within the module's
2048-byte request limit. httpx is an optional dependency (``pip install n58aio[httpx]``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Protocol

import httpx

from ..errors import (
    CommandError,
    CommandTimeout,
    InvalidValue,
    LinkClosedError,
    N58Error,
    PortClosedError,
    ProtocolError,
    RequestTimeout,
    TLSConfigError,
)
from .headers import HeaderTypes
from .response import Response
from .tls import TLSConfig

__all__ = ["ModemTransport", "StreamingClient"]

# Framing and connection management belong to the modem path, not to the caller.
_DROPPED_HEADERS = frozenset(
    {"host", "connection", "content-length", "transfer-encoding", "keep-alive"}
)


class StreamingClient(Protocol):
    """What the transport needs: a Modem or a ModemPool."""

    def stream(
        self,
        method: str,
        url: str,
        *,
        headers: HeaderTypes | None = None,
        content: bytes | str | None = None,
        tls: TLSConfig | None = None,
    ) -> AbstractAsyncContextManager[Response]: ...


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
    n58aio errors surface as the matching httpx exceptions, with the original as ``__cause__``.
    """

    def __init__(self, client: StreamingClient, *, tls: TLSConfig | None = None) -> None:
        self.client = client
        self.tls = tls

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` through the modem and return a streaming response."""
        body = await request.aread()
        headers = [
            (name.decode("latin-1"), value.decode("latin-1"))
            for name, value in request.headers.raw
            if name.decode("latin-1").lower() not in _DROPPED_HEADERS
        ]
        content = body if body or request.method in ("POST", "PUT", "PATCH") else None
        tls = self.tls if request.url.scheme == "https" else None
        context = self.client.stream(
            request.method, str(request.url), headers=headers, content=content, tls=tls
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


def _map_error(exc: N58Error, request: httpx.Request | None = None) -> httpx.HTTPError:
    message = str(exc)
    if isinstance(exc, InvalidValue | TLSConfigError):
        return httpx.LocalProtocolError(message, request=request)
    if isinstance(exc, RequestTimeout):
        return httpx.ReadTimeout(message, request=request)
    if isinstance(exc, CommandTimeout):
        return httpx.ConnectTimeout(message, request=request)
    if isinstance(exc, LinkClosedError | ProtocolError):
        return httpx.RemoteProtocolError(message, request=request)
    if isinstance(exc, PortClosedError | CommandError):
        return httpx.ConnectError(message, request=request)
    return httpx.TransportError(message, request=request)
