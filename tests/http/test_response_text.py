"""``Response.text`` with the charset a server declares: known text codecs are used, anything
else (unknown names, codecs that are not text encodings) falls back to utf-8, as httpx does."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from conftest import ModemFactory

from n58aio import Headers, Response

BODY = "Grüße, €".encode()


async def _body() -> AsyncIterator[bytes]:
    yield BODY


def response(content_type: str | None) -> Response:
    headers = Headers([("Content-Type", content_type)] if content_type else [])
    return Response(
        status_code=200,
        reason="OK",
        http_version="HTTP/1.1",
        headers=headers,
        url="http://origin.test/",
        method="GET",
        body=_body,
        closer=_noop,
    )


async def _noop() -> None:
    return None


@pytest.mark.parametrize(
    ("content_type", "encoding", "text"),
    [
        (None, "utf-8", "Grüße, €"),
        ("text/plain", "utf-8", "Grüße, €"),
        ("text/plain; charset=utf-8", "utf-8", "Grüße, €"),
        ('text/plain; charset="UTF-8"', "UTF-8", "Grüße, €"),
        ("text/plain; charset=latin-1", "latin-1", BODY.decode("latin-1")),
        ("text/plain;charset = iso-8859-1", "iso-8859-1", BODY.decode("latin-1")),
        ("text/plain; charset=x-no-such-charset", "utf-8", "Grüße, €"),
        ("text/plain; charset=base64", "utf-8", "Grüße, €"),  # a codec, not a text encoding
        ("text/plain; charset=rot13", "utf-8", "Grüße, €"),
        ("text/plain; charset=", "utf-8", "Grüße, €"),
        ('text/plain; charset=""', "utf-8", "Grüße, €"),
    ],
)
async def test_text_falls_back_to_utf8(content_type: str | None, encoding: str, text: str) -> None:
    answer = response(content_type)
    await answer.aread()
    assert answer.encoding == encoding
    assert answer.text == text


async def test_text_of_a_server_with_an_unknown_charset(make_modem: ModemFactory) -> None:
    """Through the emulator: a server declaring ``charset=klingon``."""
    head = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=klingon\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % len(BODY)
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError, asyncio.IncompleteReadError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(head + BODY)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        _, modem = await make_modem()
        answer = await modem.get(f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/")
        assert answer.content == BODY
        assert answer.encoding == "utf-8"
        assert answer.text == "Grüße, €"
    finally:
        server.close()
        await server.wait_closed()
