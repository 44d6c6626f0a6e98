"""Events produced by the sans-IO AT parser (:class:`n58aio.wire.AtParser`).

Every event is an immutable value; the parser emits the same sequence of events for the same
bytes however they are split across :meth:`~n58aio.wire.AtParser.receive_data` calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "NEED_DATA",
    "Echo",
    "Event",
    "FinalResult",
    "InfoLine",
    "NeedData",
    "Payload",
    "Prompt",
    "RawData",
    "RawEnd",
    "RawStart",
    "Source",
    "Stray",
    "Urc",
    "WireError",
]

Source = Literal["HTTP", "HTTPS"]
"""Which command family a payload belongs to: ``+HTTPRECV`` or ``+HTTPSRECV``."""


@dataclass(frozen=True, slots=True)
class Echo:
    """The modem echoed the command line in flight (echo is on by default on the N58)."""

    line: str


@dataclass(frozen=True, slots=True)
class InfoLine:
    """An information line that belongs to the reply of the command in flight."""

    text: str


@dataclass(frozen=True, slots=True)
class FinalResult:
    """A final result: ``OK``, ``ERROR``, ``+CME ERROR: <n>`` or a failure reply.

    ``ok`` is True only for ``OK``. ``code`` is the numeric CME/CMS code when there is one.
    ``solicited`` is False when it answers nothing: no command was in flight, or (echo on) the
    command's echo had not come yet, so it is a late or duplicate reply of an earlier command.
    """

    ok: bool
    text: str
    code: int | None = None
    solicited: bool = True


@dataclass(frozen=True, slots=True)
class Prompt:
    """The data prompt ``<CR><LF>>``: the modem waits for the command's data bytes."""


@dataclass(frozen=True, slots=True)
class Urc:
    """An unsolicited result code (report) line, such as ``+HTTPCLOSED: HTTP Link Closed``."""

    line: str


@dataclass(frozen=True, slots=True)
class Stray:
    """A line that is neither a report nor part of the reply in flight: with echo on, text
    that came before the command's echo (a late reply of an earlier command), or text while no
    command is in flight. It answers nothing."""

    line: str


@dataclass(frozen=True, slots=True)
class Payload:
    """One length-prefixed chunk ``+HTTPRECV: <len>,<data>`` (receive mode 1), data exact."""

    source: Source
    data: bytes


@dataclass(frozen=True, slots=True)
class RawStart:
    """A bare ``+HTTPRECV:`` line (receive mode 0): raw response bytes follow."""

    source: Source


@dataclass(frozen=True, slots=True)
class RawData:
    """Raw response bytes in receive mode 0.

    The consumer must call :meth:`~n58aio.wire.AtParser.end_raw` as soon as it knows the
    response is complete, handing back the bytes of this event that were not part of it.
    """

    source: Source
    data: bytes


@dataclass(frozen=True, slots=True)
class RawEnd:
    """Receive mode 0 ended because the link-closed report arrived (or ``+PBREADY``: the
    module restarted, and the link with it).

    ``line`` is the report (for example ``+HTTPCLOSED: HTTP Link Closed``). ``retract`` counts
    trailing bytes of earlier :class:`RawData` events that turned out to be the start of that
    report rather than payload; the consumer must drop them.
    """

    source: Source
    line: str
    retract: int = 0


@dataclass(frozen=True, slots=True)
class WireError:
    """Malformed input; the parser skipped it and resynchronised at the next line."""

    reason: str
    data: bytes = b""


@dataclass(frozen=True, slots=True)
class NeedData:
    """Sentinel type of :data:`NEED_DATA`."""


NEED_DATA = NeedData()
"""Returned by :meth:`~n58aio.wire.AtParser.next_event` when more bytes are needed."""

Event = (
    Echo
    | InfoLine
    | FinalResult
    | Prompt
    | Urc
    | Stray
    | Payload
    | RawStart
    | RawData
    | RawEnd
    | WireError
)
