"""The h11 response decoder in receive mode 0: the close report decides, never a wrong byte."""

from __future__ import annotations

import h11
import pytest

from n58aio import LinkClosedError
from n58aio.http.decoder import END, HttpResponseDecoder, ResponseItem


def _decoder(*, until_close: bool) -> HttpResponseDecoder:
    connection = h11.Connection(h11.CLIENT)
    connection.send(
        h11.Request(method="GET", target="/", headers=[("Host", "h"), ("Connection", "close")])
    )
    connection.send(h11.EndOfMessage())
    return HttpResponseDecoder(connection, raw=True, until_close=until_close)


HEAD = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n"


def _body(items: list[ResponseItem]) -> bytes:
    return b"".join(item for item in items if isinstance(item, bytes))


def test_report_start_counted_as_body_fails_instead_of_ending_wrong() -> None:
    decoder = _decoder(until_close=True)
    items, done = decoder.feed(HEAD + b"0123456\r\n+")  # 3 report bytes complete the length
    assert done is None
    assert END not in items
    with pytest.raises(LinkClosedError):
        decoder.link_closed(retract=3)


def test_body_ending_in_crlf_completes_on_the_close_report() -> None:
    decoder = _decoder(until_close=True)
    items, done = decoder.feed(HEAD + b"01234567\r\n")
    assert done is None
    more, done = decoder.feed(b"\r\n+HTT")  # start of the report, after the message
    assert done is None and more == []
    items += decoder.link_closed(retract=6)
    assert items[-1] is END
    assert _body(items) == b"01234567\r\n"


def test_without_until_close_the_framing_ends_the_message_at_once() -> None:
    decoder = _decoder(until_close=False)
    items, leftover = decoder.feed(HEAD + b"0123456789\r\n+HTTPCLOSED:")
    assert leftover == len(b"\r\n+HTTPCLOSED:")
    assert items[-1] is END
    assert _body(items) == b"0123456789"
