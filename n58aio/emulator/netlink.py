"""Real network side of the module: name resolution, TCP/TLS connections and a small client."""

from __future__ import annotations

import asyncio
import socket
import ssl
import warnings
from collections.abc import Mapping
from dataclasses import dataclass

import h11

from .filesystem import FileSystemError, ModuleFS
from .state import Target, TlsConfig

__all__ = [
    "FetchResult",
    "NetError",
    "build_ssl_context",
    "fetch",
    "open_connection",
    "resolve",
]

_MIN_VERSION = {
    1: ssl.TLSVersion.TLSv1,
    2: ssl.TLSVersion.TLSv1_1,
    3: ssl.TLSVersion.TLSv1_2,
}
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


def build_ssl_context(cfg: TlsConfig, fs: ModuleFS) -> ssl.SSLContext:
    """An SSL context following ``AT+HTTPSCFG``; raises NetError when it cannot be built.

    authmode 0: no verification; 1: verify the server against ``cacert`` (and its host name);
    2: like 1 and present ``clientcert``/``clientkey``. sslversion sets the minimum protocol
    version; 0 (SSL 3.0) cannot be provided by the host TLS stack.
    """
    if cfg.sslversion not in _MIN_VERSION:
        raise NetError("SSL 3.0 is not available")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = _MIN_VERSION[cfg.sslversion]
    except (ValueError, ssl.SSLError):
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if cfg.authmode == 0:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    try:
        if not cfg.cacert:
            raise NetError("authmode needs a cacert")
        ctx.load_verify_locations(cafile=str(fs.path(cfg.cacert)))
        if cfg.authmode == 2:
            if not cfg.clientcert or not cfg.clientkey:
                raise NetError("authmode 2 needs clientcert and clientkey")
            ctx.load_cert_chain(str(fs.path(cfg.clientcert)), str(fs.path(cfg.clientkey)))
    except (OSError, ssl.SSLError, FileSystemError) as exc:
        raise NetError(f"bad TLS material: {exc}") from exc
    ctx.check_hostname = True
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


async def open_connection(
    target: Target,
    overrides: Mapping[str, str],
    ssl_context: ssl.SSLContext | None,
    timeout: float,
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """Resolve and connect (TLS with SNI = URL host when ``ssl_context`` is given).

    The socket gets a small fixed receive buffer (like a module's TCP window) so that a client
    not reading the serial port soon holds the server back.
    """
    address = await resolve(target.host, overrides)
    loop = asyncio.get_running_loop()
    sock: socket.socket | None = None
    try:
        async with asyncio.timeout(timeout):
            infos = await loop.getaddrinfo(address, target.port, type=socket.SOCK_STREAM)
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
                server_hostname=target.host if ssl_context is not None else None,
                limit=READER_LIMIT,
            )
            sock = None
            return reader, writer
    except TimeoutError as exc:
        raise NetError(f"connect to {target.host}:{target.port} timed out") from exc
    except (OSError, ssl.SSLError, ssl.CertificateError) as exc:
        raise NetError(f"connect to {target.host}:{target.port} failed: {exc}") from exc
    finally:
        if sock is not None:
            sock.close()


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
