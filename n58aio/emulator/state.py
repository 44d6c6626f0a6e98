"""State of the emulated module: HTTP/HTTPS parameter sets, links and SSL configuration."""

from __future__ import annotations

import asyncio
import ipaddress
from dataclasses import dataclass, field

__all__ = [
    "HttpParams",
    "Link",
    "ModuleState",
    "Service",
    "Target",
    "TlsConfig",
    "parse_url",
]

MAX_URL = {False: 2048, True: 512}


@dataclass
class HttpParams:
    """Values set with ``AT+HTTPPARA`` / ``AT+HTTPSPARA``."""

    url: str | None = None
    port: int | None = None
    keepalive: int = 0
    recvmode: int = 0


@dataclass(frozen=True)
class Target:
    """Where a request goes: host, port, request target and whether TLS is used."""

    host: str
    port: int
    path: str
    tls: bool

    @property
    def default_port(self) -> int:
        """80 for HTTP, 443 for HTTPS."""
        return 443 if self.tls else 80

    @property
    def host_header(self) -> str:
        """Value of the ``Host`` header (port only when not the default one)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == self.default_port else f"{host}:{self.port}"

    @property
    def basename(self) -> str:
        """Last segment of the URL path without query (may be empty)."""
        return self.path.split("?", 1)[0].rsplit("/", 1)[-1]


def parse_url(url: str, port: int | None, tls: bool) -> Target:
    """Split ``[scheme://]host[:port][/path]``; ``port`` (the port parameter) wins if set.

    Raises ValueError for a URL without host or with a bad port.
    """
    rest = url.strip()
    lowered = rest.lower()
    for scheme in ("http://", "https://"):
        if lowered.startswith(scheme):
            rest = rest[len(scheme) :]
            break
    slash = rest.find("/")
    query = rest.find("?")
    cut = min(i for i in (slash, query, len(rest)) if i >= 0)
    authority, path = rest[:cut], rest[cut:]
    if not path:
        path = "/"
    elif path[0] == "?":
        path = "/" + path
    url_port: int | None = None
    if authority.startswith("["):
        end = authority.find("]")
        if end < 0:
            raise ValueError("unterminated IPv6 literal")
        host = authority[1:end]
        tail = authority[end + 1 :]
        if tail:
            if not tail.startswith(":"):
                raise ValueError("bad authority")
            url_port = _port(tail[1:])
    elif authority.count(":") == 1:
        host, port_text = authority.split(":")
        url_port = _port(port_text)
    else:
        host = authority
    if not host or any(c.isspace() for c in host):
        raise ValueError("no host in URL")
    if ":" in host:
        ipaddress.IPv6Address(host)
    chosen = port if port is not None else url_port
    if chosen is None:
        chosen = 443 if tls else 80
    return Target(host, chosen, path, tls)


def _port(text: str) -> int:
    if not text.isdigit():
        raise ValueError(f"bad port {text!r}")
    value = int(text)
    if not 1 <= value <= 65535:
        raise ValueError(f"port out of range: {value}")
    return value


@dataclass
class TlsConfig:
    """Values set with ``AT+HTTPSCFG`` (``ciphersuite`` on chapter-9 firmware, ``sni`` on v2.0)."""

    sslversion: int = 3
    authmode: int = 0
    ciphersuite: str = ""
    cacert: str = ""
    clientcert: str = ""
    clientkey: str = ""
    sni: int = 0


@dataclass(eq=False)
class Link:
    """An open HTTP(S) connection set up with ``AT+HTTPSETUP`` / ``AT+HTTPSSETUP``."""

    host: str
    port: int
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    recvmode: int = 0
    header_pending: bool = False
    killed: bool = False
    relay: asyncio.Task[None] | None = None

    def abort(self) -> None:
        """Drop the connection at once (no TLS close_notify, no FIN wait)."""
        transport = self.writer.transport
        if not transport.is_closing():
            transport.abort()


@dataclass(eq=False)
class Service:
    """One of the two independent HTTP stacks of the module (plain or TLS)."""

    tls: bool
    params: HttpParams = field(default_factory=HttpParams)
    link: Link | None = None
    get_state: int = 0
    get_err: int | None = None
    get_task: asyncio.Task[None] | None = None
    file_task: asyncio.Task[None] | None = None

    @property
    def tag(self) -> str:
        """``HTTP`` or ``HTTPS``: the stem of the command and report names."""
        return "HTTPS" if self.tls else "HTTP"

    @property
    def max_url(self) -> int:
        """Longest URL accepted by the PARA command."""
        return MAX_URL[self.tls]

    def target(self) -> Target:
        """Parse the current URL parameter (ValueError if unset or invalid)."""
        if self.params.url is None:
            raise ValueError("url not set")
        return parse_url(self.params.url, self.params.port, self.tls)


@dataclass
class ModuleState:
    """Everything a reboot clears."""

    pdp_up: bool = False
    sim_unlocked: bool = False
    cfun: int = 1
    creg_n: int = 0
    cereg_n: int = 0
    cgreg_n: int = 0
    ipr: int = 0
    cmgf: int = 0
    csca: str = "+8613800000000"
    contexts: dict[int, str] = field(default_factory=dict)
    auth: dict[int, tuple[int, str, str]] = field(default_factory=dict)
    ip_suffix: int = 2
    http: Service = field(default_factory=lambda: Service(tls=False))
    https: Service = field(default_factory=lambda: Service(tls=True))
    tls: TlsConfig = field(default_factory=TlsConfig)
