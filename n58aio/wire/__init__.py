"""Sans-IO wire layer: the AT parser, its events and the command-line encoder."""

from .commandline import MAX_COMMAND_LENGTH, check_text, encode_command, quote
from .events import (
    NEED_DATA,
    Echo,
    Event,
    FinalResult,
    InfoLine,
    NeedData,
    Payload,
    Prompt,
    RawData,
    RawEnd,
    RawStart,
    Source,
    Stray,
    Urc,
    WireError,
)
from .parser import DEFAULT_MAX_LINE, DEFAULT_MAX_PAYLOAD, REPORT_SHAPE, AtParser, command_name

__all__ = [
    "DEFAULT_MAX_LINE",
    "DEFAULT_MAX_PAYLOAD",
    "MAX_COMMAND_LENGTH",
    "NEED_DATA",
    "REPORT_SHAPE",
    "AtParser",
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
    "check_text",
    "command_name",
    "encode_command",
    "quote",
]
