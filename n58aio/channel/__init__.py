"""The asyncio layer: the port, the channel that routes parser events, streams and reports."""

from .channel import ModemChannel, Reply
from .port import open_port
from .streams import ByteDecoder, Decoder, PayloadStream
from .urcs import UrcCallback, UrcRouter, UrcSubscription

__all__ = [
    "ByteDecoder",
    "Decoder",
    "ModemChannel",
    "PayloadStream",
    "Reply",
    "UrcCallback",
    "UrcRouter",
    "UrcSubscription",
    "open_port",
]
