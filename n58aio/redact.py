"""The one rule that keeps credentials and unknown module text out of logs and error messages.

Two functions, one per kind of text:

* :func:`redact` for text the library composed (a URL, the command line it sent, an error
  message): the user information of a URL (``http://alice:secret@host/``: between ``//`` and
  the last ``@`` of the authority) becomes ``<redacted>``, so does a URL parameter's in an AT
  command line (``AT+HTTPPARA=url,alice:secret@host/``) and the value of an ``Authorization``
  header; so does everything after the name of a command that carries a PIN, PUK or APN
  password (``AT+CPIN``, ``AT+CPWD``, ``AT+CLCK``, ``AT+XGAUTH``), wherever it appears in the
  text, and also when one character of ``AT+<name>`` is damaged, lost or added (a garbled echo:
  ``\\ufffdT+CPIN="1234"``, ``AT+CPIM="1234"``, ``ATCPIN="1234"``).
* :func:`loggable_line` for a line that came from the module: only the known shapes of known
  finals and reports pass (``OK``, ``+CREG: 1,5``, ``+HTTPCLOSED: HTTP Link Closed``); anything
  else (a damaged echo, a line of a file read whose header was lost, a server's bytes) is
  described by kind and length only (``<unrecognised line, 37 bytes>``), never shown.

The rule errs on the side of hiding: it may hide more than the credentials, never less.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["REDACTED", "loggable_line", "loggable_lines", "redact"]

REDACTED = "<redacted>"

# scheme "://" then the authority up to its last "@" (no "/", "?", "#" or line end in between)
_URL_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.\-]*://)[^/?#\r\n]*@")
# an AT command line: "AT...=" then the parameters
_COMMAND = re.compile(r"(?i)^(\s*AT[^=]*=)(.*)$", re.DOTALL)
_AUTHORIZATION = re.compile(r"(?i)(authorization\s*[:=]\s*)[^\r\n]*")

# ---------------------------------------------------------------------- secret commands
_SECRET_NAMES = ("CPIN", "CPWD", "CLCK", "XGAUTH")
_SECRET_TARGETS = tuple(f"AT+{name}" for name in _SECRET_NAMES)
# the intact command, also with blanks inside ("AT + CPIN = ..."), anywhere in the text
_SPACED_SECRET = re.compile(r"(?i)(AT\s*\+\s*(?:CPIN|CPWD|CLCK|XGAUTH)\s*=)([^\r\n]*)")
# where a command may start inside a text: its start, a line start, or after a delimiter
_WORD_START = re.compile(r"(?:^|(?<=[\s'\"(\[`,;:=]))(?=\S)", re.MULTILINE)
_HARMLESS_REST = re.compile(r"^\s*=?\s*\??\s*$")  # "AT+CPIN?", "AT+CPIN=?", "AT+CPIN"
# a command written out with placeholders in a message: "AT+CPIN=<puk>,<new pin>"
_PLACEHOLDERS = re.compile(r"^=?(?:\s*,?\s*<[a-z ]{1,24}>)+(?=\s*$|\s*[);.']|,?\s+[a-z]{2})")


def _within_one_edit(text: str, target: str) -> bool:
    """Whether ``text`` becomes ``target`` by at most one substitution, deletion or insertion."""
    if text == target:
        return True
    if abs(len(text) - len(target)) > 1:
        return False
    if len(text) == len(target):
        return sum(a != b for a, b in zip(text, target, strict=True)) == 1
    short, long = (text, target) if len(text) < len(target) else (target, text)
    for index, char in enumerate(short):
        if char != long[index]:
            return short[index:] == long[index + 1 :]
    return True


def _secret_command(text: str, start: int) -> tuple[str, int] | None:
    """The name (as the text should show it) and end of an ``AT+<secret command>`` starting
    at ``start``, up to one character of it damaged, lost or added."""
    head = text[start : start + 10].upper()
    if not head or (head[0] not in "AT+" and head[1:2] not in ("T", "+")):
        return None  # neither of the first two characters fits: two edits at least
    for target in _SECRET_TARGETS:
        for size in (len(target) + 1, len(target), len(target) - 1):  # the longest first
            if _within_one_edit(head[:size], target):
                # shown as it came only when intact: a damaged head may hold a secret's first byte
                intact = head[:size] in (target, target + "=")
                return (text[start : start + size] if intact else target + "="), start + size
    return None


def _hide_parameters(match: re.Match[str]) -> str:
    rest = match.group(2)
    if rest.strip() in ("", "?") or _PLACEHOLDERS.match(rest):
        return match.group(0)
    return match.group(1) + REDACTED


def _redact_secret_commands(text: str) -> str:
    """Everything after a secret command's name, up to the line end, becomes ``<redacted>``."""
    text = _SPACED_SECRET.sub(_hide_parameters, text)
    parts: list[str] = []
    done = 0
    for match in _WORD_START.finditer(text):
        start = match.start()
        if start < done:
            continue
        found_command = _secret_command(text, start)
        if found_command is None:
            continue
        shown, end = found_command
        line_end = len(text)
        for stop in ("\r", "\n"):
            found = text.find(stop, end)
            if found >= 0:
                line_end = min(line_end, found)
        rest = text[end:line_end]
        if _HARMLESS_REST.match(rest) or _PLACEHOLDERS.match(rest) or rest.startswith(REDACTED):
            continue  # nothing to hide, or hidden already
        parts.append(text[done:start] + shown + REDACTED)
        done = line_end
    if not parts:
        return text
    return "".join(parts) + text[done:]


def redact(text: str) -> str:
    """``text`` with every credential the rule above knows replaced by ``<redacted>``."""
    text = _redact_secret_commands(text)
    if "@" not in text and "uthorization" not in text and "UTHORIZATION" not in text:
        return text  # nothing the rules below could hide: they need an "@" or the header name
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
    command = _COMMAND.match(text)
    if command is not None:
        text = command.group(1) + _redact_parameters(command.group(2))
    if "uthorization" in text or "UTHORIZATION" in text:
        text = _AUTHORIZATION.sub(rf"\1{REDACTED}", text)
    return text


def _redact_parameters(parameters: str) -> str:
    """Hide the user information of a URL given as a bare or quoted command parameter.

    The URL is the value after the first comma (``url,<value>``), or the whole text when there
    is none; its authority ends at the first ``/``, ``?`` or ``#``, and everything before the
    last ``@`` of it is hidden (a password may hold commas or quotes, so no field splitting).
    """
    name, comma, value = parameters.partition(",")
    if not comma:
        name, value = "", name
    authority_end = min((i for i in (value.find(c) for c in "/?#") if i >= 0), default=len(value))
    at = value.rfind("@", 0, authority_end)
    if at < 0:
        return parameters
    quote = '"' if value.startswith('"') else ""
    return f"{name}{comma}{quote}{REDACTED}{value[at:]}"


# ---------------------------------------------------------------------- module lines
_MAX_SAFE_LINE = 96
_BARE_LINES = frozenset(
    {
        "OK",
        "ERROR",
        ">",
        "+PBREADY",
        "RDY",
        "RING",
        "GPRS DISCONNECTION",
        "NO CARRIER",
        "BUSY",
        "NO ANSWER",
        "NO DIALTONE",
        "OPERATION EXPIRED",
        "ABORTED",
        "CONNECT",
        "+HTTPRECV:",
        "+HTTPSRECV:",
    }
)
_NUMBERS = r"\d{1,10}(?:\s*,\s*\d{0,10})*"
_HEX = r'"?[0-9A-Fa-f]{1,8}"?'
_CLOSED = r"HTTPS? Link Closed"
_VERDICT = r"(?:ERROR|FAIL|OK|SUCCESS|SOCKET ID OPEN FAILED|Timeout!|" + _NUMBERS + ")"
_NUMERIC_REPORTS = (
    "CSQ CESQ CGATT CFUN CMEE CMGF IPR FSFS HTTPGETSTAT HTTPSGETSTAT HTTPGETRPT HTTPSGETRPT "
    "FILEHTTPSTAT FILEHTTPACTION FILEHTTPSACTION HTTPRECV HTTPSRECV"
)
_HTTP_VERDICTS = "HTTPSETUP HTTPSSETUP HTTPSEND HTTPSSEND HTTPACTION HTTPSACTION HTTPPARA HTTPSPARA"
# The value each known report may carry to be shown as it is (names space-separated). The
# commands that carry a PIN, PUK or password have no entry (but +CPIN's states): their lines
# are always described, never shown.
_SAFE_VALUES: tuple[tuple[str, str], ...] = (
    (_NUMERIC_REPORTS, _NUMBERS + ",?"),
    ("CREG CGREG CEREG", r"\d{1,3}(?:\s*,\s*(?:" + _HEX + r"|\d{0,10}))*"),
    ("CPIN", r"READY|SIM PIN2?|SIM PUK2?|PH-SIM PIN|NOT READY|NOT INSERTED"),
    ("XIIC", r"\d\s*,\s*[0-9.]{7,15}"),
    ("HTTPCLOSED HTTPSCLOSED HTTPCLOSE HTTPSCLOSE", _CLOSED),
    ("TCPCLOSE", r"\d{1,2}\s*,\s*Link Closed"),
    ("FSWF", r"Timeout!"),
    ("FSLS", r"\d{1,10}|DiskInfo Not Right!"),
    (_HTTP_VERDICTS, _VERDICT),
    ("CME_ERROR CMS_ERROR", r"\d{1,5}|[A-Za-z][A-Za-z ()/'.-]{0,60}"),
)
_SAFE_REPORTS: dict[str, re.Pattern[str]] = {
    name.replace("_", " "): re.compile(pattern)
    for names, pattern in _SAFE_VALUES
    for name in names.split()
}
_REPORT = re.compile(r"^\+([A-Z]+(?: ERROR)?)\s*:\s*(.*?)\s*$")


def loggable_line(line: str) -> str:
    """A module line as it may be logged or shown in an error: itself if it has the known shape
    of a known final or report, else its kind and length (``<unrecognised line, 37 bytes>``)."""
    if len(line) <= _MAX_SAFE_LINE:
        if line in _BARE_LINES:
            return line
        report = _REPORT.match(line)
        if report is not None:
            value = _SAFE_REPORTS.get(report.group(1))
            if value is not None and value.fullmatch(report.group(2)):
                return line
    kind = "report" if line.startswith("+") else "line"
    return f"<unrecognised {kind}, {len(line.encode('utf-8', 'replace'))} bytes>"


def loggable_lines(lines: Iterable[str]) -> str:
    """Several module lines for a message: each through :func:`loggable_line`, ``|``-joined."""
    return " | ".join(loggable_line(line) for line in lines) or "no line"
