"""The n58aio error hierarchy: every error the library raises derives from :class:`N58Error`."""

from __future__ import annotations

from .redact import redact

__all__ = [
    "CommandError",
    "CommandTimeout",
    "HTTPStatusError",
    "InvalidValue",
    "LinkClosedError",
    "N58Error",
    "NoModemAvailable",
    "PortClosedError",
    "ProtocolError",
    "RequestTimeout",
    "TLSConfigError",
    "TransferError",
]


class N58Error(Exception):
    """Base class of every error raised by n58aio."""


class InvalidValue(N58Error, ValueError):
    """A value would break the AT command line or exceeds a module limit.

    Raised before anything is written to the port.
    """


class CommandError(N58Error):
    """The modem answered a command with ``ERROR``, ``+CME ERROR`` or a failure reply.

    ``code`` holds the numeric CME error code when there is one (None for a plain ``ERROR``),
    ``text`` the final result line as received.
    """

    def __init__(self, command: str, text: str, code: int | None = None) -> None:
        self.command = command
        self.text = text
        self.code = code
        super().__init__(f"{redact(command)!r} failed: {text}")


class CommandTimeout(N58Error, TimeoutError):
    """The modem did not finish answering a command within its timeout."""

    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout
        super().__init__(f"{redact(command)!r} got no final result within {timeout:g} s")


class PortClosedError(N58Error, ConnectionError):
    """The serial port (or its network stand-in) closed or vanished."""


class ProtocolError(N58Error):
    """The modem sent something the protocol does not allow (malformed output, bad framing)."""


class LinkClosedError(N58Error, ConnectionError):
    """The module's HTTP(S) link closed before the response was complete."""


class RequestTimeout(N58Error, TimeoutError):
    """An HTTP request through the modem timed out (connect, first byte or idle between chunks)."""

    def __init__(self, phase: str, timeout: float) -> None:
        self.phase = phase
        self.timeout = timeout
        super().__init__(f"HTTP {phase} timed out after {timeout:g} s")


class HTTPStatusError(N58Error):
    """Raised by ``Response.raise_for_status()`` for a 4xx or 5xx answer.

    ``url`` is the request URL with its credentials hidden.
    """

    def __init__(self, status_code: int, reason: str, url: str) -> None:
        self.status_code = status_code
        self.reason = reason
        self.url = url = redact(url)
        super().__init__(f"HTTP {status_code} {reason} for {url}")


class TLSConfigError(N58Error):
    """A TLS setting is invalid or the module refused it."""


class TransferError(N58Error):
    """A download or module-side transfer failed (hash mismatch, failed report, short file)."""


class NoModemAvailable(N58Error):
    """A modem pool had no healthy modem free in time, or is closed."""
