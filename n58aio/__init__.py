"""n58aio: asyncio driver for Neoway N58 cellular modems, HTTP(S) over AT commands.

Open a modem with :func:`open_modem`; the rest of the public API hangs off :class:`Modem`.
"""

from .channel import Reply, UrcSubscription
from .commands.link import LinkStatus
from .errors import (
    CommandError,
    CommandTimeout,
    HTTPStatusError,
    InvalidValue,
    LinkClosedError,
    N58Error,
    PortClosedError,
    ProtocolError,
    RequestTimeout,
    TLSConfigError,
    TransferError,
)
from .http import Headers, Response, Timeouts, TLSConfig
from .modem import Modem, open_modem

__version__ = "0.1.0"

__all__ = [
    "CommandError",
    "CommandTimeout",
    "HTTPStatusError",
    "Headers",
    "InvalidValue",
    "LinkClosedError",
    "LinkStatus",
    "Modem",
    "N58Error",
    "PortClosedError",
    "ProtocolError",
    "Reply",
    "RequestTimeout",
    "Response",
    "TLSConfig",
    "TLSConfigError",
    "Timeouts",
    "TransferError",
    "UrcSubscription",
    "__version__",
    "open_modem",
]
