"""Issue #22 items 1-3 through a real pty and a scripted peer (the shell running the core).

1. A command that times out while a stream's consumer stalls (reading paused) fails in time,
   and the stream's bytes stay exactly the server's.
2. A call behind a busy module ends within its own timeout; the recovery finishes behind it.
3. The probe ends only on its own error answer, never on a busy module's late OK.
"""

from __future__ import annotations

import asyncio
import hashlib
import random
import time
from collections.abc import Iterator

import pytest
from scripted_peer import ScriptedPeer, scripted_modem

import n58aio
import n58aio.channel.channel as channel_module
from n58aio import CommandTimeout
from n58aio.channel import ByteDecoder

SLACK = 0.25  # what a loaded CI machine may add to a timer


@pytest.fixture
def fast_resync(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(channel_module, "RESYNC_GRACE", 0.5)
    yield


async def in_step(peer: ScriptedPeer, modem: n58aio.Modem) -> None:
    serving = asyncio.create_task(peer.read_command())  # answers ATE1 and the probe
    await modem.resync()
    serving.cancel()
    await asyncio.gather(serving, return_exceptions=True)


async def test_a_command_behind_a_stalled_stream_fails_in_time_body_intact() -> None:
    chunk, chunks = 1024, 1024
    async with asyncio.timeout(15), scripted_modem(echo=True) as (peer, modem):
        await in_step(peer, modem)
        stream = modem.channel.open_stream("HTTP", ByteDecoder(), max_buffer=16 * 1024)
        rng = random.Random(22)
        body = rng.randbytes(chunk * chunks)

        async def module() -> None:
            # one writer: the commands that arrive are answered between payload batches
            await peer.answer("AT+HTTPACTION=0")
            for start in range(0, len(body), 16 * chunk):
                part = body[start : start + 16 * chunk]
                await peer.send(
                    b"".join(
                        b"\r\n+HTTPRECV: 1024," + part[i : i + chunk] + b"\r\n"
                        for i in range(0, len(part), chunk)
                    )
                )
                while b"\r" in peer.unread:
                    command = await peer.read_command()
                    await peer.reply("+CSQ: 20,99" if command == "AT+CSQ" else "N58")
            await peer.send(b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n")

        async def consumer() -> bytes:
            received = bytearray()
            stalled = False
            async for item in stream:
                received += item
                if not stalled and len(received) > 100_000:
                    stalled = True
                    await asyncio.sleep(1.2)  # the consumer stalls: reading pauses
            return bytes(received)

        async with asyncio.TaskGroup() as group:
            group.create_task(module())
            assert (await modem.command("AT+HTTPACTION=0")).final == "OK"
            consumed = group.create_task(consumer())
            while modem.channel.read_pauses == 0:  # noqa: ASYNC110 - no event for this
                await asyncio.sleep(0.01)
            started = time.monotonic()
            with pytest.raises(CommandTimeout):
                await modem.command("AT+CSQ", timeout=0.3)
            assert time.monotonic() - started < 0.3 + SLACK
            assert (await modem.command("ATI", timeout=5)).lines == ["N58"]
        received = consumed.result()
        assert hashlib.sha256(received).digest() == hashlib.sha256(body).digest()
        assert modem.channel.wire_errors == 0
        assert modem.channel.dropped_payload_bytes == 0


async def test_a_call_behind_a_busy_module_ends_within_its_own_timeout(
    fast_resync: None,
) -> None:
    async with asyncio.timeout(15), scripted_modem(echo=True) as (peer, modem):
        await in_step(peer, modem)
        peer.auto_sync = False
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.expect("AT+HTTPSETUP"))
            with pytest.raises(CommandTimeout):
                await modem.command("AT+HTTPSETUP", timeout=0.3)
        busy_until = time.monotonic() + 1.5
        for timeout in (0.4, 0.2):
            started = time.monotonic()
            with pytest.raises(CommandTimeout):
                await modem.command("AT+CSQ", timeout=timeout)
            assert time.monotonic() - started < timeout + SLACK

        async def module() -> None:
            await asyncio.sleep(max(0.0, busy_until - time.monotonic()))
            await peer.reply(final="OK")  # the setup's OK, late
            peer.auto_sync = True  # then the probes written meanwhile, in order
            await peer.answer("ATI", "N58")

        async with asyncio.TaskGroup() as group:
            group.create_task(module())
            assert (await modem.command("ATI", timeout=5)).lines == ["N58"]


async def test_the_probe_ignores_a_late_ok_and_ends_on_its_own_error(fast_resync: None) -> None:
    async with asyncio.timeout(10), scripted_modem(echo=True) as (peer, modem):
        await in_step(peer, modem)
        peer.auto_sync = False

        async def module() -> None:
            await peer.expect("AT+CSQ")  # busy: silent until its caller gave up
            _, blind = await peer.read_probe()  # echoed at once (the UART echoes while busy)
            await peer.reply("+CSQ: 20,99")  # the late answer to AT+CSQ
            for _ in range(blind):
                await peer.reply()  # then the ATE1 before the probe: answers come in order
            await asyncio.sleep(0.2)
            early = b"ATI\r" in peer.unread
            if early:  # a command written after the late OK is echoed at once too
                await peer.expect("ATI")
            await peer.send(b"\r\n+CME ERROR: 58\r\n")  # the probe's own answer
            if not early:
                await peer.expect("ATI")
            await peer.reply("N58")

        async with asyncio.TaskGroup() as group:
            group.create_task(module())
            with pytest.raises(CommandTimeout):
                await modem.command("AT+CSQ", timeout=0.3)
            assert (await modem.command("ATI", timeout=3)).lines == ["N58"]
        assert modem.channel.stray_replies >= 1
