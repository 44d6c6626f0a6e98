"""The tuned serial transport over a real pseudo-terminal: batching, order, bounds, loss."""

from __future__ import annotations

import asyncio
import os
import tty
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import pytest

from n58aio.channel.port import open_port
from n58aio.channel.transport import BATCH_CONTINUE, READ_SIZE, SerialPortTransport
from n58aio.errors import PortClosedError


class Recorder(asyncio.Protocol):
    """Keeps every ``data_received`` call and the connection-lost reason."""

    def __init__(self) -> None:
        self.reads: list[bytes] = []
        self.lost: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.arrived = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.reads.append(data)
        self.arrived.set()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)

    async def wait_for(self, size: int) -> bytes:
        while sum(map(len, self.reads)) < size:
            self.arrived.clear()
            await self.arrived.wait()
        return b"".join(self.reads)


@asynccontextmanager
async def pty_port() -> AsyncIterator[tuple[int, asyncio.Transport, Recorder]]:
    master, slave = os.openpty()
    tty.setraw(master)
    path = os.ttyname(slave)
    try:
        transport, protocol = await open_port(path, Recorder)
        try:
            yield master, transport, protocol
        finally:
            transport.close()
            await asyncio.sleep(0)
    finally:
        os.close(slave)
        with suppress(OSError):
            os.close(master)  # a test may have closed it already


async def write_all(fd: int, data: bytes) -> None:
    """Write to the pty master without blocking the loop (it fills at a few KiB)."""
    os.set_blocking(fd, False)
    view = memoryview(data)
    while view:
        try:
            view = view[os.write(fd, view) :]
        except BlockingIOError:
            await asyncio.sleep(0.001)


async def test_open_port_gives_the_tuned_transport() -> None:
    async with asyncio.timeout(10), pty_port() as (_, transport, _protocol):
        assert isinstance(transport, SerialPortTransport)


async def test_a_short_read_is_delivered_at_once() -> None:
    async with asyncio.timeout(10), pty_port() as (master, _, protocol):
        os.write(master, b"\r\nOK\r\n")
        assert await protocol.wait_for(6) == b"\r\nOK\r\n"
        assert protocol.reads == [b"\r\nOK\r\n"]


async def test_bulk_arrives_whole_in_order_and_in_bounded_batches() -> None:
    data = os.urandom(3 * 1024 * 1024)
    async with asyncio.timeout(30), pty_port() as (master, _, protocol):
        writer = asyncio.create_task(write_all(master, data))
        assert await protocol.wait_for(len(data)) == data
        await writer
        assert max(map(len, protocol.reads)) <= READ_SIZE
        # a tty gives about 4 KiB per read: larger deliveries are batches of several reads
        assert len(protocol.reads) >= len(data) // READ_SIZE


async def test_batching_does_not_delay_what_follows_a_large_read() -> None:
    # One read's worth, then silence: the batch ends on the empty port and is delivered now.
    async with asyncio.timeout(10), pty_port() as (master, _, protocol):
        block = b"x" * (BATCH_CONTINUE + 100)
        await write_all(master, block)
        assert await protocol.wait_for(len(block)) == block


async def test_vanished_port_is_reported_as_lost() -> None:
    async with asyncio.timeout(10), pty_port() as (master, _, protocol):
        os.write(master, b"last words")
        await protocol.wait_for(10)
        os.close(master)  # the device goes away: the slave reads EIO or nothing
        exc = await protocol.lost
        assert exc is not None
        assert "read" in str(exc) or "gives none" in str(exc)


async def test_paused_reading_stops_delivery_until_resumed() -> None:
    async with asyncio.timeout(10), pty_port() as (master, transport, protocol):
        transport.pause_reading()
        os.write(master, b"held")
        await asyncio.sleep(0.1)
        assert protocol.reads == []
        transport.resume_reading()
        assert await protocol.wait_for(4) == b"held"


async def test_an_unopenable_port_is_a_clear_error() -> None:
    with pytest.raises(PortClosedError, match="cannot open"):
        await open_port("/dev/n58aio-no-such-port", Recorder)


async def read_master(fd: int, size: int) -> bytes:
    os.set_blocking(fd, False)
    got = bytearray()
    while len(got) < size:
        try:
            got += os.read(fd, 65536)
        except BlockingIOError:
            await asyncio.sleep(0.001)
    return bytes(got)


async def test_a_write_goes_out_at_once() -> None:
    async with asyncio.timeout(10), pty_port() as (master, transport, _):
        transport.write(b"AT\r")
        assert transport.get_write_buffer_size() == 0  # written, not queued for a loop turn
        assert await read_master(master, 3) == b"AT\r"


async def test_a_write_larger_than_the_port_takes_is_buffered_and_completed() -> None:
    data = os.urandom(1024 * 1024)
    async with asyncio.timeout(30), pty_port() as (master, transport, _):
        transport.write(data[:100])
        transport.write(data[100:])
        assert transport.get_write_buffer_size() > 0  # the pty took only part of it
        transport.write(b"tail")  # queued behind the rest, never ahead of it
        assert await read_master(master, len(data) + 4) == data + b"tail"
        assert transport.get_write_buffer_size() == 0


async def test_a_write_to_a_vanished_port_loses_the_connection() -> None:
    async with asyncio.timeout(10), pty_port() as (master, transport, protocol):
        transport.pause_reading()  # so that the write, not a read, meets the loss
        await asyncio.sleep(0)
        os.close(master)
        transport.write(b"AT\r")
        exc = await protocol.lost
        assert exc is not None
        assert "write failed" in str(exc)
