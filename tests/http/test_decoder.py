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


def _keepalive_decoder(*, keepalive: bool = True, method: str = "GET") -> HttpResponseDecoder:
    connection = h11.Connection(h11.CLIENT)
    headers = [("Host", "h")] + ([] if keepalive else [("Connection", "close")])
    connection.send(h11.Request(method=method, target="/", headers=headers))
    connection.send(h11.EndOfMessage())
    return HttpResponseDecoder(connection, raw=False)


def _feed_all(decoder: HttpResponseDecoder, pieces: list[bytes]) -> tuple[bytes, int | None]:
    items: list[ResponseItem] = []
    leftover: int | None = None
    for index, piece in enumerate(pieces):
        more, leftover = decoder.feed(piece)
        items += more
        if leftover is not None:
            assert index == len(pieces) - 1, "the message ended before its last byte"
    assert items.count(END) == (1 if leftover is not None else 0)
    assert all(isinstance(item, bytes) and item for item in items[1:-1])
    return _body(items), leftover


BODY = bytes(range(256)) * 4 + b"\r\n+HTTPRECV: 9,"  # framing-like bytes inside the body too
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY
AFTER = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"


@pytest.mark.parametrize(
    "first", [10, len(RESPONSE) - len(BODY), len(RESPONSE) - len(BODY) + 1, 300]
)
@pytest.mark.parametrize("step", [1, 7, 500, 5000])
def test_content_length_body_in_any_split(first: int, step: int) -> None:
    data = RESPONSE + AFTER
    pieces = [data[:first]] + [data[i : i + step] for i in range(first, len(data), step)]
    # the pieces after the message's end are not fed: the stream stops at the leftover
    fed: list[bytes] = []
    total = 0
    for piece in pieces:
        fed.append(piece)
        total += len(piece)
        if total >= len(RESPONSE):
            break
    decoder = _keepalive_decoder()
    body, leftover = _feed_all(decoder, fed)
    assert body == BODY
    assert leftover == total - len(RESPONSE)
    assert decoder.complete and decoder.reusable


def test_counted_body_is_not_reusable_when_either_side_closes() -> None:
    for keepalive, response in (
        (False, RESPONSE),
        (True, RESPONSE.replace(b"200 OK\r\n", b"200 OK\r\nConnection: close\r\n")),
        (True, RESPONSE.replace(b"HTTP/1.1", b"HTTP/1.0")),
    ):
        decoder = _keepalive_decoder(keepalive=keepalive)
        body, leftover = _feed_all(decoder, [response[:80], response[80:500], response[500:]])
        assert (body, leftover) == (BODY, 0)
        assert decoder.complete and not decoder.reusable


def test_chunked_body_with_a_length_header_too_is_read_by_h11() -> None:
    response = (
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    )
    for step in (1, 3, len(response)):
        decoder = _keepalive_decoder()
        pieces = [response[i : i + step] for i in range(0, len(response), step)]
        assert _feed_all(decoder, pieces) == (b"hello world", 0)
        assert decoder.reusable


def test_head_response_with_a_length_has_no_body() -> None:
    decoder = _keepalive_decoder(method="HEAD")
    items, leftover = decoder.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")
    assert leftover == 0 and items[-1] is END and _body(items) == b""


def test_link_closed_amid_a_counted_body_fails() -> None:
    decoder = _keepalive_decoder()
    decoder.feed(RESPONSE[:100])
    decoder.feed(RESPONSE[100:600])
    came = 600 - (len(RESPONSE) - len(BODY))
    with pytest.raises(LinkClosedError, match=f"complete: {came} of {len(BODY)} body bytes"):
        decoder.link_closed(retract=0)


def test_link_closed_amid_a_counted_raw_body_leaves_out_the_retracted_bytes() -> None:
    decoder = _decoder(until_close=True)
    decoder.feed(HEAD + b"0")
    decoder.feed(b"12\r\n+HT")  # 1 + 7 of 10 bytes; the last 5 are the close report's start
    with pytest.raises(LinkClosedError, match="complete: 3 of 10 body bytes"):
        decoder.link_closed(retract=5)


def test_report_start_counted_as_body_fails_in_later_deliveries() -> None:
    decoder = _decoder(until_close=True)
    items, done = decoder.feed(HEAD + b"01")  # h11 starts the body, the rest is counted
    more, done = decoder.feed(b"23456\r\n+")  # 3 report bytes complete the length
    assert done is None and END not in items + more
    with pytest.raises(LinkClosedError, match="before the response was complete"):
        decoder.link_closed(retract=3)


def test_counted_body_ending_in_crlf_completes_on_the_close_report() -> None:
    decoder = _decoder(until_close=True)
    items, _ = decoder.feed(HEAD + b"0")
    for piece in (b"1234", b"567\r", b"\n"):
        more, done = decoder.feed(piece)
        assert done is None
        items += more
    more, done = decoder.feed(b"\r\n+HTT")
    assert done is None and more == []
    items += decoder.link_closed(retract=6)
    assert items[-1] is END
    assert _body(items) == b"01234567\r\n"
