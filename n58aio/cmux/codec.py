"""Sans-IO codec of 3GPP TS 27.010 basic-mode frames: bytes in, frames out; frames in, bytes out.

A basic-mode frame is ``F9 | address | control | length (1 or 2 octets) | information | FCS |
F9``. There is no transparency in basic mode: the information field may hold ``F9`` itself, so
the decoder trusts a frame only when its length, its FCS and its closing flag agree; anything else
is a :class:`FrameError` and the decoder hunts for the next flag. The bytes of one frame may arrive
in any number of reads and several frames in one read: the same bytes give the same events however
they are split (framing is by content only). Memory is bounded: at most one frame of ``n1`` bytes
of information plus its header is ever buffered; garbage between frames is dropped as it is seen.

The FCS is the 27.010 CRC-8 (the reflected polynomial ``x^8 + x^2 + x + 1``, initial value
``0xFF``, sent complemented): over address, control and length for UIH frames, over the
information field too for every other frame type.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

__all__ = [
    "FLAG",
    "MAX_N1",
    "NEED_DATA",
    "DecoderEvent",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "FrameType",
    "NeedData",
    "encode_frame",
    "encode_uih",
    "fcs",
]

FLAG: Final = 0xF9
EA: Final = 0x01
CR: Final = 0x02
PF: Final = 0x10
MAX_N1: Final = 32767  # a two-octet length field holds 15 bits
# Six address bits give 0-63, but DLCI 62 with C/R 0 is the address octet 0xF9, the flag itself,
# which basic mode (no transparency) cannot tell from idle fill: 62 and 63 are not used.
MAX_DLCI: Final = 61
_GOOD_FCS: Final = 0xCF  # the CRC over the checked fields and a correct FCS


def _crc_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xE0 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE: Final = _crc_table()


def _crc(data: bytes | bytearray | memoryview, crc: int = 0xFF) -> int:
    for byte in data:
        crc = _TABLE[crc ^ byte]
    return crc


def fcs(data: bytes | bytearray | memoryview) -> int:
    """The FCS octet sent after ``data`` (the fields it covers): ``0xFF`` minus the CRC."""
    return 0xFF - _crc(data)


class FrameType(enum.IntEnum):
    """The control field of a frame without its P/F bit."""

    SABM = 0x2F  # set asynchronous balanced mode: open a DLC
    UA = 0x63  # unnumbered acknowledgement
    DM = 0x0F  # disconnected mode: the DLC is not open (or refused)
    DISC = 0x43  # disconnect: close a DLC
    UIH = 0xEF  # unnumbered information, FCS over the header only
    UI = 0x03  # unnumbered information, FCS over the information too


@dataclass(frozen=True, slots=True)
class Frame:
    """One frame. ``cr`` is the address field's C/R bit, ``pf`` the control field's P/F bit."""

    dlci: int
    type: FrameType
    info: bytes = b""
    cr: bool = True
    pf: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.dlci <= MAX_DLCI:
            raise ValueError(f"DLCI out of range: {self.dlci}")
        if len(self.info) > MAX_N1:
            raise ValueError(f"information field too long: {len(self.info)}")


@dataclass(frozen=True, slots=True)
class FrameError:
    """Input skipped: the reason, how many bytes were dropped and the first of them (at most
    64: enough to tell AT text from line noise)."""

    reason: str
    dropped: int
    sample: bytes = b""
    dlci: int | None = None  # the DLCI its (unverified) header named, if it had one


class NeedData:
    """Sentinel type of :data:`NEED_DATA`."""

    def __repr__(self) -> str:
        return "NEED_DATA"


NEED_DATA: Final = NeedData()

DecoderEvent = Frame | FrameError


def _header(frame: Frame) -> bytes:
    size = len(frame.info)
    address = (frame.dlci << 2) | (CR if frame.cr else 0) | EA
    control = int(frame.type) | (PF if frame.pf else 0)
    if size <= 0x7F:
        return bytes((address, control, (size << 1) | EA))
    return bytes((address, control, (size << 1) & 0xFE, size >> 7))


def encode_frame(frame: Frame) -> bytes:
    """``frame`` as bytes, both flags included."""
    header = _header(frame)
    covered = header if frame.type == FrameType.UIH else header + frame.info
    return b"%c%s%s%c%c" % (FLAG, header, frame.info, fcs(covered), FLAG)


def encode_uih(dlci: int, data: bytes, n1: int, cr: bool = True) -> bytes:
    """``data`` as UIH frames on ``dlci`` of at most ``n1`` information bytes each."""
    if not 1 <= n1 <= MAX_N1:
        raise ValueError(f"N1 out of range: {n1}")
    address = (dlci << 2) | (CR if cr else 0) | EA
    parts = []
    for pos in range(0, len(data), n1):
        chunk = data[pos : pos + n1]
        size = len(chunk)
        if size <= 0x7F:
            header = bytes((address, FrameType.UIH, (size << 1) | EA))
        else:
            header = bytes((address, FrameType.UIH, (size << 1) & 0xFE, size >> 7))
        parts.append(b"%c%s%s%c%c" % (FLAG, header, chunk, fcs(header), FLAG))
    return b"".join(parts)


_TYPES: Final = {int(kind): kind for kind in FrameType}


class FrameDecoder:
    """Bytes in (:meth:`receive_data`), frames and errors out (:meth:`next_event`).

    ``n1`` is the largest information field accepted: a longer one is an error (its header is
    taken as garbage). Consecutive flags are idle fill; a frame's closing flag may also open the
    next frame.
    """

    def __init__(self, n1: int = MAX_N1) -> None:
        if not 1 <= n1 <= MAX_N1:
            raise ValueError(f"N1 out of range: {n1}")
        self.n1 = n1
        self._buf = bytearray()
        self._pos = 0  # start of the unexamined input

    @property
    def buffered(self) -> int:
        """Bytes received and not yet turned into events."""
        return len(self._buf) - self._pos

    def receive_data(self, data: bytes) -> None:
        """Add bytes read from the port."""
        if self._pos:
            del self._buf[: self._pos]
            self._pos = 0
        self._buf += data

    def clear(self) -> None:
        """Forget everything buffered (the port changed hands, e.g. back to AT mode)."""
        self._buf.clear()
        self._pos = 0

    def take_unframed(self) -> bytes:
        """Remove and return every buffered byte (for a caller leaving multiplexer mode)."""
        rest = bytes(self._buf[self._pos :])
        self.clear()
        return rest

    def next_event(self) -> DecoderEvent | NeedData:
        """The next frame or error, or :data:`NEED_DATA`."""
        buf = self._buf
        while True:
            end = len(buf)
            pos = self._pos
            if pos >= end:
                return NEED_DATA
            if buf[pos] != FLAG:
                flag = buf.find(FLAG, pos)
                dropped = (end if flag < 0 else flag) - pos
                self._pos = pos + dropped
                return FrameError(
                    "bytes outside a frame", dropped, bytes(buf[pos : pos + min(dropped, 64)])
                )
            # skip idle flags: the last of a run opens the frame
            while pos + 1 < end and buf[pos + 1] == FLAG:
                pos += 1
            self._pos = pos
            if pos + 3 >= end:
                return NEED_DATA
            address, control, length = buf[pos + 1], buf[pos + 2], buf[pos + 3]
            head = 3
            if not length & EA:
                if pos + 4 >= end:
                    return NEED_DATA
                length = (length >> 1) | (buf[pos + 4] << 7)
                head = 4
            else:
                length >>= 1
            kind = _TYPES.get(control & ~PF)
            reason = None
            if not address & EA:
                reason = "address field not one octet"
            elif kind is None:
                reason = f"unknown control field 0x{control:02X}"
            elif length > self.n1:
                reason = f"information field of {length} bytes over N1 {self.n1}"
            if reason is not None or kind is None:
                return self._resync(pos, reason or "bad frame", None)
            total = 1 + head + length + 2  # flag, header, information, FCS, closing flag
            if pos + total > end:
                return NEED_DATA
            info_at = pos + 1 + head
            covered = (
                buf[pos + 1 : info_at] if kind == FrameType.UIH else buf[pos + 1 : info_at + length]
            )
            if buf[pos + total - 1] != FLAG:
                return self._resync(pos, "no closing flag", address >> 2)
            if _crc(buf[info_at + length : info_at + length + 1], _crc(covered)) != _GOOD_FCS:
                return self._resync(pos, "bad FCS", address >> 2)
            self._pos = pos + total - 1  # the closing flag may open the next frame
            return Frame(
                dlci=address >> 2,
                type=kind,
                info=bytes(buf[info_at : info_at + length]),
                cr=bool(address & CR),
                pf=bool(control & PF),
            )

    def _resync(self, pos: int, reason: str, dlci: int | None) -> FrameError:
        """Drop the flag at ``pos`` and everything up to the next flag."""
        flag = self._buf.find(FLAG, pos + 1)
        nxt = len(self._buf) if flag < 0 else flag
        self._pos = nxt
        return FrameError(reason, nxt - pos, bytes(self._buf[pos : min(nxt, pos + 64)]), dlci)
