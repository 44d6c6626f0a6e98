"""PayloadStream on its own: delivery, timeouts, one consumer, errors after the items.

In virtual time (no I/O here): a timeout fires exactly when due, whatever the machine's load,
so the waits are measured exactly and cost no wall-clock time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import anyio
import pytest
from virtual_time import virtual_time

from n58aio.channel import ByteDecoder, PayloadStream
from n58aio.errors import LinkClosedError


def make_stream(max_buffer: int = 1024) -> tuple[PayloadStream[bytes], list[int]]:
    drains: list[int] = []
    stream = PayloadStream(
        "HTTP", ByteDecoder(), max_buffer=max_buffer, on_drain=lambda: drains.append(1)
    )
    return stream, drains


@virtual_time
async def test_items_then_end() -> None:
    stream, _ = make_stream()
    stream.deliver(b"ab")
    stream.deliver(b"cd")
    stream.link_closed("+HTTPCLOSED: HTTP Link Closed")
    assert [item async for item in stream] == [b"ab", b"cd"]
    with pytest.raises(anyio.EndOfStream):
        await stream.receive()


@virtual_time
async def test_receive_waits_for_a_delivery() -> None:
    stream, _ = make_stream()
    receiving = asyncio.create_task(stream.receive(timeout=5))
    await asyncio.sleep(0.01)
    assert not receiving.done()
    stream.deliver(b"late")
    assert await receiving == b"late"


@virtual_time
async def test_receive_timeout_raises_and_the_stream_stays_usable() -> None:
    stream, _ = make_stream()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await stream.receive(timeout=0.05)
    assert loop.time() - started == pytest.approx(0.05)
    stream.deliver(b"x")
    assert await stream.receive(timeout=0.05) == b"x"


@virtual_time
async def test_timeout_does_not_fire_when_items_are_ready() -> None:
    stream, _ = make_stream()
    stream.deliver(b"ready")
    assert await stream.receive(timeout=0) == b"ready"


@virtual_time
async def test_cancelled_receive_leaves_the_items() -> None:
    stream, _ = make_stream()
    receiving = asyncio.create_task(stream.receive())
    await asyncio.sleep(0.01)
    receiving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiving
    stream.deliver(b"kept")
    assert await stream.receive(timeout=1) == b"kept"


@virtual_time
async def test_one_consumer_at_a_time() -> None:
    stream, _ = make_stream()
    first = asyncio.create_task(stream.receive())
    await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError, match="already receiving"):
        await stream.receive()
    stream.deliver(b"one")
    assert await first == b"one"


@virtual_time
async def test_error_comes_after_the_items() -> None:
    stream, _ = make_stream()
    stream.deliver(b"before")
    stream.fail(LinkClosedError("gone"))
    assert await stream.receive() == b"before"
    with pytest.raises(LinkClosedError, match="gone"):
        await stream.receive()


@virtual_time
async def test_failure_wakes_a_waiting_consumer() -> None:
    stream, _ = make_stream()
    receiving = asyncio.create_task(stream.receive(timeout=5))
    await asyncio.sleep(0.01)
    stream.fail(LinkClosedError("gone"))
    with pytest.raises(LinkClosedError):
        await receiving


@virtual_time
async def test_backpressure_pauses_and_drains() -> None:
    stream, drains = make_stream(max_buffer=4)
    stream.deliver(b"abcdef")
    assert stream.paused
    assert await stream.receive() == b"abcdef"
    assert not stream.paused
    assert drains == [1]


@virtual_time
async def test_idle_timeout_after_one_chunk_then_nothing() -> None:
    stream, _ = make_stream()
    loop = asyncio.get_running_loop()
    stream.deliver(b"first")
    assert await stream.receive(timeout=0.2) == b"first"
    started = loop.time()
    with pytest.raises(TimeoutError):
        await stream.receive(timeout=0.2)
    waited = loop.time() - started
    assert waited == pytest.approx(0.2)


@virtual_time
async def test_steady_stream_outlasting_the_timeout_does_not_time_out() -> None:
    stream, _ = make_stream(max_buffer=1 << 20)
    loop = asyncio.get_running_loop()

    async def feed() -> None:
        for index in range(40):  # 40 x 20 ms: the idle timeout passes several times over
            await asyncio.sleep(0.02)
            stream.deliver(b"%d," % index)
        stream.link_closed("+HTTPCLOSED: HTTP Link Closed")

    feeding = asyncio.create_task(feed())
    started = loop.time()
    received = [item async for item in _with_timeout(stream, 0.15)]
    await feeding
    assert received == [b"%d," % index for index in range(40)]
    assert loop.time() - started == pytest.approx(40 * 0.02)  # the feeder's pace, no more


async def _with_timeout(stream: PayloadStream[bytes], timeout: float) -> AsyncIterator[bytes]:
    while True:
        try:
            yield await stream.receive(timeout=timeout)
        except anyio.EndOfStream:
            return


@virtual_time
async def test_shorter_timeout_after_a_longer_one_fires_on_time() -> None:
    stream, _ = make_stream()
    loop = asyncio.get_running_loop()
    receiving = asyncio.create_task(stream.receive(timeout=30))
    await asyncio.sleep(0.01)
    stream.deliver(b"head")
    assert await receiving == b"head"
    started = loop.time()
    with pytest.raises(TimeoutError):
        await stream.receive(timeout=0.1)
    assert loop.time() - started == pytest.approx(0.1)


@virtual_time
async def test_longer_timeout_after_a_shorter_one_waits_its_own_time() -> None:
    stream, _ = make_stream()
    loop = asyncio.get_running_loop()
    receiving = asyncio.create_task(stream.receive(timeout=0.1))
    await asyncio.sleep(0.05)
    stream.deliver(b"x")
    assert await receiving == b"x"
    started = loop.time()  # the watchdog set for the first wait fires within this one
    with pytest.raises(TimeoutError):
        await stream.receive(timeout=0.3)
    assert loop.time() - started == pytest.approx(0.3)


@virtual_time
async def test_the_watchdog_goes_with_the_stream() -> None:
    stream, _ = make_stream()
    receiving = asyncio.create_task(stream.receive(timeout=30))
    await asyncio.sleep(0.01)
    assert stream._watchdog is not None
    stream.link_closed("+HTTPCLOSED: HTTP Link Closed")
    with pytest.raises(anyio.EndOfStream):
        await receiving
    assert stream._watchdog is None
