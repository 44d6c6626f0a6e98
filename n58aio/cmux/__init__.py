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
from .mux import DEFAULT_N1, Multiplexer, MuxState, cmux_command, looks_like_at_text
from .pipe import DlcPipe

__all__ = [
    "DEFAULT_N1",
    "FLAG",
    "MAX_N1",
    "NEED_DATA",
    "ControlMessage",
    "ControlType",
    "DlcPipe",
    "Frame",
    "FrameDecoder",
    "FrameError",
    "FrameType",
    "ModemStatus",
    "Multiplexer",
    "MuxState",
    "NeedData",
    "cmux_command",
    "decode_controls",
    "encode_control",
    "encode_frame",
    "encode_uih",
    "fcs",
    "looks_like_at_text",
    "modem_status",
    "parse_modem_status",
]
