"""Fronts (pty, TCP), pacing, several emulators, resource cleanup and the CLI."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
from collections.abc import AsyncIterator

import pytest
from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import OK, PBREADY, EmuFactory, Origin, Port, Reply, pattern

from n58aio.cli import build_parser, main
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.cli import config_from_args

CLOSED = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"


async def test_tcp_front(make_emu: EmuFactory, origin: Origin) -> None:
    emu, port = await make_emu(tcp=("127.0.0.1", 0), pdp_up=True)
    assert emu.url.startswith("socket://127.0.0.1:")
    assert emu.device == emu.url
    origin.route("/", Reply(200, body=pattern(3000)))
    await port.cmd(b"AT", OK)
    await port.cmd(b"AT+HTTPPARA=url,www.neoway.com.cn", OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPPARA=recvmode,1", OK)
    await port.cmd(b"AT+HTTPSETUP", OK)
    await port.cmd(b"AT+HTTPACTION=0", OK)
    payload, _, rest = await port.recv_reports()
    assert payload == await origin.response(0)
    assert rest == CLOSED


async def test_two_emulators_in_one_process(make_emu: EmuFactory) -> None:
    emu1, port1 = await make_emu()
    emu2, port2 = await make_emu()
    assert emu1.device != emu2.device
    await port1.cmd(b"AT+XIIC=1", OK)
    await port2.cmd(b"ATE0", OK)
    port1.send(b"AT+XIIC?\r")
    answer = await port1.read_until(b"\r\nOK\r\n")
    assert b"+XIIC:    1,10.0.0." in answer
    await port2.cmd(b"AT+XIIC?", b"\r\n+XIIC:    0,0.0.0.0\r\nOK\r\n", echo=False)
    await port1.cmd(b"AT", OK)


async def test_pacing_at_9600_baud(make_emu: EmuFactory, origin: Origin) -> None:
    _, port = await make_emu(pdp_up=True, baud=9600)
    origin.route("/", Reply(200, body=b"p" * 2000))
    await port.cmd(b"AT+HTTPPARA=url,www.neoway.com.cn", OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSETUP", OK)
    started = time.monotonic()
    await port.cmd(b"AT+HTTPACTION=0", OK)
    await port.read_until(CLOSED, timeout=10)
    assert time.monotonic() - started >= 1.8  # 2000+ bytes at 960 bytes/s


async def test_pty_survives_reopen(make_emu: EmuFactory) -> None:
    emu, port = await make_emu()
    await port.cmd(b"AT", OK)
    await port.close()
    again = await Port.open(emu.device)
    try:
        await again.cmd(b"AT", OK)
    finally:
        await again.close()


def _open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


def _emulator_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name().startswith("n58-") and not t.done()]


@pytest.mark.parametrize("tcp", [None, ("127.0.0.1", 0)])
async def test_close_releases_everything(
    origin: Origin, tcp: tuple[str, int] | None, tmp_path: os.PathLike[str]
) -> None:
    origin.route("/drip", Reply(200, chunks=[b"d" * 10] * 100, delay=0.05))
    await asyncio.sleep(0)
    before = _open_fds()
    config = EmulatorConfig(resolve={"www.neoway.com.cn": "127.0.0.1"}, pdp_up=True, tcp=tcp)
    emu = await Emulator(config).start()
    port = await Port.open(emu.url)
    await port.expect(PBREADY)
    await port.cmd(b"AT+HTTPPARA=url,www.neoway.com.cn/drip", OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSETUP", OK)
    await port.cmd(b"AT+HTTPGET=0", OK)  # a background download is running too
    port.send(b"AT+HTTPACTION=0\r")
    await port.read_until(b"AT+HTTPACTION=0\r\r\nOK\r\n")
    assert _emulator_tasks()
    root = emu.fs_root
    await port.close()
    await emu.close()
    await origin.all_closed()
    await asyncio.sleep(0.05)
    assert _emulator_tasks() == []
    assert not root.exists()  # the temporary file system is removed
    assert _open_fds() <= before


@contextlib.asynccontextmanager
async def _emulate(*options: str) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """Run ``python -m n58aio emulate OPTIONS``; yield it with the first line it prints, and
    kill it on the way out if the test did not stop it."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "n58aio",
        "emulate",
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            first_line = (await proc.stdout.readline()).decode().strip()
        yield proc, first_line
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def test_cli_subprocess() -> None:
    async with _emulate("--pdp-up", "--resolve", "example.test=127.0.0.1") as (proc, device):
        assert device.startswith("/dev/")
        port = await Port.open(device)
        try:
            # +PBREADY is lost if it went out before the port was opened (pyserial flushes
            # input on open), as with a real module that booted earlier.
            port.send(b"AT\r")
            answer = await port.read_until(b"AT\r\r\nOK\r\n")
            assert answer in (b"AT\r\r\nOK\r\n", PBREADY + b"AT\r\r\nOK\r\n")
            port.send(b"AT+XIIC?\r")
            assert b"+XIIC:    1," in await port.read_until(b"\r\nOK\r\n")
        finally:
            await port.close()
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0


async def test_cli_tcp_and_sigint() -> None:
    async with _emulate("--tcp", "127.0.0.1:0", "--no-echo") as (proc, url):
        assert url.startswith("socket://127.0.0.1:")
        port = await Port.open(url)
        try:
            # pyserial's socket:// open drains what already arrived after connecting, so a
            # +PBREADY the emulator (another process) sent at once may be gone, as at the pty.
            port.send(b"AT\r")
            answer = await port.read_until(OK)
            assert answer in (OK, PBREADY + OK)
        finally:
            await port.close()
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0


def test_cli_arguments() -> None:
    args = build_parser().parse_args(
        [
            "emulate",
            "--resolve",
            "a.example=127.0.0.1",
            "--resolve",
            "b.example=::1",
            "--baud",
            "9600",
            "--chunk-size",
            "512",
            "--latency",
            "0.1",
            "--no-echo",
            "--tcp",
            "localhost:4000",
        ]
    )
    config = config_from_args(args)
    assert config.resolve == {"a.example": "127.0.0.1", "b.example": "::1"}
    assert (config.baud, config.chunk_size, config.command_latency) == (9600, 512, 0.1)
    assert config.echo is False
    assert config.tcp == ("localhost", 4000)
    for bad in (["emulate", "--resolve", "nohost"], ["emulate", "--tcp", "x"], []):
        with pytest.raises(SystemExit) as info:
            main(bad)
        assert info.value.code == 2
