"""n58aio: asyncio driver for Neoway N58 cellular modems, HTTP(S) over AT commands.

Open a modem with :func:`open_modem`; the rest of the public API hangs off :class:`Modem`.
"""

from typing import TYPE_CHECKING, Any

from .bringup import ModemStatus
from .channel import Reply, UrcSubscription
from .commands.link import LinkStatus
from .errors import (
    BringUpError,
    CommandError,
    CommandTimeout,
    ConnectError,
    ConnectTimeout,
    DecodingError,
    DecompressionLimitError,
    HTTPStatusError,
    InvalidOption,
    InvalidValue,
    LinkClosedError,
    LinkRefusedError,
    ModemNotAnswering,
    ModemUnresponsiveError,
    MultiplexerError,
    N58Error,
    NoModemAvailable,
    NoSignalError,
    NoSimError,
    NotRegisteredError,
    PinUnclearError,
    PinWithheldError,
    PoolTimeout,
    PortClosedError,
    PortOpenError,
    ProtocolError,
    ReadTimeout,
    RegistrationDeniedError,
    RequestError,
    RequestTimeout,
    RequestTooLarge,
    SimPinRequired,
    SimPukRequired,
    TLSConfigError,
    TLSError,
    TLSNotConfigured,
    TooManyRedirects,
    TransferError,
    WriteTimeout,
    WrongPinError,
)
from .http import (
    URL,
    DecompressionLimits,
    Headers,
    RequestOptions,
    Response,
    Timeouts,
    TimeoutTypes,
    TLSConfig,
)
from .logs import enable_logging
from .modem import Modem, open_modem
from .pool import ModemPool, ModemStats, PoolDownloadResult, PoolStats
from .retry import RetryPolicy
from .supervision import EventKind, SupervisionEvent
from .transfer import (
    DownloadOptions,
    DownloadResult,
    FileEntry,
    FileTransferResult,
    IntegrityError,
    ModuleFileError,
    ModuleFiles,
    ModuleGetResult,
    ModuleGetStatus,
    ModuleTransferError,
    PDPNotActiveError,
    Progress,
    RangeMismatchError,
    ReadBackResult,
)

if TYPE_CHECKING:
    from .http.httpx_transport import ModemTransport

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # httpx is optional: import the transport only when asked for.
    if name == "ModemTransport":
        from .http.httpx_transport import ModemTransport

        return ModemTransport
    raise AttributeError(f"module 'n58aio' has no attribute {name!r}")


__all__ = [
    "URL",
    "BringUpError",
    "CommandError",
    "CommandTimeout",
    "ConnectError",
    "ConnectTimeout",
    "DecodingError",
    "DecompressionLimitError",
    "DecompressionLimits",
    "DownloadOptions",
    "DownloadResult",
    "EventKind",
    "FileEntry",
    "FileTransferResult",
    "HTTPStatusError",
    "Headers",
    "IntegrityError",
    "InvalidOption",
    "InvalidValue",
    "LinkClosedError",
    "LinkRefusedError",
    "LinkStatus",
    "Modem",
    "ModemNotAnswering",
    "ModemPool",
    "ModemStats",
    "ModemStatus",
    "ModemTransport",
    "ModemUnresponsiveError",
    "ModuleFileError",
    "ModuleFiles",
    "ModuleGetResult",
    "ModuleGetStatus",
    "ModuleTransferError",
    "MultiplexerError",
    "N58Error",
    "NoModemAvailable",
    "NoSignalError",
    "NoSimError",
    "NotRegisteredError",
    "PDPNotActiveError",
    "PinUnclearError",
    "PinWithheldError",
    "PoolDownloadResult",
    "PoolStats",
    "PoolTimeout",
    "PortClosedError",
    "PortOpenError",
    "Progress",
    "ProtocolError",
    "RangeMismatchError",
    "ReadBackResult",
    "ReadTimeout",
    "RegistrationDeniedError",
    "Reply",
    "RequestError",
    "RequestOptions",
    "RequestTimeout",
    "RequestTooLarge",
    "Response",
    "RetryPolicy",
    "SimPinRequired",
    "SimPukRequired",
    "SupervisionEvent",
    "TLSConfig",
    "TLSConfigError",
    "TLSError",
    "TLSNotConfigured",
    "TimeoutTypes",
    "Timeouts",
    "TooManyRedirects",
    "TransferError",
    "UrcSubscription",
    "WriteTimeout",
    "WrongPinError",
    "__version__",
    "enable_logging",
    "open_modem",
]
