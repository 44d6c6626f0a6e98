"""Parsing the response with h11 inside the reader, in both receive modes.

The decoder is the :class:`~n58aio.channel.streams.Decoder` of an HTTP payload stream. It
feeds the bytes to the ``h11.Connection`` that was primed with the request and turns h11's
events into stream items: the response head, body bytes, and :data:`END`. Because it runs in
the reader it knows exactly where a response ends, which is how receive mode 0 (no lengths on
the wire) hands the bytes after the response back to the AT parser.
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
    retract them (they were the start of the report, not body). With ``until_close`` (receive
    mode 0 on a link that will close) the end of the message is confirmed only by the
    link-closed report: if the report retracts bytes h11 counted as body, the body was short
    and the response fails instead of ending with wrong bytes.
    """

    def __init__(self, connection: h11.Connection, *, raw: bool, until_close: bool = False) -> None:
        self.connection = connection
        self.raw = raw
        self.until_close = raw and until_close
        self.head: h11.Response | None = None
        self.complete = False
        self._held = b""
        self._awaiting_close: list[ResponseItem] | None = None
        self._trailing = 0

    @property
    def reusable(self) -> bool:
        """True when the response ended and both sides keep the connection open."""
        return (
            self.complete
            and self.connection.our_state is h11.DONE
            and self.connection.their_state is h11.DONE
        )

    def feed(self, data: bytes) -> tuple[list[ResponseItem], int | None]:
        """Parse ``data``; return items, and the count of bytes past the response once done."""
        if self._awaiting_close is not None:
            self._trailing += len(data)  # after the message: only the close report may follow
            return [], None
        connection = self.connection
        try:
            connection.receive_data(data)
            return self._drain()
        except h11.RemoteProtocolError as exc:
            raise ProtocolError(f"malformed HTTP response: {exc}") from exc

    def _drain(self) -> tuple[list[ResponseItem], int | None]:
        items: list[ResponseItem] = []
        connection = self.connection
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                return items, None
            if isinstance(event, h11.Response):
                self.head = event
                items.append(event)
            elif isinstance(event, h11.Data):
                self._body(items, bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                trailing = len(connection.trailing_data[0])
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
            elif isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return items, None
            # InformationalResponse (100 Continue) is skipped.

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
