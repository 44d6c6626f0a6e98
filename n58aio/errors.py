"""The n58aio error hierarchy: every error the library raises derives from :class:`N58Error`."""

from __future__ import annotations

from .redact import redact

__all__ = [
    "BringUpError",
    "CommandError",
    "CommandTimeout",
    "ConnectError",
    "ConnectTimeout",
    "DecodingError",
    "DecompressionLimitError",
    "HTTPStatusError",
    "InvalidOption",
    "InvalidValue",
    "LinkClosedError",
    "LinkRefusedError",
    "ModemUnresponsiveError",
    "MultiplexerError",
    "N58Error",
    "NoModemAvailable",
    "NoSignalError",
    "NoSimError",
    "NotRegisteredError",
    "PoolTimeout",
    "PortClosedError",
    "ProtocolError",
    "ReadTimeout",
    "RegistrationDeniedError",
    "RequestError",
    "RequestTimeout",
    "RequestTooLarge",
    "SimPinRequired",
    "SimPukRequired",
    "TLSConfigError",
    "TLSError",
    "TooManyRedirects",
    "TransferError",
    "WriteTimeout",
    "WrongPinError",
]


class N58Error(Exception):
    """Base class of every error raised by n58aio."""


class InvalidValue(N58Error, ValueError):
    """A value would break the AT command line or exceeds a module limit.

    Raised before anything is written to the port.
    """


class InvalidOption(InvalidValue, TypeError):
    """A request was given an option it does not know (``timouts=`` for ``timeouts=``)."""


class RequestTooLarge(InvalidValue):
    """A request does not fit the module's budget of bytes per request (``budget``); ``used``
    is what it would take. Raised before anything is written."""

    def __init__(self, message: str, *, budget: int, used: int) -> None:
        self.budget = budget
        self.used = used
        super().__init__(message)


class RequestError(N58Error):
    """An HTTP request through the modem failed: the counterpart of ``httpx.RequestError``.

    Its kinds: :class:`ConnectError` (with :class:`TLSError`), :class:`RequestTimeout` (with
    :class:`ConnectTimeout`, :class:`WriteTimeout`, :class:`ReadTimeout`,
    :class:`PoolTimeout`), :class:`LinkClosedError`, :class:`ProtocolError` and
    :class:`TooManyRedirects`.
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


class MultiplexerError(N58Error):
    """27.010 multiplexing (``AT+CMUX``) could not be started, a DLC not opened, or the
    multiplexer not restored after the module left it."""


class ProtocolError(RequestError):
    """The modem sent something the protocol does not allow (malformed output, bad framing)."""


class LinkClosedError(RequestError, ConnectionError):
    """The module's HTTP(S) link closed before the response was complete."""


class RequestTimeout(RequestError, TimeoutError):
    """An HTTP request through the modem timed out; ``phase`` says where.

    The subclasses name the phase as httpx does: :class:`ConnectTimeout` (link setup),
    :class:`WriteTimeout` (the module taking the request), :class:`ReadTimeout` (the response
    head or a gap between chunks), :class:`PoolTimeout` (waiting for the modem to be free).
    """

    def __init__(self, phase: str, timeout: float) -> None:
        self.phase = phase
        self.timeout = timeout
        super().__init__(f"HTTP {phase} timed out after {timeout:g} s")


class _SetupTimeout(RequestTimeout, CommandTimeout):
    """A request phase bounded by one AT command: also its :class:`CommandTimeout`
    (``command``), since the modem's output may be out of step afterwards."""

    def __init__(self, phase: str, timeout: float, command: str = "") -> None:
        self.phase = phase
        self.timeout = timeout
        self.command = command
        Exception.__init__(self, f"HTTP {phase} timed out after {timeout:g} s")


class ConnectTimeout(_SetupTimeout):
    """The module did not set the link up (``AT+HTTPSETUP``) within the connect timeout."""


class WriteTimeout(_SetupTimeout):
    """The module did not take the request (``AT+HTTPACTION``) within the write timeout."""


class ReadTimeout(RequestTimeout):
    """No response head within the read timeout, or a gap between chunks longer than it."""


class PoolTimeout(RequestTimeout):
    """The modem stayed busy with other requests for longer than the pool timeout."""


class ConnectError(RequestError, CommandError):
    """The module could not set up the link to ``host:port``; ``text`` is what it answered.

    Also a :class:`CommandError` (``command``, ``text``, ``code``) of the setup command.
    """

    def __init__(
        self,
        host: str,
        port: int,
        command: str,
        text: str,
        code: int | None = None,
        *,
        detail: str = "",
    ) -> None:
        CommandError.__init__(self, command, text, code)
        self.host = host
        self.port = port
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        message = f"cannot connect to {where}: the module answered {text!r} to {command}"
        self.args = (message + (f" ({detail})" if detail else ""),)


class TLSError(ConnectError):
    """The HTTPS link to ``host:port`` failed: no TCP connection, or the TLS handshake or the
    certificate check failed (the module does not say which)."""


class TooManyRedirects(RequestError):
    """A request followed more redirects than ``max_redirects``."""


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


class ModemUnresponsiveError(BringUpError):
    """The module answered neither at the line rate in use nor at the initial one, nor after the
    manual's reset (``AT+CFUN=1,1``): check its power and the serial connection."""

    def __init__(self, detail: str) -> None:
        super().__init__(
            f"the module does not answer ({detail}): check its power supply and the serial "
            "connection, or power-cycle it"
        )
