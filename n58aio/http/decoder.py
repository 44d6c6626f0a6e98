"""Parsing the response with h11 inside the reader, in both receive modes.

The decoder is the :class:`~n58aio.channel.streams.Decoder` of an HTTP payload stream. It
feeds the bytes to the ``h11.Connection`` that was primed with the request and turns h11's
events into stream items: the response head, body bytes, and :data:`END`. Because it runs in
the reader it knows exactly where a response ends, which is how receive mode 0 (no lengths on
the wire) hands the bytes after the response back to the AT parser.

A body framed by ``Content-Length`` is counted here once h11 has started it: the bytes of each
delivery that are surely body pass on as they came, without h11's buffer and its copies (the
hot path of a download); h11 parses the head, the first body bytes, and every other framing.
"""

from __future__ import annotations

from typing import Final

import h11

from ..channel.streams import link_closed_prefix
from ..errors import LinkClosedError, ProtocolError

__all__ = ["END", "EndOfBody", "HttpResponseDecoder", "ResponseItem"]


class EndOfBody:
    """Marks the end of a response body in the stream."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "END"


END: Final = EndOfBody()

ResponseItem = h11.Response | bytes | EndOfBody


class HttpResponseDecoder:
    """h11 response parser driven by payload bytes; ``raw`` selects receive mode 0 handling.

    In receive mode 0 body bytes at the end of a read that could be the start of a link-closed
    report are held back until more arrive or the message ends, because the report may
    retract them (they were the start of the report, not body). With ``until_close`` (a link
    that will close) the end of the message is confirmed only by the link-closed report: in
    receive mode 0, if the report retracts bytes h11 counted as body, the body was short and
    the response fails instead of ending with wrong bytes; in receive mode 1, a chunk whose
    length a lost byte shifted onto the next frame may complete the body with wrong bytes, and
    the next frame's rest, read as lines before the report, fails the response first.
    """

    def __init__(self, connection: h11.Connection, *, raw: bool, until_close: bool = False) -> None:
        self.connection = connection
        self.raw = raw
        self.until_close = until_close
        self.head: h11.Response | None = None
        self.complete = False
        self._held = b""
        self._awaiting_close: list[ResponseItem] | None = None
        self._trailing = 0
        self._content_length: int | None = None  # of the response head, when it frames the body
        self._body_seen = 0  # body bytes h11 handed out
        self._body_left: int | None = None  # body bytes still to come, once counted here
        self._counted = False  # the body was (partly) counted here, not by h11

    @property
    def awaiting_close(self) -> bool:
        """The message ended by its framing; the link-closed report is to confirm it."""
        return self._awaiting_close is not None

    @property
    def reusable(self) -> bool:
        """True when the response ended and both sides keep the connection open."""
        if not self.complete:
            return False
        connection = self.connection
        if self._counted:
            # h11 saw the head and kept its keep-alive verdict there, but not the body's end:
            # our side is DONE exactly when both sides keep the connection
            return connection.our_state is h11.DONE
        return connection.our_state is h11.DONE and connection.their_state is h11.DONE

    def feed(self, data: bytes) -> tuple[list[ResponseItem], int | None]:
        """Parse ``data``; return items, and the count of bytes past the response once done."""
        if self._awaiting_close is not None:
            self._trailing += len(data)  # after the message: only the close report may follow
            return [], None
        left = self._body_left
        if left is not None:
            return self._counted_body(data, left)
        connection = self.connection
        try:
            connection.receive_data(data)
            return self._drain()
        except h11.RemoteProtocolError as exc:
            raise ProtocolError(f"malformed HTTP response: {exc}") from exc

    def _counted_body(self, data: bytes, left: int) -> tuple[list[ResponseItem], int | None]:
        items: list[ResponseItem] = []
        size = len(data)
        if size < left:
            self._body_left = left - size
            self._body(items, data)
            return items, None
        self._body_left = None
        self._body(items, data[:left] if size > left else data)
        return self._end(items, size - left)

    def _drain(self) -> tuple[list[ResponseItem], int | None]:
        items: list[ResponseItem] = []
        connection = self.connection
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                return items, None
            if isinstance(event, h11.Response):
                self.head = event
                self._content_length = _content_length(event)
                items.append(event)
            elif isinstance(event, h11.Data):
                data = bytes(event.data)
                self._body(items, data)
                if self._content_length is not None:
                    # h11 reads this body by its Content-Length: it took every byte it held
                    # unless the body is complete, so the rest is counted here
                    self._body_seen += len(data)
                    left = self._content_length - self._body_seen
                    if left > 0:
                        self._body_left = left
                        self._counted = True
                        return items, None
            elif isinstance(event, h11.EndOfMessage):
                return self._end(items, len(connection.trailing_data[0]))
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return items, None
            # InformationalResponse (100 Continue) is skipped.

    def _end(
        self, items: list[ResponseItem], trailing: int
    ) -> tuple[list[ResponseItem], int | None]:
        """The message ended, ``trailing`` bytes of the last delivery after it."""
        if self.until_close:
            self._awaiting_close = [self._held, END] if self._held else [END]
            self._held = b""
            self._trailing = trailing
            return items, None
        if self._held:
            items.append(self._held)
            self._held = b""
        items.append(END)
        self.complete = True
        return items, trailing

    def _body(self, items: list[ResponseItem], data: bytes) -> None:
        if not self.raw:
            items.append(data)
            return
        # Only an end that could start the report is held: usually nothing, and the bytes
        # pass on without a copy.
        joined = self._held + data if self._held else data
        hold = link_closed_prefix(joined)
        if hold:
            if len(joined) > hold:
                items.append(joined[:-hold])
            self._held = joined[-hold:]
        else:
            items.append(joined)
            self._held = b""

    def link_closed(self, retract: int) -> list[ResponseItem]:
        """The link closed: end a close-delimited body, or fail a truncated response."""
        if self.complete:
            return []
        if self._awaiting_close is not None:
            if retract > self._trailing:
                raise LinkClosedError("link closed before the response was complete")
            held, self._awaiting_close = self._awaiting_close, None
            self.complete = True
            return held
        if retract:
            self._held = self._held[:-retract] if retract < len(self._held) else b""
        left, length = self._body_left, self._content_length
        if left is not None and length is not None:
            raise LinkClosedError(
                "link closed before the response was complete:"
                f" {max(0, length - left - retract)} of {length} body bytes"
            )
        items: list[ResponseItem] = []
        try:
            self.connection.receive_data(b"")
            more, _ = self._drain()
        except h11.RemoteProtocolError as exc:
            raise LinkClosedError(f"link closed before the response was complete: {exc}") from exc
        items.extend(more)
        if self._awaiting_close is not None:
            # a close-delimited body: h11 ended it just now, and the close report confirms it
            items.extend(self._awaiting_close)
            self._awaiting_close = None
            self.complete = True
        if not self.complete:
            if self.head is None:
                raise LinkClosedError("link closed before any response arrived")
            raise LinkClosedError("link closed before the response was complete")
        return items

    def item_size(self, item: ResponseItem) -> int:
        """Body bytes count toward the stream's buffer bound."""
        return len(item) if isinstance(item, bytes) else 0


def _content_length(head: h11.Response) -> int | None:
    """The body length that h11 reads a body by: ``Content-Length`` without
    ``Transfer-Encoding`` (h11 has merged equal duplicates and refused any other)."""
    length: int | None = None
    for name, value in head.headers:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            length = int(value)
    return length
