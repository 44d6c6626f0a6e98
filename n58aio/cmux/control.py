"""Multiplexer control messages carried in UIH frames on DLCI 0 (27.010 section 5.4.6).

Each message is ``type | length | value``: the type octet holds the EA bit, the C/R bit (1 for
a command, 0 for its response) and a six-bit code; the length is EA-extended (7 bits per octet,
least significant first). Pure functions, no state.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

__all__ = [
    "ControlMessage",
    "ControlType",
    "ModemStatus",
    "decode_controls",
    "encode_control",
    "modem_status",
    "parse_modem_status",
]

_EA: Final = 0x01
_CR: Final = 0x02
# V.24 signal bits of the MSC control signal octet
_FC: Final = 0x02
_RTC: Final = 0x04
_RTR: Final = 0x08
_IC: Final = 0x40
_DV: Final = 0x80


class ControlType(enum.IntEnum):
    """Six-bit codes of the multiplexer control messages."""

    NSC = 0x04  # non supported command response
    TEST = 0x08
    PSC = 0x10  # power saving control
    RLS = 0x14  # remote line status
    FCOFF = 0x18  # flow control off for every DLC
    PN = 0x20  # DLC parameter negotiation
    RPN = 0x24  # remote port negotiation
    FCON = 0x28  # flow control on for every DLC
    CLD = 0x30  # multiplexer close down
    SNC = 0x34  # service negotiation
    MSC = 0x38  # modem status command (per-DLC flow control)


@dataclass(frozen=True, slots=True)
class ControlMessage:
    """One message: ``code`` (a :class:`ControlType` value, or an unknown code as received)."""

    code: int
    command: bool
    value: bytes = b""

    @property
    def type_octet(self) -> int:
        """The type octet as sent (what an NSC response quotes)."""
        return (self.code << 2) | (_CR if self.command else 0) | _EA


def encode_control(message: ControlMessage) -> bytes:
    """``message`` as the information field of a DLCI 0 UIH frame."""
    size = len(message.value)
    length = bytearray()
    while True:
        octet = (size & 0x7F) << 1
        size >>= 7
        if not size:
            length.append(octet | _EA)
            break
        length.append(octet)
    return bytes((message.type_octet,)) + bytes(length) + message.value


def decode_controls(info: bytes) -> list[ControlMessage]:
    """The messages in one DLCI 0 information field; ValueError when it is malformed."""
    messages = []
    pos = 0
    while pos < len(info):
        octet = info[pos]
        if not octet & _EA:
            raise ValueError("control type longer than one octet")
        pos += 1
        size = 0
        shift = 0
        while True:
            if pos >= len(info) or shift > 14:
                raise ValueError("control message length truncated")
            part = info[pos]
            pos += 1
            size |= (part >> 1) << shift
            shift += 7
            if part & _EA:
                break
        if pos + size > len(info):
            raise ValueError("control message value truncated")
        messages.append(ControlMessage(octet >> 2, bool(octet & _CR), info[pos : pos + size]))
        pos += size
    return messages


@dataclass(frozen=True, slots=True)
class ModemStatus:
    """An MSC's value: the DLC it is about and its V.24 signals (``fc``: stop sending)."""

    dlci: int
    fc: bool = False
    rtc: bool = True
    rtr: bool = True
    ic: bool = False
    dv: bool = True
    brk: int | None = None  # the optional break octet


def modem_status(status: ModemStatus) -> bytes:
    """The value of an MSC carrying ``status``."""
    signals = _EA
    for flag, bit in (
        (status.fc, _FC),
        (status.rtc, _RTC),
        (status.rtr, _RTR),
        (status.ic, _IC),
        (status.dv, _DV),
    ):
        if flag:
            signals |= bit
    value = bytes(((status.dlci << 2) | _CR | _EA, signals))
    if status.brk is not None:
        value += bytes((status.brk,))
    return value


def parse_modem_status(value: bytes) -> ModemStatus:
    """An MSC value as :class:`ModemStatus`; ValueError when it is too short."""
    if len(value) < 2:
        raise ValueError("MSC value shorter than two octets")
    signals = value[1]
    return ModemStatus(
        dlci=value[0] >> 2,
        fc=bool(signals & _FC),
        rtc=bool(signals & _RTC),
        rtr=bool(signals & _RTR),
        ic=bool(signals & _IC),
        dv=bool(signals & _DV),
        brk=value[2] if len(value) > 2 else None,
    )
