"""Real network side of the module: name resolution, TCP/TLS connections and a small client."""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass

import h11

from .config import Firmware
from .filesystem import ModuleFS
from .state import Target, TlsConfig
from .tlscontext import ModuleTLSContext, TLSSetupError, module_tls_context, names_host

__all__ = [
    "FetchResult",
    "NetError",
    "build_ssl_context",
    "fetch",
    "forwarded",
    "open_connection",
    "resolve",
]

USER_AGENT = "N58-emulator"
SOCKET_RCVBUF = 65536
READER_LIMIT = 65536


class NetError(Exception):
    """Resolution, connection, TLS or configuration failure."""


async def resolve(host: str, overrides: Mapping[str, str]) -> str:
    """Address for ``host``: the override map first (case-insensitive), then the system resolver."""
    for name, address in overrides.items():
        if name.lower() == host.lower():
            return address
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise NetError(f"cannot resolve {host!r}: {exc}") from exc
    if not infos:
        raise NetError(f"cannot resolve {host!r}")
    return str(infos[0][4][0])


def forwarded(host: str, port: int, overrides: Mapping[str, str]) -> tuple[str, int] | None:
    """The ``ADDRESS:PORT`` an override ``HOST:PORT`` (case-insensitive) sends this target to,
    or None: how ``n58aio emulate --origin`` makes ``http://example.com/`` (port 80) reach a
    local origin on a free port. The TLS name checked is still ``host``."""
    key = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    for name, value in overrides.items():
        if name.lower() == key.lower():
            address, sep, number = value.rpartition(":")
            if sep and number.isdigit():
                return address.strip("[]"), int(number)
    return None


def build_ssl_context(cfg: TlsConfig, fs: ModuleFS, firmware: Firmware = "ch9") -> ModuleTLSContext:
    """The module's SSL context for ``AT+HTTPSCFG`` on ``firmware``; NetError when unusable.

    See :mod:`.tlscontext` for versions, cipher suites, SNI and verification.
    """
    try:
        return module_tls_context(cfg, fs, firmware)
    except TLSSetupError as exc:
        raise NetError(str(exc)) from exc


async def open_connection(
    target: Target,
    overrides: Mapping[str, str],
    ssl_context: ssl.SSLContext | None,
    timeout: float,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Resolve and connect (TLS when ``ssl_context`` is given).

    SNI names the URL host unless a :class:`ModuleTLSContext` says not to; the certificate's
    name is then checked here, after the handshake. The socket gets a small fixed receive
    buffer (like a module's TCP window) so that a client not reading the serial port soon holds
    the server back.
    """
    forward = forwarded(target.host, target.port, overrides)
    if forward is not None:
        address, port = forward
    else:
        address, port = await resolve(target.host, overrides), target.port
    loop = asyncio.get_running_loop()
    sock: socket.socket | None = None
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(address, port, type=socket.SOCK_STREAM)
            error: Exception = NetError(f"no address for {target.host}")
            for family, kind, proto, _, sockaddr in infos:
                sock = socket.socket(family, kind, proto)
                try:
                    sock.setblocking(False)
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SOCKET_RCVBUF)
                    await loop.sock_connect(sock, sockaddr)
                    break
                except OSError as exc:
                    sock.close()
                    sock, error = None, exc
            if sock is None:
                raise error
            reader, writer = await asyncio.open_connection(
                sock=sock,
                ssl=ssl_context,
                server_hostname=_server_hostname(ssl_context, target.host),
                limit=READER_LIMIT,
            )
            sock = None
            _check_name_without_sni(ssl_context, writer, target.host)
            return reader, writer
    except TimeoutError as exc:
        raise NetError(f"connect to {target.host}:{target.port} timed out") from exc
    except (OSError, ssl.SSLError, ssl.CertificateError) as exc:
        raise NetError(f"connect to {target.host}:{target.port} failed: {exc}") from exc
    finally:
        if sock is not None:
            sock.close()


def _server_hostname(ssl_context: ssl.SSLContext | None, host: str) -> str | None:
    """What asyncio gets: None for plain TCP, "" for TLS without SNI, else the host."""
    if ssl_context is None:
        return None
    if isinstance(ssl_context, ModuleTLSContext) and not ssl_context.send_sni:
        return ""
    return host


def _check_name_without_sni(
    ssl_context: ssl.SSLContext | None, writer: asyncio.StreamWriter, host: str
) -> None:
    if not isinstance(ssl_context, ModuleTLSContext):
        return
    if ssl_context.send_sni or not ssl_context.check_name:
        return  # OpenSSL checked the name during the handshake (or nothing is verified)
    if not names_host(writer.get_extra_info("peercert"), host):
        writer.transport.abort()
        raise NetError(f"the server certificate does not name {host}")


@dataclass(frozen=True)
class FetchResult:
    """Status code and body of a completed request."""

    status: int
    body: bytes


async def fetch(
    target: Target,
    overrides: Mapping[str, str],
    ssl_context: ssl.SSLContext | None,
    *,
    method: str = "GET",
    headers: list[tuple[str, str]] | None = None,
    body: bytes = b"",
    timeout: float = 60.0,
    max_body: int = 64 * 1024 * 1024,
) -> FetchResult:
    """One HTTP/1.1 request on its own connection (``Connection: close``)."""
    async with asyncio.timeout(timeout):
        reader, writer = await open_connection(target, overrides, ssl_context, timeout)
        try:
            return await _exchange(target, reader, writer, method, headers or [], body, max_body)
        except (OSError, ssl.SSLError, h11.ProtocolError) as exc:
            raise NetError(f"request failed: {exc}") from exc
        finally:
            writer.transport.abort()


async def _exchange(
    target: Target,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    method: str,
    headers: list[tuple[str, str]],
    body: bytes,
    max_body: int,
) -> FetchResult:
    conn = h11.Connection(our_role=h11.CLIENT)
    all_headers = [
        ("Host", target.host_header),
        ("User-Agent", USER_AGENT),
        ("Connection", "close"),
        *headers,
    ]
    if body or method in ("POST", "PUT"):
        all_headers.append(("Content-Length", str(len(body))))
    request = h11.Request(
        method=method,
        target=target.path.encode("utf-8", errors="surrogateescape"),
        headers=all_headers,
    )
    out = conn.send(request) or b""
    if body:
        out += conn.send(h11.Data(data=body)) or b""
    out += conn.send(h11.EndOfMessage()) or b""
    writer.write(out)
    await writer.drain()
    status = 0
    chunks: list[bytes] = []
    size = 0
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await reader.read(65536)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            size += len(event.data)
            if size > max_body:
                raise NetError("response body too large")
            chunks.append(bytes(event.data))
        elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
            break
    if status == 0:
        raise NetError("no response")
    return FetchResult(status, b"".join(chunks))
