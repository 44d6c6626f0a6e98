"""A small, fully controllable local HTTP/1.1 + HTTPS origin server.

Used by tests, benchmarks and ``n58aio demo`` as the far end of the emulated modem.
Built on :func:`asyncio.start_server` and ``h11`` so that framing is exact and every
request is recorded.

Routes (``HEAD`` gives the same headers as ``GET`` without the body; ``/bytes`` and
``/files`` answer 405 to other methods, the remaining routes accept any method):

``/bytes/<n>``
    *n* bytes of :func:`pattern_bytes`; single ``Range`` requests give 206/416.
    Query options: ``chunked=1`` (chunked transfer coding, ``chunk=<k>`` bytes per chunk,
    default 8192), ``close=1`` (body delimited by closing the connection), ``delay=<s>``
    (before the headers), ``drip=<s>`` (between body writes), ``cut=<k>`` (send at most *k*
    body bytes, never finish the message, close the connection), ``sha256=1`` (adds
    ``X-Content-SHA256`` of the full content), ``chunk=<k>`` (also the write size when not
    chunked, default 64 KiB), ``encoding=<coding>`` (compress the body with gzip, deflate, br or
    zstd, as :mod:`~n58aio.emulator.origin_coding` describes).
``/json/<n>``
    A JSON document of at least *n* bytes (:func:`~n58aio.emulator.origin_coding.json_document`),
    gzip-compressed when the request accepts gzip, as nginx with ``gzip on`` does; the same
    options as ``/bytes``.
``/files/<name>``
    A file below the ``files`` directory, with the same range support and options.
``/status/<code>``
    That status with a ``"<code> <reason>\\n"`` text body.
``/echo``
    Any method; JSON description of the request.
``/upload/<name>``
    ``POST``/``PUT``; stores the body in :attr:`OriginServer.uploads`, answers 201 JSON.
``/auth``
    401 unless ``Authorization: Bearer secret-token`` or Basic ``user:pass``.
``/redirect``
    302 to ``/bytes/10`` (``to=<location>`` and ``code=<3xx>`` override).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import functools
import hashlib
import http
import itertools
import json
import math
import re
import ssl
from collections.abc import AsyncGenerator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

import h11

from .origin_coding import CODINGS, encode_pieces, json_document, negotiate

if TYPE_CHECKING:  # trustme (the emulator extra) is needed only to make TLS files
    from n58aio.emulator.tlsfiles import TLSFiles

__all__ = [
    "AUTH_BASIC_PASSWORD",
    "AUTH_BASIC_USER",
    "AUTH_BEARER_TOKEN",
    "OriginServer",
    "RecordedRequest",
    "pattern_bytes",
    "pattern_sha256",
]

AUTH_BEARER_TOKEN = "secret-token"
AUTH_BASIC_USER = "user"
AUTH_BASIC_PASSWORD = "pass"

_READ_SIZE = 256 * 1024
_WRITE_SIZE = 64 * 1024
_CHUNK_SIZE = 8192
_FILE_READ_SIZE = 1024 * 1024
_CLOSE_TIMEOUT = 2.0
_HANDSHAKE_TIMEOUT = 10.0

Headers = list[tuple[bytes, bytes]]

# --------------------------------------------------------------------------------------
# Deterministic content
# --------------------------------------------------------------------------------------
#
# byte(p) = (p % 251 + p // 251 + 97 * (p // 64256)) % 256
#
# Within a 64256-byte "superblock" (256 rows of 251 bytes) row i holds (r + i) % 256; each
# superblock j is that block shifted by 97 * j.  A misplaced range is detected unless it
# is off by a multiple of the 16 MiB period (256 superblocks).

_ROW = 251
_SUPER = _ROW * 256
_SUPERS = 256
_BASE = bytes((r + i) % 256 for i in range(256) for r in range(_ROW))


@functools.cache
def _superblock(j: int) -> bytes:
    shift = (97 * j) % 256
    if shift == 0:
        return _BASE
    return _BASE.translate(bytes((b + shift) % 256 for b in range(256)))


def pattern_bytes(offset: int, size: int) -> bytes:
    """Return *size* bytes of the deterministic test pattern starting at *offset*."""
    if offset < 0 or size < 0:
        raise ValueError("offset and size must be non-negative")
    j, start = divmod(offset, _SUPER)
    if start + size <= _SUPER:
        return _superblock(j % _SUPERS)[start : start + size]
    parts: list[bytes] = []
    pos, end = offset, offset + size
    while pos < end:
        j, start = divmod(pos, _SUPER)
        n = min(_SUPER - start, end - pos)
        parts.append(_superblock(j % _SUPERS)[start : start + n])
        pos += n
    return b"".join(parts)


@functools.lru_cache(maxsize=64)
def pattern_sha256(size: int) -> str:
    """Hex SHA-256 of ``pattern_bytes(0, size)``, computed without materialising it."""
    if size < 0:
        raise ValueError("size must be non-negative")
    digest = hashlib.sha256()
    full, rest = divmod(size, _SUPER)
    for j in range(full):
        digest.update(_superblock(j % _SUPERS))
    digest.update(_superblock(full % _SUPERS)[:rest])
    return digest.hexdigest()


# --------------------------------------------------------------------------------------
# Recorded requests
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """A request as received by :class:`OriginServer` (headers in original case)."""

    method: str
    target: str
    headers: Headers
    body: bytes
    http_version: str
    connection_id: int
    client_cert_subject: str | None = None

    @property
    def path(self) -> str:
        """The target without its query string."""
        return urlsplit(self.target).path

    def header(self, name: str) -> str | None:
        """First value of header *name* (case-insensitive), decoded as latin-1."""
        wanted = name.lower().encode("latin-1")
        for key, value in self.headers:
            if key.lower() == wanted:
                return value.decode("latin-1")
        return None


# --------------------------------------------------------------------------------------
# Server
# --------------------------------------------------------------------------------------


class OriginServer:
    """Local HTTP(S) origin; use as ``async with OriginServer() as origin: ...``.

    HTTPS with ``tls`` (a context made from those files) or with a ready ``tls_context``.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: TLSFiles | None = None,
        require_client_cert: bool = False,
        files: Path | None = None,
        idle_timeout: float = 30.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        if require_client_cert and tls is None:
            raise ValueError("require_client_cert needs tls")
        if tls_context is not None and tls is not None:
            raise ValueError("give tls or tls_context, not both")
        self.host = host
        self.port = port
        self.tls = tls
        self.tls_context = tls_context
        self.require_client_cert = require_client_cert
        self.files = files
        self.idle_timeout = idle_timeout
        self.requests: list[RecordedRequest] = []
        self.uploads: dict[str, bytes] = {}
        self.connections_opened = 0
        self._server: asyncio.Server | None = None
        self._ids = itertools.count(1)
        self._writers: dict[int, asyncio.StreamWriter] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False

    @property
    def scheme(self) -> Literal["http", "https"]:
        """``"https"`` when serving TLS, else ``"http"``."""
        return "https" if self.tls is not None or self.tls_context is not None else "http"

    @property
    def open_connections(self) -> int:
        """Number of connections currently open."""
        return len(self._writers)

    def url(self, path: str = "/") -> str:
        """Absolute URL for *path* on this server (the server must be started)."""
        if self._server is None:
            raise RuntimeError("OriginServer is not started")
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}{path if path.startswith('/') else '/' + path}"

    async def start(self) -> None:
        """Start listening; :attr:`port` is updated to the bound port."""
        if self._server is not None:
            raise RuntimeError("OriginServer is already started")
        ctx = self.tls_context
        if self.tls is not None:
            ctx = self.tls.server_context(require_client_cert=self.require_client_cert)
        self._closing = False
        self._server = await asyncio.start_server(
            self._handle,
            self.host,
            self.port,
            ssl=ctx,
            ssl_handshake_timeout=_HANDSHAKE_TIMEOUT if ctx is not None else None,
            reuse_address=True,
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        """Stop listening and abort every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        self._closing = True
        server.close()
        abort_clients = getattr(server, "abort_clients", None)  # Python >= 3.13
        if abort_clients is not None:
            abort_clients()
        for writer in list(self._writers.values()):
            writer.transport.abort()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await server.wait_closed()

    async def __aenter__(self) -> OriginServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- connection handling -----------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if self._closing or task is None:
            writer.transport.abort()
            return
        conn_id = next(self._ids)
        self.connections_opened += 1
        self._tasks.add(task)
        self._writers[conn_id] = writer
        subject = _cert_subject(writer.get_extra_info("peercert"))
        try:
            try:
                await self._serve(conn_id, subject, reader, writer)
            except OSError:  # includes ssl.SSLError, ConnectionError, TimeoutError (idle)
                pass
            finally:
                del self._writers[conn_id]
                self._tasks.discard(task)
                await _close_writer(writer)
        except asyncio.CancelledError:
            # Only close() cancels these tasks; end quietly (asyncio 3.11's stream callback
            # would log a cancelled connection handler as an error).
            writer.transport.abort()

    async def _serve(
        self,
        conn_id: int,
        subject: str | None,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = await self._next_event(conn, reader)
                if not isinstance(event, h11.Request):
                    return
                if conn.they_are_waiting_for_100_continue:
                    _send(conn, writer, h11.InformationalResponse(status_code=100, headers=[]))
                body = await self._read_body(conn, reader)
                request = RecordedRequest(
                    method=event.method.decode("ascii"),
                    target=event.target.decode("latin-1"),
                    headers=[(name, value) for name, value in event.headers.raw_items()],
                    body=body,
                    http_version=event.http_version.decode("ascii"),
                    connection_id=conn_id,
                    client_cert_subject=subject,
                )
                self.requests.append(request)
                must_close = await self._dispatch(_Exchange(conn, writer, request))
                if must_close or conn.our_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except h11.RemoteProtocolError as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                status = exc.error_status_hint
                body = f"{status} {_reason(status)}\n".encode()
                writer.write(
                    _raw_head(
                        status,
                        [
                            (b"Content-Type", b"text/plain; charset=utf-8"),
                            (b"Content-Length", str(len(body)).encode()),
                            (b"Connection", b"close"),
                        ],
                    )
                    + body
                )
                await writer.drain()

    async def _next_event(
        self, conn: h11.Connection, reader: asyncio.StreamReader
    ) -> h11.Event | type[h11.NEED_DATA] | type[h11.PAUSED]:
        event = conn.next_event()
        while event is h11.NEED_DATA:
            async with asyncio.timeout(self.idle_timeout):
                data = await reader.read(_READ_SIZE)
            conn.receive_data(data)
            event = conn.next_event()
        return event

    async def _read_body(self, conn: h11.Connection, reader: asyncio.StreamReader) -> bytes:
        parts: list[bytes] = []
        while True:
            event = await self._next_event(conn, reader)
            if isinstance(event, h11.Data):
                parts.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                return b"".join(parts)
            else:  # pragma: no cover - h11 raises before this can happen
                raise h11.RemoteProtocolError("unexpected event in request body")

    # -- routes ------------------------------------------------------------------------

    async def _dispatch(self, ex: _Exchange) -> bool:
        """Answer one request; return True when the connection must be closed."""
        parts = ex.path.split("/")[1:]
        method = ex.request.method
        get_like = method in ("GET", "HEAD")
        match parts:
            case ["echo"]:
                await self._echo(ex)
            case ["upload", name] if name:
                if method not in ("POST", "PUT"):
                    return await ex.respond_text(405, headers=[(b"Allow", b"POST, PUT")])
                await self._upload(ex, unquote(name))
            case ["bytes" | "files" | "json", *_] if not get_like:
                await ex.respond_text(405, headers=[(b"Allow", b"GET, HEAD")])
            case ["bytes", size] if _is_int(size):
                n = int(size)
                return await _serve_content(ex, n, _pattern_source, _pattern_sha(n))
            case ["json", size] if _is_int(size):
                document = json_document(int(size))
                return await _serve_content(
                    ex, len(document), _bytes_source(document), _bytes_sha(document), gzip=True
                )
            case ["files", *names] if names and self.files is not None:
                found = await asyncio.to_thread(_find_file, self.files, names)
                if found is None:
                    return await ex.respond_text(404)
                path, n = found
                return await _serve_content(ex, n, _file_source(path), _file_sha(path))
            case ["status", code] if _is_int(code) and 200 <= int(code) <= 999:
                await ex.respond_text(int(code))
            case ["auth"]:
                if _authorized(ex.request.header("authorization")):
                    await ex.respond(200, b"ok")
                else:
                    challenge = b'Basic realm="n58aio", Bearer'
                    await ex.respond_text(401, headers=[(b"WWW-Authenticate", challenge)])
            case ["redirect"]:
                code = ex.query.get("code", "302")
                location = ex.query.get("to", "/bytes/10")
                if not (_is_int(code) and 300 <= int(code) <= 399 and _HEADER_SAFE.match(location)):
                    return await ex.respond_text(400)
                await ex.respond_text(int(code), headers=[(b"Location", location.encode())])
            case ["status" | "bytes", *_]:
                await ex.respond_text(400)
            case _:
                await ex.respond_text(404)
        return False

    async def _echo(self, ex: _Exchange) -> None:
        req = ex.request
        payload = {
            "method": req.method,
            "target": req.target,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in req.headers],
            "body_b64": base64.b64encode(req.body).decode("ascii"),
            "body_len": len(req.body),
            "content_type": req.header("content-type"),
        }
        await ex.respond_json(200, payload)

    async def _upload(self, ex: _Exchange, name: str) -> None:
        body = ex.request.body
        self.uploads[name] = body
        digest = await asyncio.to_thread(lambda: hashlib.sha256(body).hexdigest())
        await ex.respond_json(201, {"name": name, "size": len(body), "sha256": digest})


# --------------------------------------------------------------------------------------
# One request/response exchange
# --------------------------------------------------------------------------------------


class _Exchange:
    def __init__(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: RecordedRequest
    ) -> None:
        self.conn = conn
        self.writer = writer
        self.request = request
        split = urlsplit(request.target)
        self.path = split.path
        self.query = dict(parse_qsl(split.query, keep_blank_values=True))
        self.head = request.method == "HEAD"

    def send(self, event: h11.Event) -> None:
        _send(self.conn, self.writer, event)

    async def respond(
        self,
        status: int,
        body: bytes = b"",
        *,
        content_type: bytes = b"text/plain; charset=utf-8",
        headers: Headers | None = None,
    ) -> bool:
        """Send a complete response with a Content-Length body; returns False (keep open)."""
        all_headers: Headers = []
        if status not in (204, 304):
            all_headers += [
                (b"Content-Type", content_type),
                (b"Content-Length", str(len(body)).encode()),
            ]
        else:
            body = b""
        all_headers += headers or []
        self.send(h11.Response(status_code=status, headers=all_headers, reason=_reason(status)))
        if body and not self.head:
            self.send(h11.Data(data=body))
        self.send(h11.EndOfMessage())
        await self.writer.drain()
        return False

    async def respond_text(self, status: int, *, headers: Headers | None = None) -> bool:
        return await self.respond(status, f"{status} {_reason(status)}\n".encode(), headers=headers)

    async def respond_json(self, status: int, payload: Mapping[str, object]) -> bool:
        body = json.dumps(payload).encode()
        return await self.respond(status, body, content_type=b"application/json")


def _send(conn: h11.Connection, writer: asyncio.StreamWriter, event: h11.Event) -> None:
    data = conn.send(event)
    if data:
        writer.write(data)


# --------------------------------------------------------------------------------------
# Content streaming (/bytes and /files)
# --------------------------------------------------------------------------------------

# (offset, size, piece size) -> pieces of at most `piece size` bytes
_Source = Callable[[int, int, int], AsyncGenerator[bytes, None]]


class _Unsatisfiable(Exception):
    pass


@dataclass(frozen=True)
class _ContentOptions:
    chunked: bool
    close: bool
    delay: float
    drip: float
    cut: int | None
    sha256: bool
    piece: int
    encoding: str | None = None

    @classmethod
    def parse(cls, query: Mapping[str, str]) -> _ContentOptions:
        chunked = _flag(query.get("chunked"))
        piece = int(query.get("chunk", _CHUNK_SIZE if chunked else _WRITE_SIZE))
        cut = query.get("cut")
        opts = cls(
            chunked=chunked,
            close=_flag(query.get("close")),
            delay=float(query.get("delay", 0)),
            drip=float(query.get("drip", 0)),
            cut=None if cut is None else int(cut),
            sha256=_flag(query.get("sha256")),
            piece=piece,
            encoding=query.get("encoding"),
        )
        if opts.encoding is not None and opts.encoding not in CODINGS:
            raise ValueError(f"unknown encoding {opts.encoding!r}")
        if piece < 1 or (opts.cut is not None and opts.cut < 0):
            raise ValueError("chunk must be >= 1 and cut >= 0")
        if not (0 <= opts.delay < math.inf and 0 <= opts.drip < math.inf):
            raise ValueError("delay and drip must be finite and >= 0")
        return opts


async def _serve_content(
    ex: _Exchange,
    size: int,
    source: _Source,
    sha: Callable[[], Awaitable[str]],
    *,
    gzip: bool = False,
) -> bool:
    """Serve a representation of ``size`` bytes; ``gzip``: compressed when the request
    accepts it (nginx's ``gzip_types``)."""
    try:
        opts = _ContentOptions.parse(ex.query)
    except ValueError:
        return await ex.respond_text(400)
    coding = opts.encoding or (negotiate(ex.request.header("accept-encoding")) if gzip else None)
    if coding is not None:
        return await _serve_encoded(ex, size, source, opts, coding)
    try:
        rng = _parse_range(ex.request.header("range"), size)
    except _Unsatisfiable:
        return await ex.respond_text(416, headers=[(b"Content-Range", f"bytes */{size}".encode())])
    start, length = rng if rng is not None else (0, size)
    if opts.delay:
        await asyncio.sleep(opts.delay)

    headers: Headers = [
        (b"Content-Type", b"application/octet-stream"),
        (b"Accept-Ranges", b"bytes"),
    ]
    status = 200
    if rng is not None:
        status = 206
        headers.append((b"Content-Range", f"bytes {start}-{start + length - 1}/{size}".encode()))
    if opts.sha256:
        headers.append((b"X-Content-SHA256", (await sha()).encode()))
    send_len = length if opts.cut is None else min(opts.cut, length)

    if opts.close:  # h11 would force chunked on HTTP/1.1: frame by hand
        headers.append((b"Connection", b"close"))
        ex.writer.write(_raw_head(status, headers))
        if not ex.head:
            await _pump(ex, source(start, send_len, opts.piece), opts.drip, raw=True)
        await ex.writer.drain()
        return True

    if opts.chunked:
        headers.append((b"Transfer-Encoding", b"chunked"))
    else:
        headers.append((b"Content-Length", str(length).encode()))
    ex.send(h11.Response(status_code=status, headers=headers, reason=_reason(status)))
    if ex.head:
        ex.send(h11.EndOfMessage())
        await ex.writer.drain()
        return False
    await _pump(ex, source(start, send_len, opts.piece), opts.drip, raw=False)
    if opts.cut is not None:
        return True  # never finish the message: the caller closes the connection
    ex.send(h11.EndOfMessage())
    await ex.writer.drain()
    return False


async def _serve_encoded(
    ex: _Exchange, size: int, source: _Source, opts: _ContentOptions, coding: str
) -> bool:
    """A compressed response as nginx sends it: chunked, no ranges, ``Vary``."""
    if opts.delay:
        await asyncio.sleep(opts.delay)
    json_type = ex.path.startswith("/json")
    headers: Headers = [
        (b"Content-Type", b"application/json" if json_type else b"application/octet-stream"),
        (b"Content-Encoding", coding.encode()),
        (b"Vary", b"Accept-Encoding"),
    ]
    pieces = encode_pieces(source(0, size, opts.piece), coding)
    if opts.close:
        headers.append((b"Connection", b"close"))
        ex.writer.write(_raw_head(200, headers))
        if not ex.head:
            await _pump(ex, pieces, opts.drip, raw=True)
        await ex.writer.drain()
        return True
    headers.append((b"Transfer-Encoding", b"chunked"))
    ex.send(h11.Response(status_code=200, headers=headers, reason=_reason(200)))
    if not ex.head:
        await _pump(ex, pieces, opts.drip, raw=False)
    ex.send(h11.EndOfMessage())
    await ex.writer.drain()
    return False


def _bytes_source(document: bytes) -> _Source:
    async def source(offset: int, size: int, piece: int) -> AsyncGenerator[bytes, None]:
        for pos in range(offset, offset + size, piece):
            yield document[pos : min(pos + piece, offset + size)]

    return source


def _bytes_sha(document: bytes) -> Callable[[], Awaitable[str]]:
    async def sha() -> str:
        return hashlib.sha256(document).hexdigest()

    return sha


async def _pump(
    ex: _Exchange, pieces: AsyncGenerator[bytes, None], drip: float, *, raw: bool
) -> None:
    writer = ex.writer
    first = True
    async with contextlib.aclosing(pieces):
        async for piece in pieces:
            if drip and not first:
                await asyncio.sleep(drip)
            first = False
            if raw:
                writer.write(piece)
            else:
                ex.send(h11.Data(data=piece))
            await writer.drain()


async def _pattern_source(offset: int, size: int, piece: int) -> AsyncGenerator[bytes, None]:
    end = offset + size
    for pos in range(offset, end, piece):
        yield pattern_bytes(pos, min(piece, end - pos))


def _pattern_sha(size: int) -> Callable[[], Awaitable[str]]:
    async def sha() -> str:
        return await asyncio.to_thread(pattern_sha256, size)

    return sha


def _file_source(path: Path) -> _Source:
    async def source(offset: int, size: int, piece: int) -> AsyncGenerator[bytes, None]:
        f: IO[bytes] = await asyncio.to_thread(path.open, "rb")
        try:
            await asyncio.to_thread(f.seek, offset)
            remaining = size
            while remaining > 0:
                block = await asyncio.to_thread(f.read, min(max(piece, _FILE_READ_SIZE), remaining))
                if not block:
                    raise OSError(f"{path} shrank while being served")
                remaining -= len(block)
                for i in range(0, len(block), piece):
                    yield block[i : i + piece]
        finally:
            f.close()

    return source


def _file_sha(path: Path) -> Callable[[], Awaitable[str]]:
    def digest() -> str:
        with path.open("rb") as f:
            return hashlib.file_digest(f, "sha256").hexdigest()

    async def sha() -> str:
        return await asyncio.to_thread(digest)

    return sha


def _find_file(root: Path, names: Sequence[str]) -> tuple[Path, int] | None:
    """Resolve ``/files/<names...>`` below *root*; None if missing or escaping *root*."""
    decoded = [unquote(name) for name in names]
    if any(n in ("", ".", "..") or "/" in n or "\\" in n or "\0" in n for n in decoded):
        return None
    base = root.resolve()
    candidate = base.joinpath(*decoded).resolve()
    if not candidate.is_relative_to(base) or not candidate.is_file():
        return None
    return candidate, candidate.stat().st_size


_RANGE_RE = re.compile(
    r"[ \t]*bytes[ \t]*=[ \t]*([0-9]*)[ \t]*-[ \t]*([0-9]*)[ \t]*", re.IGNORECASE
)


def _parse_range(value: str | None, size: int) -> tuple[int, int] | None:
    """Parse a single byte range into (start, length); None means "ignore the header"."""
    if value is None:
        return None
    m = _RANGE_RE.fullmatch(value)
    if m is None or not (m[1] or m[2]):
        return None  # invalid or multi-range: serve the whole representation
    if m[1]:
        first = int(m[1])
        last = int(m[2]) if m[2] else size - 1
        if m[2] and last < first:
            return None
        if first >= size:
            raise _Unsatisfiable
        last = min(last, size - 1)
    else:
        suffix = int(m[2])
        if suffix == 0 or size == 0:
            raise _Unsatisfiable
        first, last = max(0, size - suffix), size - 1
    return first, last - first + 1


# --------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------


_HEADER_SAFE = re.compile(r"[\x21-\x7e]+\Z")


def _is_int(text: str) -> bool:
    return text.isascii() and text.isdigit()


def _flag(value: str | None) -> bool:
    return value is not None and value.lower() in ("1", "true", "yes", "on")


def _reason(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def _raw_head(status: int, headers: Headers) -> bytes:
    lines = [f"HTTP/1.1 {status} {_reason(status)}\r\n".encode("ascii")]
    lines += [name + b": " + value + b"\r\n" for name, value in headers]
    lines.append(b"\r\n")
    return b"".join(lines)


def _authorized(value: str | None) -> bool:
    if value is None:
        return False
    scheme, _, credentials = value.strip().partition(" ")
    credentials = credentials.strip()
    if scheme.lower() == "bearer":
        return credentials == AUTH_BEARER_TOKEN
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(credentials, validate=True)
        except (binascii.Error, ValueError):
            return False
        return decoded == f"{AUTH_BASIC_USER}:{AUTH_BASIC_PASSWORD}".encode()
    return False


_SUBJECT_KEYS = {
    "commonName": "CN",
    "organizationName": "O",
    "organizationalUnitName": "OU",
    "countryName": "C",
    "stateOrProvinceName": "ST",
    "localityName": "L",
}


def _cert_subject(peercert: object) -> str | None:
    """Format ``SSLObject.getpeercert()["subject"]`` as ``"CN=x,O=y"``."""
    if not isinstance(peercert, dict):
        return None
    subject = peercert.get("subject")
    if not subject:
        return None
    return ",".join(f"{_SUBJECT_KEYS.get(k, k)}={v}" for rdn in subject for k, v in rdn)


async def _close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        async with asyncio.timeout(_CLOSE_TIMEOUT):
            await writer.wait_closed()
    except OSError:  # includes TimeoutError and ssl.SSLError
        writer.transport.abort()
