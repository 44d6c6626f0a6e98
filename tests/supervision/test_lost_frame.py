"""Issue #23 item 3 through the emulated module: a restart that cuts a payload chunk.

The module restarts (without its boot report) in the middle of a ``+HTTPRECV`` chunk, so the
chunk's remaining bytes never come. The channel notices the lost frame within 2 s (1 s of line
silence), fails the response at the offset it reached,
and proves the line in step again; it used to wait for the idle timeout and the close.
"""

from __future__ import annotations

import asyncio

import pytest
from conftest import ModemFactory

import n58aio
from n58aio.emulator import OriginServer
from n58aio.emulator.origin import pattern_bytes


@pytest.mark.parametrize("report", [False, True], ids=["silent", "with-boot-report"])
async def test_a_restart_that_cuts_a_chunk_is_noticed_within_two_seconds(
    make_modem: ModemFactory, origin_server: OriginServer, report: bool
) -> None:
    size = 40_000
    # paced at 115200 baud, 4096-byte chunks: a chunk takes 0.36 s on the line
    emu, modem = await make_modem(
        recvmode=1, baudrate=115200, config={"baud": 115200, "chunk_size": 4096}
    )
    loop = asyncio.get_running_loop()
    restarted: list[float] = []

    def restart() -> None:
        restarted.append(loop.time())
        emu.faults.restart(report=report)

    def cut() -> None:  # 0.1 s into the next chunk's data
        loop.call_later(0.1, restart)

    emu.faults.after_body_bytes(8_000, cut, ordered=True)
    received = bytearray()
    async with asyncio.timeout(10):
        with pytest.raises(n58aio.N58Error):
            response = await modem.get(
                origin_server.url(f"/bytes/{size}"), timeouts=n58aio.Timeouts(8)
            )
            async for part in response.aiter_bytes():
                received += part
    assert restarted, "the fault never struck"
    assert loop.time() - restarted[0] < 2.0
    assert modem.channel.lost_frames == 1
    assert bytes(received) == pattern_bytes(0, len(received))  # a correct prefix
    assert len(received) <= 8_000
