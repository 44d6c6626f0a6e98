"""The one rule that hides credentials wherever a URL, a command line or a header is shown.

Every layer (error messages, logs, the CLI) passes text through :func:`redact` before showing it:

* the user information of a URL (``http://alice:secret@host/``: everything between ``//`` and
  the last ``@`` of the authority) becomes ``<redacted>``;
* in an AT command line (``AT+HTTPPARA=url,alice:secret@host/``), a parameter value with an
  ``@`` in its authority part likewise loses what comes before that ``@``;
* the value of an ``Authorization`` header written out as text becomes ``<redacted>``;
* the parameters of the commands that carry a PIN, PUK or APN password (``AT+CPIN``,
  ``AT+CPWD``, ``AT+CLCK``, ``AT+XGAUTH``) become ``<redacted>``.

The rule errs on the side of hiding: it may hide more than the credentials, never less.
"""

from __future__ import annotations

import re

__all__ = ["REDACTED", "redact"]

REDACTED = "<redacted>"

# scheme "://" then the authority up to its last "@" (no "/", "?", "#" or line end in between)
_URL_USERINFO = re.compile(r"(?i)([a-z][a-z0-9+.\-]*://)[^/?#\r\n]*@")
# an AT command line: "AT...=" then the parameters
_COMMAND = re.compile(r"(?i)^(\s*AT[^=]*=)(.*)$", re.DOTALL)
_SECRET_COMMAND = re.compile(r"(?i)^(\s*AT\s*\+\s*(?:CPIN|CPWD|CLCK|XGAUTH)\s*=).*$", re.DOTALL)
_AUTHORIZATION = re.compile(r"(?i)(authorization\s*[:=]\s*)[^\r\n]*")


def redact(text: str) -> str:
    """``text`` with every credential the rule above knows replaced by ``<redacted>``."""
    secret = _SECRET_COMMAND.match(text)
    if secret is not None:
        return secret.group(1) + REDACTED
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
