"""PayloadStream on its own: delivery, timeouts, one consumer, errors after the items."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from n58aio.channel import ByteDecoder, PayloadStream
from n58aio.errors import LinkClosedError


def make_stream(max_buffer: int = 1024) -> tuple[PayloadStream[bytes], list[int]]:
    drains: list[int] = []
    stream = PayloadStream(
        "HTTP", ByteDecoder(), max_buffer=max_buffer, on_drain=lambda: drains.append(1)
    )
    return stream, drains


async def test_items_then_end() -> None:
    stream, _ = make_stream()
    stream.deliver(b"ab")
    stream.deliver(b"cd")
    stream.link_closed("+HTTPCLOSED: HTTP Link Closed")
    assert [item async for item in stream] == [b"ab", b"cd"]
    with pytest.raises(anyio.EndOfStream):
        await stream.receive()


async def test_receive_waits_for_a_delivery() -> None:
    stream, _ = make_stream()
    receiving = asyncio.create_task(stream.receive(timeout=5))
    await asyncio.sleep(0.01)
    assert not receiving.done()
    stream.deliver(b"late")
    assert await receiving == b"late"


async def test_receive_timeout_raises_and_the_stream_stays_usable() -> None:
    stream, _ = make_stream()
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(TimeoutError):
        await stream.receive(timeout=0.05)
    assert loop.time() - started >= 0.05
    stream.deliver(b"x")
    assert await stream.receive(timeout=0.05) == b"x"


async def test_timeout_does_not_fire_when_items_are_ready() -> None:
    stream, _ = make_stream()
    stream.deliver(b"ready")
    assert await stream.receive(timeout=0) == b"ready"


async def test_cancelled_receive_leaves_the_items() -> None:
    stream, _ = make_stream()
    receiving = asyncio.create_task(stream.receive())
    await asyncio.sleep(0.01)
    receiving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await receiving
    stream.deliver(b"kept")
    assert await stream.receive(timeout=1) == b"kept"


async def test_one_consumer_at_a_time() -> None:
    stream, _ = make_stream()
    first = asyncio.create_task(stream.receive())
    await asyncio.sleep(0.01)
    with pytest.raises(RuntimeError, match="already receiving"):
        await stream.receive()
    stream.deliver(b"one")
    assert await first == b"one"


async def test_error_comes_after_the_items() -> None:
    stream, _ = make_stream()
    stream.deliver(b"before")
    stream.fail(LinkClosedError("gone"))
    assert await stream.receive() == b"before"
    with pytest.raises(LinkClosedError, match="gone"):
        await stream.receive()


async def test_failure_wakes_a_waiting_consumer() -> None:
    stream, _ = make_stream()
    receiving = asyncio.create_task(stream.receive(timeout=5))
    await asyncio.sleep(0.01)
    stream.fail(LinkClosedError("gone"))
    with pytest.raises(LinkClosedError):
        await receiving


async def test_backpressure_pauses_and_drains() -> None:
    stream, drains = make_stream(max_buffer=4)
    stream.deliver(b"abcdef")
    assert stream.paused
    assert await stream.receive() == b"abcdef"
    assert not stream.paused
    assert drains == [1]
