"""open_modem(mux=True) through the emulator: DLCs, parallel commands, a stalled stream, faults."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from pathlib import Path

import structlog.testing
from conftest import ModemFactory

import n58aio
from n58aio.cmux.mux import MuxState
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer, pattern_bytes


def open_dlcs(emu: Emulator) -> tuple[int, ...] | None:
    return emu.mux_dlcs


async def test_mux_modem_commands_http_and_close_back_to_at_mode(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    emu, modem = await make_modem(mux=True)
    assert modem.mux is not None and modem.mux.state is MuxState.OPEN
    assert open_dlcs(emu) == (1, 2)
    assert modem.http_channel is not modem.channel
    reply = await modem.command("AT+CGMM")
    assert reply.lines == ["+CGMM: N58"]
    # AT on both DLCs at once, each channel with its own command in flight
    first, second = await asyncio.gather(
        modem.channel.command("AT+CGMM"), modem.http_channel.command("AT+CGMI")
    )
    assert (first.lines, second.lines) == (["+CGMM: N58"], ["Neoway"])
    response = await modem.get(origin_server.url("/bytes/5000"))
    assert response.status_code == 200
    assert response.content == pattern_bytes(0, 5000)
    status = await modem.status()
    assert status.link_up and status.firmware is not None
    await modem.aclose()
    await asyncio.sleep(0.1)
    assert open_dlcs(emu) is None  # CLD: the module is back in AT mode


# The figure is 3 MB with an 8 s stall (N58_MUX_FULL=1); the point holds smaller.
FULL = os.environ.get("N58_MUX_FULL") == "1"
STREAM_SIZE = 3_000_000 if FULL else 1_000_000
STALL = 8.0 if FULL else 3.0


async def test_status_answers_while_a_stream_on_the_other_dlc_is_stalled(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    emu, modem = await make_modem(mux=True)
    assert modem.mux is not None
    serial_transport = modem.mux._transport
    assert serial_transport is not None
    port_paused = False
    latencies: list[float] = []
    body = bytearray()
    async with modem.stream("GET", origin_server.url(f"/bytes/{STREAM_SIZE}")) as response:
        chunks = response.aiter_bytes()
        async for chunk in chunks:
            body += chunk
            if len(body) >= 100_000:
                break
        # the consumer stalls; the stream's DLC fills up and is paused with MSC FC
        deadline = time.monotonic() + STALL
        while time.monotonic() < deadline:
            started = time.monotonic()
            status = await modem.status()  # a snapshot: about ten commands
            latencies.append(time.monotonic() - started)
            assert status.rssi == 24 and status.link_up
            port_paused = port_paused or not serial_transport.is_reading()
            await asyncio.sleep(0.25)
        assert modem.http_channel.read_pauses >= 1  # the DLC was paused ...
        assert modem.channel.read_pauses == 0
        assert not port_paused  # ... never the port
        async for chunk in chunks:
            body += chunk
    assert bytes(body) == pattern_bytes(0, STREAM_SIZE)
    assert len(latencies) >= 2 * STALL
    assert max(latencies) < 1.0, latencies
    assert open_dlcs(emu) == (1, 2)


async def test_refused_cmux_falls_back_to_one_channel(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    with structlog.testing.capture_logs() as logs:
        emu, modem = await make_modem(mux=True, config={"cmux": False})
    assert modem.mux is None
    assert modem.http_channel is modem.channel
    assert open_dlcs(emu) is None
    assert [log["log_level"] for log in logs if log["event"] == "mux.refused"] == ["warning"]
    response = await modem.get(origin_server.url("/bytes/1000"))
    assert response.content == pattern_bytes(0, 1000)


async def test_damaged_frames_are_gaps_the_channels_recover_from(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    emu, modem = await make_modem(mux=True)
    assert modem.mux is not None
    # a damaged reply frame on the command DLC: the command fails or is answered, the next is
    resyncs = modem.channel.resyncs
    emu.faults.damage_frames(1, dlci=1)
    with contextlib.suppress(n58aio.N58Error):
        await modem.command("AT+CGMM")
    assert (await modem.command("AT+CGMM")).lines == ["+CGMM: N58"]
    assert modem.mux.frame_errors == 1
    assert modem.channel.resyncs > resyncs
    # damaged frames and a lost flag in the middle of a download: the ranges are retried
    size = 300_000
    emu.faults.after_body_bytes(50_000, lambda: emu.faults.damage_frames(1, dlci=2))
    emu.faults.after_body_bytes(150_000, lambda: emu.faults.lose_flags(1, dlci=2))
    result = await modem.download(
        origin_server.url(f"/bytes/{size}"), tmp_path / "body", range_size=100_000
    )
    assert (tmp_path / "body").read_bytes() == pattern_bytes(0, size)
    assert result.size == size
    assert modem.mux.frame_errors >= 3


async def test_restart_mid_stream_restores_the_mux(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    emu, modem = await make_modem(mux=True)
    assert modem.mux is not None
    size = 400_000
    emu.faults.after_body_bytes(120_000, emu.faults.restart)
    result = await modem.download(
        origin_server.url(f"/bytes/{size}"), tmp_path / "body", range_size=100_000
    )
    assert (tmp_path / "body").read_bytes() == pattern_bytes(0, size)
    assert result.size == size
    assert modem.mux.restores == 1
    assert modem.mux.state is MuxState.OPEN
    assert open_dlcs(emu) == (1, 2)
    assert modem.supervision_counts.get("restart", 0) >= 1
    assert (await modem.command("AT+CGMM")).lines == ["+CGMM: N58"]


async def test_mux_over_a_tcp_port(module_fs: Path, origin_server: OriginServer) -> None:
    config = EmulatorConfig(fs_root=module_fs, pdp_up=True, tcp=("127.0.0.1", 0))
    async with Emulator(config) as emu, n58aio.open_modem(emu.url, mux=True) as modem:
        assert modem.mux is not None
        response = await modem.get(origin_server.url("/bytes/20000"))
        assert response.content == pattern_bytes(0, 20000)
        assert (await modem.command("AT+CGMM")).lines == ["+CGMM: N58"]
        assert open_dlcs(emu) == (1, 2)


async def test_restart_at_another_line_rate_is_recovered_and_the_mux_restored(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    # at 921600 baud on an auto-baud module, a restart leaves the module silent until an "AT"
    # at a rate it detects: nothing comes back on any DLC; the command DLC's channel searches
    # the rates (its probe reaches the module inside a frame), finds the module in AT mode,
    # (the mux passes that DLC's bytes through meanwhile), brings it up and switches the rate
    # back; then the mux is set up again
    emu, modem = await make_modem(
        attach=False, baudrate=921600, mux=True, config={"auto_baud": True}
    )
    modem.channel.resync_grace = 0.5
    modem.http_channel.resync_grace = 0.5
    await modem.attach(timeout=15)
    assert modem.mux is not None and emu.line_rate == 921600
    emu.faults.restart()
    await modem.recover(timeout=30)
    await modem.restore_mux()  # the recovery path's hook: a no-op once the mux restored itself
    assert modem.mux.state is MuxState.OPEN and modem.mux.restores >= 1
    assert emu.line_rate == 921600
    assert open_dlcs(emu) == (1, 2)
    response = await modem.get(origin_server.url("/bytes/3000"))
    assert response.content == pattern_bytes(0, 3000)
    assert (await modem.command("AT+CGMM")).lines == ["+CGMM: N58"]
