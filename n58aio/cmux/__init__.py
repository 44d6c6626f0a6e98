"""3GPP TS 27.010 multiplexing (``AT+CMUX``): a sans-IO codec and an asyncio multiplexer."""

from .codec import (
    FLAG,
    MAX_N1,
    NEED_DATA,
    Frame,
    FrameDecoder,
    FrameError,
    FrameType,
    NeedData,
    encode_frame,
    encode_uih,
    fcs,
)
from .control import (
    ControlMessage,
    ControlType,
    ModemStatus,
    decode_controls,
    encode_control,
    modem_status,
    parse_modem_status,
)

__all__ = [
    "FLAG",
    "MAX_N1",
    "NEED_DATA",
    "ControlMessage",
    "ControlType",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "FrameType",
    "ModemStatus",
    "NeedData",
    "decode_controls",
    "encode_control",
    "encode_frame",
    "encode_uih",
    "fcs",
    "modem_status",
    "parse_modem_status",
]
