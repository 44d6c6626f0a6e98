"""The response decoder says what h11 alone says, for any response and any split of its bytes.

The decoder counts a ``Content-Length`` body itself once h11 has started it (the download hot
path); this states the invariant that shortcut must keep: same body bytes, same end of the
message, same count of bytes after it, same keep-alive verdict, same refusal of a malformed
response, whatever the framing and however the bytes come in deliveries (receive mode 1).
"""

from __future__ import annotations

from dataclasses import dataclass

import h11
from hypothesis import given, settings
from hypothesis import strategies as st

from n58aio import ProtocolError
from n58aio.http.decoder import END, HttpResponseDecoder


@dataclass
class Verdict:
    body: bytes
    leftover: int | None  # bytes after the message, None while it has not ended
    reusable: bool
    malformed: bool


def _connection(method: str, keepalive: bool) -> h11.Connection:
    connection = h11.Connection(h11.CLIENT)
    headers = [("Host", "origin.test")] + ([] if keepalive else [("Connection", "close")])
    connection.send(h11.Request(method=method, target="/x", headers=headers))
    connection.send(h11.EndOfMessage())
    return connection


def _h11_alone(method: str, keepalive: bool, data: bytes) -> Verdict:
    """What plain h11 makes of all of ``data`` at once."""
    connection = _connection(method, keepalive)
    body = b""
    try:
        connection.receive_data(data)
        while True:
            event = connection.next_event()
            if isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                reusable = connection.our_state is h11.DONE and connection.their_state is h11.DONE
                return Verdict(body, len(connection.trailing_data[0]), reusable, False)
            elif event is h11.NEED_DATA or event is h11.PAUSED:
                return Verdict(body, None, False, False)
    except h11.RemoteProtocolError:
        return Verdict(b"", None, False, True)


def _decoded(method: str, keepalive: bool, pieces: list[bytes]) -> Verdict:
    """What the decoder makes of ``pieces`` fed one by one, as the stream feeds deliveries."""
    decoder = HttpResponseDecoder(_connection(method, keepalive), raw=False)
    body = b""
    fed = 0
    try:
        for piece in pieces:
            items, leftover = decoder.feed(piece)
            fed += len(piece)
            body += b"".join(item for item in items if isinstance(item, bytes))
            assert items.count(END) == (0 if leftover is None else 1)
            if leftover is not None:
                # the stream stops here: the rest of the bytes went back to the AT parser
                return Verdict(
                    body, leftover + (sum(map(len, pieces)) - fed), decoder.reusable, False
                )
    except ProtocolError:
        return Verdict(b"", None, False, True)
    return Verdict(body, None, False, False)


_BODY = st.binary(max_size=3000) | st.sampled_from(
    [b"", b"\r\n+HTTPRECV: 9,", b"HTTP/1.1 200 OK\r\n\r\n", b"0\r\n\r\n" * 40]
)


@st.composite
def responses(draw: st.DrawFn) -> tuple[str, bool, bytes]:
    method = draw(st.sampled_from(["GET", "GET", "HEAD"]))
    keepalive = draw(st.booleans())
    version = draw(st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"]))
    status = draw(st.sampled_from([200, 200, 206, 204, 304, 404]))
    body = draw(_BODY)
    framing = draw(st.sampled_from(["length", "length", "chunked", "none", "short", "bad"]))
    headers = [b"Server: x"]
    if draw(st.booleans()):
        headers.append(b"Connection: " + draw(st.sampled_from([b"close", b"keep-alive"])))
    if framing == "length":
        headers.append(b"Content-Length: %d" % len(body))
        payload = body
    elif framing == "short":  # fewer bytes than announced: the message never ends
        headers.append(b"Content-Length: %d" % (len(body) + draw(st.integers(1, 500))))
        payload = body
    elif framing == "bad":  # two lengths that disagree: h11 refuses the head
        headers += [b"Content-Length: %d" % len(body), b"Content-Length: %d" % (len(body) + 1)]
        payload = body
    elif framing == "chunked":
        headers.append(b"Transfer-Encoding: chunked")
        cuts = sorted(draw(st.lists(st.integers(0, len(body)), max_size=4)))
        parts = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
        payload = b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in parts if p) + b"0\r\n\r\n"
    else:  # no framing: the body runs until the server closes
        payload = body
    head = b"%s %d X\r\n%s\r\n\r\n" % (version, status, b"\r\n".join(headers))
    after = draw(st.sampled_from([b"", b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n", b"HTTP/1.1 200"]))
    return method, keepalive, head + payload + after


@settings(max_examples=300, deadline=None)
@given(response=responses(), data=st.data())
def test_decoder_agrees_with_h11_for_any_split(
    response: tuple[str, bool, bytes], data: st.DataObject
) -> None:
    method, keepalive, raw = response
    cuts = sorted(set(data.draw(st.lists(st.integers(1, max(1, len(raw) - 1)), max_size=12))))
    pieces = [raw[a:b] for a, b in zip([0, *cuts], [*cuts, len(raw)], strict=True) if raw[a:b]]
    assert _decoded(method, keepalive, pieces) == _h11_alone(method, keepalive, raw)
