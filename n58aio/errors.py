"""The n58aio error hierarchy: every error the library raises derives from :class:`N58Error`."""

from __future__ import annotations

from .redact import redact

__all__ = [
    "BringUpError",
    "CommandError",
    "CommandTimeout",
    "DecodingError",
    "DecompressionLimitError",
    "HTTPStatusError",
    "InvalidValue",
    "LinkClosedError",
    "LinkRefusedError",
    "N58Error",
    "NoModemAvailable",
    "NoSignalError",
    "NoSimError",
    "NotRegisteredError",
    "PortClosedError",
    "ProtocolError",
    "RegistrationDeniedError",
    "RequestTimeout",
    "SimPinRequired",
    "SimPukRequired",
    "TLSConfigError",
    "TransferError",
    "WrongPinError",
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


class BringUpError(N58Error):
    """:meth:`~n58aio.Modem.attach` could not bring the module up; the message names the state
    and what to do. Never holds a PIN, PUK or password."""


class NoSimError(BringUpError):
    """No SIM card in the module (``+CME ERROR: 10``)."""

    def __init__(self) -> None:
        super().__init__("no SIM card: insert a SIM card (power the module off first)")


class SimPinRequired(BringUpError):
    """The SIM asks for its PIN and none was given."""

    def __init__(self) -> None:
        super().__init__("the SIM asks for its PIN: pass pin=... to attach()")


class SimPukRequired(BringUpError):
    """The SIM is blocked (three wrong PINs): it needs its PUK, which n58aio never sends."""

    def __init__(self) -> None:
        super().__init__(
            "the SIM is blocked and asks for its PUK: unblock it with the PUK from the card's "
            "operator (AT+CPIN=<puk>,<new pin>), then attach with the new PIN"
        )


class WrongPinError(BringUpError):
    """The module refused the PIN. It is never sent again automatically: after three wrong PINs
    the SIM blocks."""

    def __init__(self) -> None:
        super().__init__(
            "the SIM refused the PIN (not retried: three wrong PINs block the SIM); check the "
            "PIN before trying again"
        )


class NotRegisteredError(BringUpError):
    """The module did not register with a network within the timeout.

    ``state`` is ``"searching"``, ``"not searching"`` or ``"unknown"``.
    """

    def __init__(self, state: str, timeout: float) -> None:
        self.state = state
        super().__init__(
            f"not registered with a network after {timeout:g} s ({state}): check the antenna, "
            "the coverage and that the SIM is activated for this network"
        )


class RegistrationDeniedError(BringUpError):
    """The network denied the registration; ``cause`` is its reject cause when reported."""

    def __init__(self, cause: int | None) -> None:
        self.cause = cause
        reason = f" (reject cause {cause})" if cause is not None else ""
        super().__init__(
            f"the network denied the registration{reason}: the SIM may be barred, not "
            "activated or without a plan for this network; ask the operator"
        )


class NoSignalError(BringUpError):
    """No signal while not registered (``+CSQ: 99``)."""

    def __init__(self, timeout: float) -> None:
        super().__init__(
            f"no signal after {timeout:g} s and not registered: check the antenna and the coverage"
        )


class LinkRefusedError(BringUpError):
    """The data link (``AT+XIIC=1``) was refused or did not come up; ``code`` is the CME code."""

    def __init__(self, code: int | None, apn: str | None) -> None:
        self.code = code
        where = f" with APN {apn!r}" if apn else " with the network's default APN"
        hint = (
            "check the APN, user and password the operator gives"
            if code in (None, 900)
            else "check the SIM and the registration"
        )
        detail = f" (+CME ERROR: {code})" if code is not None else ""
        super().__init__(f"the data link was refused{where}{detail}: {hint}")


class DecodingError(ProtocolError):
    """A response body's ``Content-Encoding`` could not be undone (bad or truncated data, or a
    coding this installation does not decode)."""


class DecompressionLimitError(DecodingError):
    """A compressed response body decoded past the configured size or ratio
    (:class:`~n58aio.http.DecompressionLimits`): refused as a decompression bomb."""
