"""The n58aio error hierarchy: every error the library raises derives from :class:`N58Error`."""

from __future__ import annotations

from .redact import redact

__all__ = [
    "CME_CODES",
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


CME_CODES: dict[int, tuple[str, str]] = {
    # code: (the manual's text, printed with AT+CMEE=2; what the code means on an N58)
    0: ("phone failure", "phone failure"),
    1: ("no connection to phone", "no connection to phone"),
    2: ("phone-adaptor link reserved", "phone-adaptor link reserved"),
    3: ("operation not allowed", "operation not allowed (busy, or a setting is missing)"),
    4: ("operation not supported", "operation not supported"),
    5: ("PH-SIM PIN required", "PH-SIM PIN required"),
    6: ("PH-FSIM PIN required", "PH-FSIM PIN required"),
    7: ("PH-FSIM PUK required", "PH-FSIM PUK required"),
    10: ("SIM not inserted", "SIM not inserted"),
    11: ("SIM PIN required", "SIM PIN required"),
    12: ("SIM PUK required", "SIM PUK required"),
    13: ("SIM failure", "SIM failure"),
    14: ("SIM busy", "SIM busy"),
    15: ("SIM wrong", "SIM wrong"),
    16: ("incorrect password", "incorrect password (PIN or PUK)"),
    17: ("SIM PIN2 required", "SIM PIN2 required"),
    18: ("SIM PUK2 required", "SIM PUK2 required"),
    20: ("memory full", "memory full (the module's disk)"),
    21: ("invalid index", "invalid index"),
    22: ("not found", "not found"),
    23: ("memory failure", "memory failure"),
    24: ("text string too long", "text string too long"),
    25: ("invalid characters in text string", "invalid characters in text string"),
    26: ("dial string too long", "dial string too long"),
    27: ("invalid characters in dial string", "invalid characters in dial string"),
    30: ("no network service", "no network service"),
    31: ("network timeout", "network timeout"),
    32: ("network not allowed - emergency calls only", "network not allowed: emergency calls only"),
    40: ("network personalization PIN required", "network personalization PIN required"),
    41: ("network personalization PUK required", "network personalization PUK required"),
    49: ("EAP method not supported", "EAP method not supported"),
    # captured: AT+XIIC=1 without a SIM; the manual: incorrect parameters (FILEHTTPACTION)
    50: ("Incorrect parameters", "incorrect parameters, or not possible now (no SIM, no link)"),
    51: ("command implemented but currently disabled", "command currently disabled"),
    52: ("command aborted by user", "command aborted"),
    # captured: a parameter out of range (AT+XIIC=9); the manual's text is 27.007's
    53: (
        "not attached to network due to MT functionality restrictions",
        "invalid parameter (a value out of range or of the wrong form)",
    ),
    54: ("modem not allowed - MT restricted to emergency calls only", "emergency calls only"),
    55: (
        "operation not allowed because of MT functionality restrictions",
        "operation not allowed in this functionality mode (AT+CFUN)",
    ),
    57: ("temporarily out of service due to other MT usage", "temporarily out of service"),
    # captured: a command the firmware does not know (a typo, or not in this firmware)
    58: ("language/alphabet not supported", "unknown command (not in this firmware)"),
    59: ("unexpected data value", "unexpected data value"),
    60: ("system failure", "system failure"),
    61: ("data missing", "data missing"),
    62: ("call barred", "call barred"),
    100: ("unknown", "unknown error"),
    900: (
        "APN, user or password refused by the network",
        "the network refused the dial-up (APN, user or password; or the SIM's plan)",
    ),
    901: ("PDP not active", "PDP not active (no data link)"),
    902: ("PDP already active", "PDP already active"),
    910: ("TCP connection refused", "TCP connection refused by the server"),
    911: ("TCP connection timeout", "TCP connection timed out (address or port wrong?)"),
    912: ("socket already connected", "socket already connected"),
    913: ("socket not connected", "socket not connected"),
    914: ("buffer full", "send buffer full: send again"),
    915: ("send timeout", "sending data timed out"),
    916: ("domain name not found", "domain name not found"),
    917: ("domain name resolution timeout", "domain name resolution timed out"),
    918: ("domain name resolution error", "domain name resolution failed"),
    980: ("invalid input parameter", "invalid input parameter"),
    981: ("other error", "other error"),
    # seen from real modules for HTTP without a data link (appendix H lists 901 for it)
    1001: ("PDP not active", "PDP not active (no data link: attach first)"),
}
"""``+CME ERROR`` codes: appendix H of the N58 AT manual v2.0 (27.007 9.2 and Neoway's 900s),
with what the captures of a real N58 show where they differ from the manual's words: 50 is
also a refusal without a SIM (``AT+XIIC=1``), 53 a bad parameter (``AT+XIIC=9``), 58 an
unknown command. :attr:`CommandError.meaning` reads it; the emulator prints the first column
for ``AT+CMEE=2``."""


def cme_meaning(code: int | None) -> str | None:
    """What a ``+CME ERROR`` code means on an N58 (:data:`CME_CODES`), None when unknown."""
    entry = CME_CODES.get(code) if code is not None else None
    return entry[1] if entry else None


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
    ``text`` the final result line as received, :attr:`meaning` what the code means
    (:data:`CME_CODES`); the message gives it.
    """

    def __init__(self, command: str, text: str, code: int | None = None) -> None:
        self.command = command
        self.text = text
        self.code = code
        meaning = cme_meaning(code)
        shown = f"{text} ({meaning})" if meaning and meaning.lower() not in text.lower() else text
        super().__init__(f"{redact(command)!r} failed: {shown}")

    @property
    def meaning(self) -> str | None:
        """What :attr:`code` means on an N58 (:data:`CME_CODES`), None without a known code."""
        return cme_meaning(self.code)


class CommandTimeout(N58Error, TimeoutError):
    """The modem did not finish answering a command within its timeout."""

    def __init__(self, command: str, timeout: float) -> None:
        self.command = command
        self.timeout = timeout
        super().__init__(f"{redact(command)!r} got no final result within {timeout:g} s")


class PortClosedError(N58Error, ConnectionError):
    """The serial port (or its network stand-in) closed or vanished."""


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
    """No SIM card in the module (``+CPIN: NO SIM`` as captured, or ``+CME ERROR: 10``)."""

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
