"""Helpers of the transfer tests: a scripted origin for misbehaving servers, range bookkeeping."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import h11

import n58aio
from n58aio.emulator import Emulator
from n58aio.emulator.origin import OriginServer

ModemFactory = Callable[..., Awaitable[tuple[Emulator, n58aio.Modem]]]
"""``make_modem`` of tests/conftest.py."""

FAST = {"chunk_size": 8192}
"""Emulator settings for big downloads: 8 KiB per +HTTPRECV report."""

Answer = tuple[int, list[tuple[str, str]], bytes]
Range = tuple[int, int] | None
Handler = Callable[[int, Range], Answer]

_RANGE = re.compile(r"^bytes=(\d+)-(\d+)$")


def ranged(content: bytes, rng: Range, *, shift: int = 0, total: int | None = None) -> Answer:
    """A correct 206 answer for ``rng`` of ``content``; ``shift`` moves the Content-Range
    start (the body stays the asked bytes), ``total`` lies about the size."""
    if rng is None:
        return 200, [], content
    first, last = rng[0], min(rng[1], len(content) - 1)
    body = content[first : last + 1]
    size = len(content) if total is None else total
    header = f"bytes {first + shift}-{last + shift}/{size}"
    return 206, [("Content-Range", header)], body


@dataclass
class ScriptedOrigin:
    """A tiny HTTP/1.1 server whose answer to the n-th request (and its Range) a test chooses.

    Every answer closes the connection, like the module's requests ask.
    """

    handler: Handler
    ranges: list[Range] = field(default_factory=list)
    _server: asyncio.Server | None = None
    port: int = 0

    async def __aenter__(self) -> ScriptedOrigin:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def url(self, path: str = "/file.bin") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    if not data:
                        return
                    conn.receive_data(data)
                    continue
                if isinstance(event, h11.Request):
                    break
                if isinstance(event, h11.ConnectionClosed):
                    return
            rng: Range = None
            for name, value in event.headers:
                if name == b"range":
                    match = _RANGE.match(value.decode("latin-1"))
                    if match:
                        rng = (int(match.group(1)), int(match.group(2)))
            self.ranges.append(rng)
            status, headers, body = self.handler(len(self.ranges) - 1, rng)
            head = [(b"Content-Length", str(len(body)).encode()), (b"Connection", b"close")]
            head += [(n.encode(), v.encode()) for n, v in headers]
            writer.write(conn.send(h11.Response(status_code=status, headers=head)) or b"")
            writer.write(conn.send(h11.Data(data=body)) or b"")
            writer.write(conn.send(h11.EndOfMessage()) or b"")
            await writer.drain()
        except (ConnectionError, h11.ProtocolError):
            pass
        finally:
            writer.close()


def requested_ranges(origin: OriginServer, path: str) -> list[tuple[int, int]]:
    """(first, last) of every ranged request the origin got for ``path``."""
    out: list[tuple[int, int]] = []
    for request in origin.requests:
        value = request.header("range")
        if request.path == path and value is not None:
            match = _RANGE.match(value)
            assert match is not None, value
            out.append((int(match.group(1)), int(match.group(2))))
    return out


def leftovers(target: Path) -> list[str]:
    """Names of the files a download may leave next to ``target``."""
    return sorted(
        p.name for p in target.parent.iterdir() if p.name.startswith(target.name) and p != target
    )
