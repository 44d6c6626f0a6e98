"""Helpers of the emulator tests: a raw serial client and a tiny recording HTTP origin."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import h11
import serial_asyncio
import trustme

from n58aio.emulator import Emulator

MANUAL_HOSTS = {
    "www.neoway.com.cn": "127.0.0.1",
    "support.cdmatech.com": "127.0.0.1",
    "mybank.icbc.com.cn": "127.0.0.1",
    "www.alipay.com": "127.0.0.1",
    "121.15.200.97": "127.0.0.1",
}
TIMEOUT = 5.0
PBREADY = b"\r\n+PBREADY\r\n"
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"


class Port:
    """Raw byte access to the emulator through pyserial-asyncio (real pty or socket://)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, url: str) -> Port:
        reader, writer = await serial_asyncio.open_serial_connection(url=url, baudrate=115200)
        return cls(reader, writer)

    async def close(self) -> None:
        self.writer.close()
        await asyncio.sleep(0)

    def send(self, data: bytes) -> None:
        assert data, "serial_asyncio cannot write empty buffers"
        self.writer.write(data)

    async def read_exactly(self, count: int, timeout: float = TIMEOUT) -> bytes:
        async with asyncio.timeout(timeout):
            return await self.reader.readexactly(count)

    async def read_until(self, separator: bytes, timeout: float = TIMEOUT) -> bytes:
        async with asyncio.timeout(timeout):
            return await self.reader.readuntil(separator)

    async def expect(self, data: bytes, timeout: float = TIMEOUT) -> None:
        """Read exactly ``len(data)`` bytes and require them to equal ``data``."""
        got = b""
        try:
            async with asyncio.timeout(timeout):
                while len(got) < len(data):
                    chunk = await self.reader.read(len(data) - len(got))
                    if not chunk:
                        break
                    got += chunk
        except TimeoutError:
            pass
        assert got == data, f"expected {data!r}, got {got!r}"

    async def cmd(self, line: bytes, reply: bytes, echo: bool = True) -> None:
        """Send ``line`` + CR and expect its echo (when on) followed by ``reply``."""
        self.send(line + b"\r")
        await self.expect((line + b"\r" if echo else b"") + reply)

    async def quiet(self, seconds: float) -> None:
        """Require that nothing arrives for ``seconds``."""
        data = b""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                data = await self.reader.read(4096)
        assert data == b"", f"unexpected output {data!r}"

    async def recv_reports(
        self, report: bytes = b"+HTTPRECV", trailing_crlf: bool = True
    ) -> tuple[bytes, list[int], bytes]:
        """Parse recvmode 1 reports until a non-report line; returns payload, lengths, that line."""
        payload = b""
        lengths: list[int] = []
        while True:
            head = await self.read_exactly(2)
            assert head == b"\r\n", head
            tag = await self.read_until(b":")
            if tag != report + b":":
                rest = await self.read_until(b"\r\n")
                return payload, lengths, b"\r\n" + tag + rest
            await self.expect(b" ")
            length = int((await self.read_until(b",")).rstrip(b","))
            lengths.append(length)
            payload += await self.read_exactly(length)
            if trailing_crlf:
                await self.expect(b"\r\n")


@dataclass
class Request:
    """One request as the origin parsed it."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes
    connection: int


@dataclass
class Reply:
    """What the origin answers; ``chunks`` (if set) are sent one by one after ``delay``."""

    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    close: bool = True
    chunks: list[bytes] | None = None
    delay: float = 0.0
    length: int | None = None
    raw: bytes | None = None


Handler = Callable[[Request], Reply | Awaitable[Reply]]


def default_handler(request: Request) -> Reply:
    return Reply(404, [("Content-Type", "text/plain")], b"not found\n")


class Origin:
    """A tiny HTTP/1.1 origin (h11) that records requests, raw input and the exact bytes sent."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.ssl_context = ssl_context
        self.routes: dict[str, Handler] = {}
        self.requests: list[Request] = []
        self.raw: dict[int, bytearray] = {}
        self.sent: list[bytearray] = []
        self.connections = 0
        self.closed_connections = 0
        self.sni: list[str | None] = []
        self.errors: list[str] = []
        self._arrived = asyncio.Event()
        self._finished = asyncio.Event()
        self.finished = 0
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        if ssl_context is not None:
            ssl_context.sni_callback = self._sni

    def _sni(self, sock: ssl.SSLObject, name: str | None, ctx: ssl.SSLContext) -> None:
        self.sni.append(name)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    async def start(self) -> Origin:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0, ssl=self.ssl_context)
        return self

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        if self._tasks:
            _, pending = await asyncio.wait(set(self._tasks), timeout=2)
            for task in pending:
                task.cancel()
        if self._server is not None:
            await self._server.wait_closed()

    def route(self, path: str, handler: Handler | Reply) -> None:
        if isinstance(handler, Reply):
            reply = handler
            self.routes[path] = lambda request: reply
        else:
            self.routes[path] = handler

    def wait_for(self, count: int) -> Awaitable[None]:
        async def waiter() -> None:
            async with asyncio.timeout(TIMEOUT):
                while len(self.requests) < count:
                    self._arrived.clear()
                    await self._arrived.wait()

        return waiter()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        cid = self.connections
        raw = self.raw.setdefault(cid, bytearray())
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 65536)
        conn = h11.Connection(our_role=h11.SERVER)
        request: Request | None = None
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    raw += data
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.Request):
                    request = Request(
                        event.method.decode(),
                        event.target.decode(),
                        {k.decode().lower(): v.decode() for k, v in event.headers},
                        b"",
                        cid,
                    )
                elif isinstance(event, h11.Data) and request is not None:
                    request.body += bytes(event.data)
                elif isinstance(event, h11.EndOfMessage) and request is not None:
                    self.requests.append(request)
                    self._arrived.set()
                    after = await self._respond(conn, writer, request)
                    self.finished += 1
                    self._finished.set()
                    if after == "hold":
                        while data := await reader.read(65536):
                            raw += data
                    if after != "next":
                        break
                    conn.start_next_cycle()
                    request = None
                elif isinstance(event, h11.ConnectionClosed):
                    break
        except (h11.ProtocolError, OSError) as exc:
            self.errors.append(repr(exc))
        finally:
            self.closed_connections += 1
            self._finished.set()
            writer.close()
            self._tasks.discard(task)
            self._writers.discard(writer)

    async def all_closed(self) -> None:
        """Wait until every accepted connection has been closed."""
        async with asyncio.timeout(TIMEOUT):
            while self.closed_connections < self.connections:
                self._finished.clear()
                await self._finished.wait()

    async def response(self, index: int) -> bytes:
        """The bytes of response ``index`` once completely sent."""
        async with asyncio.timeout(TIMEOUT):
            while self.finished <= index:
                self._finished.clear()
                await self._finished.wait()
        return bytes(self.sent[index])

    async def _respond(
        self, conn: h11.Connection, writer: asyncio.StreamWriter, request: Request
    ) -> str:
        handler = self.routes.get(request.target.split("?")[0], default_handler)
        result = handler(request)
        reply = await result if not isinstance(result, Reply) else result
        if reply.raw is not None:
            self.sent.append(bytearray(reply.raw))
            writer.write(reply.raw)
            await writer.drain()
            return "close" if reply.close else "hold"
        chunks = reply.chunks if reply.chunks is not None else [reply.body]
        total = reply.length if reply.length is not None else sum(len(c) for c in chunks)
        headers = list(reply.headers)
        names = {name.lower() for name, _ in headers}
        if "content-length" not in names:
            headers.append(("Content-Length", str(total)))
        if reply.close:
            headers.append(("Connection", "close"))
        sent = bytearray()
        self.sent.append(sent)
        out = conn.send(h11.Response(status_code=reply.status, headers=headers)) or b""
        writer.write(out)
        sent += out
        await writer.drain()
        if request.method != "HEAD":
            for chunk in chunks:
                if reply.delay:
                    await asyncio.sleep(reply.delay)
                if not chunk:
                    continue
                out = conn.send(h11.Data(data=chunk)) or b""
                writer.write(out)
                await writer.drain()
                sent += out
            out = conn.send(h11.EndOfMessage()) or b""
            writer.write(out)
            sent += out
        else:
            out = conn.send(h11.EndOfMessage()) or b""
        await writer.drain()
        return "next" if not reply.close and conn.our_state is h11.DONE else "close"


def pattern(size: int, seed: int = 0) -> bytes:
    """Deterministic bytes covering every byte value (CR, LF, 0x1A and 'OK' included)."""
    base = bytes((i * 7 + seed) % 256 for i in range(251)) + b"\r\nOK\r\n\x1a+HTTPRECV: 5,"
    return (base * (size // len(base) + 1))[:size]


SERVER_NAMES = [
    "localhost",
    "127.0.0.1",
    "support.cdmatech.com",
    "mybank.icbc.com.cn",
    "www.alipay.com",
]


@dataclass
class TLSMaterial:
    """A CA, a server certificate and a client certificate, plus an unrelated CA."""

    ca: trustme.CA
    server: trustme.LeafCert
    client: trustme.LeafCert
    other_ca: trustme.CA

    def server_context(self, require_client_cert: bool = False) -> ssl.SSLContext:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.server.configure_cert(ctx)
        if require_client_cert:
            self.ca.configure_trust(ctx)
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def install(self, root: Path) -> None:
        """Write ca.pem, cc.pem, ck.pem (and bad-ca.pem) into a module file system."""
        root.mkdir(parents=True, exist_ok=True)
        (root / "ca.pem").write_bytes(self.ca.cert_pem.bytes())
        (root / "bad-ca.pem").write_bytes(self.other_ca.cert_pem.bytes())
        (root / "cc.pem").write_bytes(self.client.cert_chain_pems[0].bytes())
        (root / "ck.pem").write_bytes(self.client.private_key_pem.bytes())


OriginFactory = Callable[..., Awaitable[Origin]]
EmuFactory = Callable[..., Awaitable[tuple[Emulator, Port]]]
