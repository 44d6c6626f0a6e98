"""The :class:`Response` handed to callers: status, headers, and a streamed body."""

from __future__ import annotations

import asyncio
import codecs
import datetime
import json as jsonlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ..errors import HTTPStatusError
from .encoding import ContentDecoder, DecompressionLimits, Step, make_decoder
from .headers import Headers
from .url import URL

__all__ = ["Response"]


class Response:
    """An HTTP response received through the modem.

    The body streams: iterate :meth:`aiter_bytes` once, or :meth:`aread` it whole (then
    :attr:`content`, :attr:`text` and :meth:`json` work). A ``Content-Encoding`` (gzip,
    deflate, br, zstd) is undone as the body arrives, within :attr:`decompression`;
    :meth:`aiter_raw` gives the bytes as they came over the wire instead.
    """

    def __init__(
        self,
        *,
        status_code: int,
        reason: str,
        http_version: str,
        headers: Headers,
        url: str,
        method: str,
        body: Callable[[], AsyncIterator[bytes]],
        closer: Callable[[], Awaitable[None]],
        started: float | None = None,
        decompression: DecompressionLimits | None = None,
    ) -> None:
        self.status_code = status_code
        self.reason = reason
        self.http_version = http_version
        self.headers = headers
        self.url = URL(url)
        self.method = method
        self.num_bytes_downloaded = 0
        self.history: list[Response] = []
        """The redirect responses followed to reach this one, oldest first."""
        self.attempts = 1
        """How many times the request was sent to get this response (more than 1 when it was
        sent again after a recovery; see :class:`~n58aio.RetryPolicy`)."""
        self._started = time.monotonic() if started is None else started
        self._elapsed: float | None = None
        self._body = body
        self._closer = closer
        self._content: bytes | None = None
        self._consumed = False
        self.decompression = decompression or DecompressionLimits()
        """Size and ratio limits of the decoded body (set before reading it)."""

    def __repr__(self) -> str:
        return f"<Response [{self.status_code} {self.reason}]>"

    @property
    def reason_phrase(self) -> str:
        """The reason of the status line (``OK``), as ``httpx.Response.reason_phrase``."""
        return self.reason

    @property
    def elapsed(self) -> datetime.timedelta:
        """Time from sending the request to the end of the body (or closing the response);
        like httpx, available once the response has been read or closed."""
        if self._elapsed is None:
            raise RuntimeError(
                "'.elapsed' may only be accessed after the response has been read or closed"
            )
        return datetime.timedelta(seconds=self._elapsed)

    @property
    def has_redirect_location(self) -> bool:
        """True for a 301, 302, 303, 307 or 308 with a ``Location`` header."""
        return self.status_code in (301, 302, 303, 307, 308) and "location" in self.headers

    def _mark_finished(self) -> None:
        if self._elapsed is None:
            self._elapsed = time.monotonic() - self._started

    @property
    def is_success(self) -> bool:
        """True for 2xx."""
        return 200 <= self.status_code < 300

    @property
    def is_error(self) -> bool:
        """True for 4xx and 5xx."""
        return self.status_code >= 400

    def raise_for_status(self) -> Response:
        """Raise :class:`~n58aio.errors.HTTPStatusError` for 4xx/5xx; return self otherwise."""
        if self.is_error:
            raise HTTPStatusError(self.status_code, self.reason, self.url)
        return self

    async def aiter_raw(self) -> AsyncIterator[bytes]:
        """Yield the body as it came over the wire, content coding left in place (once)."""
        if self._consumed:
            raise RuntimeError("the response body was already streamed")
        self._consumed = True
        async for chunk in self._body():
            self.num_bytes_downloaded += len(chunk)
            yield chunk
        self._mark_finished()

    async def aiter_bytes(self) -> AsyncIterator[bytes]:
        """Yield the body as it arrives, its ``Content-Encoding`` undone (once).

        Raises :class:`~n58aio.errors.DecodingError` for data that does not decode and
        :class:`~n58aio.errors.DecompressionLimitError` past :attr:`decompression`.
        """
        if self._content is not None:
            if self._content:
                yield self._content
            return
        decoder = make_decoder(self.headers.get("content-encoding"), self.decompression)
        if decoder is None:  # the usual case: no generator in between (a hop per chunk)
            if self._consumed:
                raise RuntimeError("the response body was already streamed")
            self._consumed = True
            async for chunk in self._body():
                self.num_bytes_downloaded += len(chunk)
                yield chunk
            self._mark_finished()
            return
        async for chunk in self.aiter_raw():
            decoder.feed(chunk)
            async for piece in _decoded(decoder):
                yield piece
        decoder.feed_eof()
        async for piece in _decoded(decoder):
            yield piece

    async def aiter_text(self) -> AsyncIterator[str]:
        """Yield the body decoded with :attr:`encoding` as it arrives (once); a character
        split across chunks comes whole."""
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="replace")
        async for chunk in self.aiter_bytes():
            text = decoder.decode(chunk)
            if text:
                yield text
        tail = decoder.decode(b"", final=True)
        if tail:
            yield tail

    async def aiter_lines(self) -> AsyncIterator[str]:
        """Yield the body's text line by line as it arrives, without line endings
        (``\\n``, ``\\r\\n`` or ``\\r``), as ``httpx.Response.aiter_lines``."""
        pending = ""
        async for text in self.aiter_text():
            pending += text
            lines = pending.splitlines(keepends=True)
            # a final line without its ending (or ending in a \r that a \n may follow) waits
            pending = ""
            if lines and (not lines[-1].endswith(("\n", "\r")) or lines[-1].endswith("\r")):
                pending = lines.pop()
            for line in lines:
                yield line.splitlines()[0]
        for line in pending.splitlines():
            yield line

    async def aread(self) -> bytes:
        """Read the whole body and return it."""
        if self._content is None:
            parts = [chunk async for chunk in self.aiter_bytes()]
            self._content = b"".join(parts)
        return self._content

    @property
    def content(self) -> bytes:
        """The body, after :meth:`aread`."""
        if self._content is None:
            raise RuntimeError("call await response.aread() first")
        return self._content

    @property
    def encoding(self) -> str:
        """The charset of Content-Type when Python knows it as a text encoding, else utf-8
        (as httpx falls back to its default encoding)."""
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.strip().lower() == "charset" and value.strip().strip('"'):
                charset = value.strip().strip('"')
                return charset if _is_text_encoding(charset) else "utf-8"
        return "utf-8"

    @property
    def text(self) -> str:
        """The body decoded with :attr:`encoding`."""
        return self.content.decode(self.encoding, "replace")

    def json(self) -> Any:
        """The body parsed as JSON."""
        return jsonlib.loads(self.content)

    async def aclose(self) -> None:
        """Stop receiving; the link is closed or left reusable."""
        self._mark_finished()
        await self._closer()


async def _decoded(decoder: ContentDecoder) -> AsyncIterator[bytes]:
    """The pieces of what ``decoder`` was fed; the loop runs between two steps (each bounded),
    so a body that makes much work never holds it."""
    while True:
        got = decoder.next_piece()
        if got is Step.NEED_DATA or got is Step.DONE:
            return
        if got is not Step.PAUSE:
            yield got
        await asyncio.sleep(0)


def _is_text_encoding(name: str) -> bool:
    """True when ``name`` is a codec that decodes bytes to text (not ``base64``, ``rot13``...)."""
    try:
        info = codecs.lookup(name)
    except LookupError:
        return False
    return bool(getattr(info, "_is_text_encoding", True))
