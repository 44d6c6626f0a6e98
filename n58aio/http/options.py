"""The options of one request, defined once: ``Modem``, ``HttpClient`` and ``ModemPool`` take
them as ``**options: Unpack[RequestOptions]``, so a type checker catches a misspelt option."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Literal, TypedDict

from ..errors import InvalidOption
from .headers import HeaderTypes
from .timeouts import TimeoutTypes
from .tls import TLSConfig

__all__ = ["DEFAULT_MAX_REDIRECTS", "RecvMode", "RequestOptions", "check_request_options"]

RecvMode = Literal[0, 1]
"""``AT+HTTPPARA=recvmode``: 1 length-prefixed chunks, 0 raw bytes."""

DEFAULT_MAX_REDIRECTS = 20
"""How many redirects a request follows at most, as httpx."""


class RequestOptions(TypedDict, total=False):
    """The keyword options of a request (every one may be left out).

    ``headers``: extra request headers. ``content`` / ``data`` / ``json``: the body (bytes or
    text, a form, a JSON value; one of them). ``offset`` and ``size``: a ranged GET.
    ``tls``: HTTPS settings for this request. ``keepalive``, ``recvmode``: override the
    modem's defaults. ``timeouts``: a :class:`~n58aio.Timeouts` or seconds for every phase.
    ``follow_redirects`` (default False) and ``max_redirects`` (default 20): as httpx.
    ``compress`` (default True, as httpx): offer compressed responses (``Accept-Encoding``);
    a plain GET then goes as a custom packet (the module writes no such header itself). False
    asks for nothing: a plain GET stays ``AT+HTTPACTION=0``. Ranged GETs never ask.
    """

    headers: HeaderTypes | None
    content: bytes | str | None
    data: Mapping[str, Any] | None
    json: Any
    offset: int | None
    size: int | None
    tls: TLSConfig | None
    keepalive: bool | None
    recvmode: RecvMode | None
    timeouts: TimeoutTypes
    follow_redirects: bool
    max_redirects: int
    compress: bool


_KNOWN = frozenset(RequestOptions.__annotations__)


def check_request_options(options: Mapping[str, object]) -> None:
    """Refuse an option :class:`RequestOptions` does not define, naming the closest one."""
    for name in options:
        if name not in _KNOWN:
            close = difflib.get_close_matches(name, sorted(_KNOWN), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(_KNOWN))
            raise InvalidOption(f"unknown request option {name!r}{hint} (known: {known})")
    max_redirects = options.get("max_redirects")
    if max_redirects is not None and (
        isinstance(max_redirects, bool) or not isinstance(max_redirects, int) or max_redirects < 0
    ):
        raise InvalidOption(f"max_redirects must be an integer >= 0, not {max_redirects!r}")
