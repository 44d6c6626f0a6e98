"""URLs as the module takes them: scheme picks the family, host and path go to ``url``."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from ..commands.http import CommandFamily, family_for_scheme
from ..errors import InvalidValue
from ..wire import check_text

__all__ = ["ModuleURL"]


@dataclass(frozen=True, slots=True)
class ModuleURL:
    """A parsed, validated request URL."""

    url: str
    scheme: str
    host: str
    port: int
    target: str
    family: CommandFamily
    authorization: str | None = None

    @classmethod
    def parse(cls, url: str) -> ModuleURL:
        """Parse and validate ``url``; raise :class:`~n58aio.errors.InvalidValue` when it
        holds control bytes or non-ASCII text, lacks a host, or exceeds the module limit."""
        check_text(url, "URL")
        parts = urlsplit(url)
        family = family_for_scheme(parts.scheme.lower())
        host = parts.hostname
        if not host:
            raise InvalidValue(f"URL has no host: {url!r}")
        try:
            port = parts.port or family.default_port
        except ValueError as exc:
            raise InvalidValue(f"bad port in URL {url!r}") from exc
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
        """The URL without credentials, for logs."""
        if self.authorization is None:
            return self.url
        parts = urlsplit(self.url)
        netloc = parts.netloc.rsplit("@", 1)[1]
        return parts._replace(netloc=netloc).geturl()
