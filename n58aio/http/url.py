"""URLs as the module takes them: scheme picks the family, host and path go to ``url``.

A URL is percent-encoded first, as httpx does: in the user information, the path, the query and
the fragment, a space, ``"``, ``<``, ``>``, non-ASCII text (as UTF-8) and the like become
``%XX``; an escape already there (``%20``) is kept. Where httpx leaves a character RFC 3986 does
not allow unencoded (``\\ ^ |`` in a path; also ``{ } `` and the backquote in a query; a ``%`` not
followed by two hex digits), it is encoded too: the server decodes the same text, and only
RFC 3986 characters reach the AT line. The module's limits (length, the host) then apply to the
encoded form. A host must be ASCII (its IDNA form). Messages about a URL show it through
:func:`~n58aio.redact.redact`: its password never appears.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from urllib.parse import SplitResult, unquote, urlsplit, urlunsplit

from ..commands.http import CommandFamily, family_for_scheme
from ..errors import InvalidValue
from ..redact import redact
from ..wire import check_text

__all__ = ["URL", "ModuleURL", "check_url_characters", "encode_url"]

_ALLOWED = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;="
)
_HEX = frozenset("0123456789abcdefABCDEF")


_UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
_SUB_DELIMS = "!$&'()*+,;="
# What each part keeps unencoded: RFC 3986 (``[`` and ``]`` as httpx keeps them); the rest
# (and a '%' that starts no escape) is percent-encoded, as UTF-8
_PATH_SAFE = frozenset(_UNRESERVED + _SUB_DELIMS + ":@/[]")
_QUERY_SAFE = _PATH_SAFE | {"?"}
_USERINFO_SAFE = frozenset(_UNRESERVED + _SUB_DELIMS + ":")


def _quote(text: str, safe: frozenset[str]) -> str:
    """Percent-encode what ``safe`` lacks, keeping the ``%XX`` escapes already there."""
    out: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "%" and set(text[index + 1 : index + 3]) <= _HEX and index + 3 <= len(text):
            out.append(text[index : index + 3])
            index += 3
            continue
        out.append(char if char in safe else "".join(f"%{b:02X}" for b in char.encode()))
        index += 1
    return "".join(out)


def encode_url(url: str) -> str:
    """``url`` percent-encoded as httpx sends it (user information, path, query, fragment);
    the scheme and the host are left as they are (checked afterwards). Control characters are
    refused with :class:`~n58aio.errors.InvalidValue`, as httpx refuses them."""
    for index, char in enumerate(url):
        if ord(char) < 0x20 or ord(char) == 0x7F:
            check_text(char, f"URL (position {index})")
    try:
        parts = urlsplit(url)
    except ValueError:
        raise InvalidValue(f"malformed URL {redact(url)!r}") from None
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if not hostport.isascii():
        try:
            hint = f": write its IDNA form {hostport.encode('idna').decode('ascii')!r}"
        except UnicodeError:
            hint = ""
        raise InvalidValue(f"the host of URL {redact(url)!r} is not ASCII{hint}")
    if at:
        user, colon, password = userinfo.partition(":")
        userinfo = _quote(user, _USERINFO_SAFE) + colon + _quote(password, _USERINFO_SAFE)
        netloc = f"{userinfo}@{hostport}"
    return urlunsplit(
        (
            parts.scheme,
            netloc,
            _quote(parts.path, _PATH_SAFE),
            _quote(parts.query, _QUERY_SAFE),
            _quote(parts.fragment, _QUERY_SAFE),
        )
    )


def check_url_characters(url: str) -> str:
    """Refuse a character RFC 3986 does not allow unencoded in a URL (the message tells its
    percent-encoding and does not show the URL); return ``url`` unchanged otherwise."""
    for index, char in enumerate(url):
        if char == "%":
            if len(url) < index + 3 or not set(url[index + 1 : index + 3]) <= _HEX:
                raise InvalidValue(
                    f"URL has a '%' at position {index} not followed by two hex digits; "
                    "write a literal '%' as %25"
                )
        elif char not in _ALLOWED:
            raise InvalidValue(
                f"URL contains {char!r} at position {index}, which a URL may not hold "
                f"unencoded; percent-encode it as %{ord(char):02X}"
            )
    return url


@dataclass(frozen=True, slots=True)
class ModuleURL:
    """A parsed, validated request URL."""

    url: str
    scheme: str
    host: str
    port: int
    target: str
    family: CommandFamily
    authorization: str | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return f"ModuleURL({self.redacted()!r})"

    @classmethod
    def parse(cls, url: str) -> ModuleURL:
        """Percent-encode ``url`` as httpx does (:func:`encode_url`), parse and validate it;
        raise :class:`~n58aio.errors.InvalidValue` when it holds control bytes, a host that is
        not ASCII or holds characters a URL may not, lacks a host, or exceeds the module limit
        once encoded. No message shows the URL's credentials."""
        url = encode_url(url)
        check_text(url, "URL")
        check_url_characters(url)
        try:
            parts = urlsplit(url)
            host = parts.hostname
        except ValueError:
            raise InvalidValue(f"malformed host in URL {redact(url)!r}") from None
        family = family_for_scheme(parts.scheme.lower())
        if not host:
            raise InvalidValue(f"URL has no host: {redact(url)!r}")
        try:
            port = parts.port or family.default_port
        except ValueError:
            raise InvalidValue(f"bad port in URL {redact(url)!r}") from None
        target = parts.path or "/"
        if parts.query:
            target += "?" + parts.query
        authorization = None
        if parts.username is not None:
            credentials = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
        parsed = cls(url, family.source.lower(), host, port, target, family, authorization)
        check_text(parsed.module_url, "URL", max_length=family.max_url)
        return parsed

    @property
    def host_for_module(self) -> str:
        """The host as written in ``AT+HTTPPARA=url``: IPv6 literals in brackets."""
        return f"[{self.host}]" if ":" in self.host else self.host

    @property
    def module_url(self) -> str:
        """The ``url`` parameter: host and target, no scheme (the port goes in ``port``)."""
        return self.host_for_module + self.target

    @property
    def host_header(self) -> str:
        """The ``Host`` header value (port only when not the scheme default)."""
        if self.port == self.family.default_port:
            return self.host_for_module
        return f"{self.host_for_module}:{self.port}"

    @property
    def origin(self) -> tuple[str, str, int]:
        """(scheme, host, port): requests to one origin can share a keep-alive link."""
        return (self.scheme, self.host, self.port)

    def redacted(self) -> str:
        """The URL with its credentials hidden (:func:`~n58aio.redact.redact`), for display."""
        return redact(self.url)


_DEFAULT_PORTS = {"http": 80, "https": 443}


class URL(str):
    """A response's URL with its credentials hidden: still a ``str``, with the parsed members
    of ``httpx.URL`` (``scheme``, ``host``, ``port``, ``path``, ``query``, ``fragment``...)."""

    __slots__ = ()

    @property
    def _parts(self) -> SplitResult:
        return urlsplit(str(self))

    @property
    def scheme(self) -> str:
        """``http`` or ``https``."""
        return self._parts.scheme.lower()

    @property
    def host(self) -> str:
        """The host in lower case, an IPv6 address without brackets."""
        return self._parts.hostname or ""

    @property
    def port(self) -> int | None:
        """The port when it is not the scheme's default (as ``httpx.URL.port``), else None."""
        port = self._parts.port
        return None if port == _DEFAULT_PORTS.get(self.scheme) else port

    @property
    def netloc(self) -> str:
        """Host and port as in the ``Host`` header (no credentials)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port is None else f"{host}:{self.port}"

    @property
    def path(self) -> str:
        """The path, ``/`` when empty."""
        return self._parts.path or "/"

    @property
    def query(self) -> str:
        """The query string without ``?`` (``httpx.URL.query`` gives it as bytes)."""
        return self._parts.query

    @property
    def raw_path(self) -> str:
        """Path and query, as sent in the request line."""
        return self.path + (f"?{self.query}" if self.query else "")

    @property
    def fragment(self) -> str:
        """The fragment without ``#``."""
        return self._parts.fragment

    def __repr__(self) -> str:
        return f"URL({str(self)!r})"
