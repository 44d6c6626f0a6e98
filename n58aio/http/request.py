"""Turning a request into one ``AT+HTTPACTION``: which mode, which bytes after the prompt.

GET, HEAD and POST with a body type the module knows use modes 0, 1 and 2, where the module
writes the HTTP request itself. Every other method, and any request with headers of its own
(credentials in the URL add ``Authorization``), goes as a custom packet (mode 99) whose bytes h11
writes; a ranged GET then carries its own ``Range: bytes=<a>-<b>`` header instead of
``AT+HTTPACTION=0,<offset>,<size>``. Either way an ``h11.Connection`` is primed with the
request, so that the same object parses the response.

Compressed responses (as httpx, which always asks): every request that is not ranged, not
``HEAD`` and not a module-written POST offers ``Accept-Encoding``
(:func:`~n58aio.http.encoding.accept_encoding`), unless the caller set the header (or
``Range``) itself. The module writes no such header in modes 0 to 2, so a plain GET goes as a
custom packet (mode 99): one ``>`` prompt and about 150 bytes more on the line, which a
compressible answer of a few hundred bytes already pays back (docs/benchmarks.md).
``compress=False`` offers nothing, and a plain GET stays the module's own
``AT+HTTPACTION=0``. The header is left out when the packet would pass the module's 2048 bytes
with it. Ranged GETs (downloads) keep identity encoding: a range of an encoded representation is
a different resource.

The plan holds the ``AT+HTTPACTION`` line, and every other command line of the request is built
once here too: whatever would be refused is refused before the first byte reaches the port.
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import h11

from ..commands.http import MAX_BODY, POST_TYPES, ActionMode
from ..errors import InvalidValue, RequestTooLarge
from ..wire import check_text, encode_command
from .budget import over_budget
from .encoding import accept_encoding
from .headers import Headers, HeaderTypes
from .url import ModuleURL

__all__ = ["RequestPlan", "plan_request"]

_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_USER_AGENT = "n58aio"


@dataclass(slots=True)
class RequestPlan:
    """What to send for one request, and the h11 connection that will parse its answer.

    ``action`` is the validated ``AT+HTTPACTION`` (``AT+HTTPSACTION``) line; ``body`` the bytes
    to send after its prompt (the POST body or the custom packet), None for none.
    """

    method: str
    url: ModuleURL
    mode: ActionMode
    action: str
    body: bytes | None
    post_type: int | None
    offset: int | None
    size: int | None
    keepalive: bool
    connection: h11.Connection


def encode_body(
    content: bytes | str | None, data: Mapping[str, Any] | None, json: Any
) -> tuple[bytes | None, str | None]:
    """Return the body bytes and the content type implied by ``data=`` or ``json=``.

    As httpx: JSON is compact UTF-8 and refuses NaN and the infinities, which are not JSON
    (:class:`~n58aio.errors.InvalidValue`, a ``ValueError`` as httpx raises); form values
    ``True`` / ``False`` / ``None`` are ``true`` / ``false`` / empty, a list or tuple repeats
    its key.
    """
    given = [x is not None for x in (content, data, json)]
    if sum(given) > 1:
        raise InvalidValue("pass only one of content=, data= and json=")
    if json is not None:
        try:
            text = jsonlib.dumps(json, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        except ValueError as exc:  # NaN, Infinity, a circular reference
            raise InvalidValue(f"json= cannot be sent as JSON: {exc}") from None
        return text.encode("utf-8"), "application/json"
    if data is not None:
        pairs: list[tuple[str, str]] = []
        for key, value in data.items():
            values = value if isinstance(value, list | tuple) else [value]
            pairs += [(key, _form_value(item)) for item in values]
        return urlencode(pairs).encode("utf-8"), "application/x-www-form-urlencoded"
    if isinstance(content, str):
        return content.encode(), None
    return content, None


def _form_value(value: object) -> str:
    """A form value as httpx writes it: JSON's ``true`` / ``false``, None as empty."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return ""
    return str(value)


def _check_header_value(name: str, value: str) -> None:
    """Refuse control bytes in a header value (they would end the header or the packet) and
    text that is not octets: ``bytes`` values (latin-1 here) may hold any octet from 0x80."""
    for char in value:
        code = ord(char)
        if code < 0x20 or code == 0x7F:
            raise InvalidValue(f"header {name!r} contains control byte 0x{code:02x}")
        if code > 0xFF:
            raise InvalidValue(
                f"header {name!r} contains {char!r}, which is not one octet: "
                "pass the value as bytes in the encoding the server expects"
            )


def plan_request(
    method: str,
    url: ModuleURL,
    *,
    headers: HeaderTypes | None = None,
    content: bytes | str | None = None,
    data: Mapping[str, Any] | None = None,
    json: Any = None,
    offset: int | None = None,
    size: int | None = None,
    keepalive: bool = False,
    compress: bool = True,
) -> RequestPlan:
    """Validate a request and choose how to send it; nothing is written anywhere.

    Raises :class:`~n58aio.errors.InvalidValue` for control bytes in the method, headers or
    URL, a body or custom packet over the module's 2048 bytes, a malformed range or a ranged
    request with a ``Range`` header of its own. ``compress`` (default True) offers compressed
    responses (see the module docstring).
    """
    method = method.upper()
    if not method or any(c not in _TOKEN for c in method):
        raise InvalidValue(f"bad HTTP method {method!r}")
    body, implied_type = encode_body(content, data, json)
    extra = Headers(headers)
    for name, value in extra.raw:
        check_text(name, "header name")
        _check_header_value(name, value)
        if not name or any(c not in _TOKEN for c in name):
            raise InvalidValue(f"bad header name {name!r}")
    if (offset is None) != (size is None):
        raise InvalidValue("a ranged GET needs both offset and size")
    if offset is not None and size is not None and (offset < 0 or size < 1 or method != "GET"):
        raise InvalidValue(f"bad range: {method} offset={offset} size={size}")
    if offset is not None and "range" in extra:
        raise InvalidValue("a ranged GET (offset=, size=) writes its own Range header")
    if body is not None and len(body) > MAX_BODY:
        raise over_budget(len(body), "", [], body)
    content_type = implied_type
    custom = [(n, v) for n, v in extra.raw if n.lower() != "content-type"]
    declared = extra.get_list("content-type")
    if declared:
        content_type = declared[-1]
    if url.authorization is not None:
        custom.append(("Authorization", url.authorization))

    offer = (
        compress
        and offset is None
        and method != "HEAD"
        and not (method == "POST" and not custom and _module_post(body, content_type))
        and "accept-encoding" not in extra
        and "range" not in extra
    )
    if offer:
        try:
            offered = [*custom, ("Accept-Encoding", accept_encoding())]
            return _plan(
                method, url, body, offered, declared, content_type, offset, size, keepalive
            )
        except RequestTooLarge:
            pass  # the request fits only without the offer
    return _plan(method, url, body, custom, declared, content_type, offset, size, keepalive)


def _module_post(body: bytes | None, content_type: str | None) -> bool:
    """True when the module itself writes this POST (mode 2: a body type it knows)."""
    mapped = POST_TYPES.get(_canonical(content_type))
    return (
        bool(body)
        and mapped is not None
        and (content_type or "").lower() == _canonical(content_type)
    )


def _plan(
    method: str,
    url: ModuleURL,
    body: bytes | None,
    custom: list[tuple[str, str]],
    declared: list[str],
    content_type: str | None,
    offset: int | None,
    size: int | None,
    keepalive: bool,
) -> RequestPlan:
    mode: ActionMode = 99
    post_type: int | None = None
    if not custom:
        if method == "GET" and not body and not declared:
            mode = 0
        elif method == "HEAD" and not body and not declared and offset is None:
            mode = 1
        elif method == "POST" and offset is None and _module_post(body, content_type):
            mode, post_type = 2, POST_TYPES[_canonical(content_type)]

    connection = h11.Connection(h11.CLIENT)
    # a caller's Host (a virtual host reached by address) replaces the URL's, as in httpx;
    # only a custom packet can carry it, and any header of the caller makes one
    hosts = [v for n, v in custom if n.lower() == "host"]
    request_headers: list[tuple[str, str]] = [("Host", hosts[-1] if hosts else url.host_header)]
    if mode == 99:
        request_headers += [(n, v) for n, v in custom if n.lower() != "host"]
        if not any(n.lower() == "user-agent" for n, _ in custom):
            request_headers.append(("User-Agent", _USER_AGENT))
        if offset is not None and size is not None:
            request_headers.append(("Range", f"bytes={offset}-{offset + size - 1}"))
    if content_type and body is not None:
        request_headers.append(("Content-Type", content_type))
    if body is not None or method in ("POST", "PUT", "PATCH"):
        request_headers.append(("Content-Length", str(len(body or b""))))
    if not keepalive:
        request_headers.append(("Connection", "close"))
    try:
        # latin-1: a header value given as bytes goes out octet for octet
        octets = [(n.encode("ascii"), v.encode("latin-1")) for n, v in request_headers]
        head = connection.send(h11.Request(method=method, target=url.target, headers=octets))
        payload = connection.send(h11.Data(data=body)) if body else b""
        connection.send(h11.EndOfMessage())
    except h11.LocalProtocolError as exc:
        raise InvalidValue(f"cannot form the request: {exc}") from exc
    packet: bytes | None = None
    if mode == 99:
        packet = (head or b"") + (payload or b"")
        if len(packet) > MAX_BODY:
            line = f"{method} {url.target} HTTP/1.1"
            raise over_budget(len(packet), line, request_headers, body)
    elif mode == 2:
        packet = body
    family = url.family
    ranged = mode == 0 and offset is not None
    action = family.action(
        mode,
        length=len(packet) if packet is not None else None,
        post_type=post_type,
        offset=offset if ranged else None,
        size=size if ranged else None,
    )
    for line in (
        action,
        family.para("url", url.module_url),
        family.para("port", url.port),
        family.setup(),
        family.close(),
    ):
        encode_command(line)
    return RequestPlan(
        method=method,
        url=url,
        mode=mode,
        action=action,
        body=packet,
        post_type=post_type,
        offset=offset,
        size=size,
        keepalive=keepalive,
        connection=connection,
    )


def _canonical(content_type: str | None) -> str:
    """A content type the module writes itself has no parameters (``; charset=``)."""
    return (content_type or "").split(";")[0].strip().lower()
