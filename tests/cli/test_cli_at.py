"""``n58aio at``: one command, and the interactive terminal fed through a pipe."""

from __future__ import annotations

import asyncio
import sys

from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import SUBPROCESS_TIMEOUT, RunCli, run_module, subprocess_env

from n58aio.cli.common import EXIT_MODEM, EXIT_OK
from n58aio.emulator import Emulator


async def test_at_single_command(run_cli: RunCli, emulator: Emulator) -> None:
    result = await run_cli("at", "ATI", "--device", emulator.device)
    assert result.status == EXIT_OK, result.stderr
    assert result.out.splitlines() == ["Neoway", "N58", "Revision: N58-R07-STD-BZ-EMU", "OK"]

    result = await run_cli("at", "AT+CSQ", "--device", emulator.device)
    assert result.out.splitlines() == ["+CSQ: 24,99", "OK"]


async def test_at_error_results_exit_non_zero(run_cli: RunCli, emulator: Emulator) -> None:
    result = await run_cli("at", "AT+FILEHTTPACTION=0,0,10", "--device", emulator.device)
    assert result.status == EXIT_MODEM
    assert result.out.strip() == "+CME ERROR: 1001"  # no data link

    result = await run_cli("at", "AT+NOSUCH", "--device", emulator.device)
    assert result.status == EXIT_MODEM
    assert result.out.strip() == "+CME ERROR: 58"  # an unknown command, as the N58 answers


async def test_at_wait_prints_reports(run_cli: RunCli, emulator: Emulator) -> None:
    async def inject() -> None:
        await asyncio.sleep(0.3)
        emulator.faults.inject(b"\r\n+CREG: 1\r\n")

    injector = asyncio.ensure_future(inject())
    result = await run_cli("at", "AT", "--wait", "1.5", "--device", emulator.device)
    await injector
    assert result.status == EXIT_OK, result.stderr
    assert result.out.splitlines() == ["OK", "URC +CREG: 1"]


async def test_interactive_from_stdin(run_cli: RunCli, emulator: Emulator) -> None:
    script = "AT\n\nAT+CMEE?\nAT+BOGUS\nnot a command\nexit\nATI\n"
    result = await run_cli("at", "--device", emulator.device, stdin=script)
    assert result.status == EXIT_OK, result.stderr
    assert result.out.splitlines() == ["OK", "+CMEE: 1", "OK", "+CME ERROR: 58"]
    assert "InvalidValue" in result.stderr  # reported, and the terminal went on


async def test_at_subprocess(emulator: Emulator) -> None:
    status, out, err = await run_module("at", "AT", "--device", emulator.device)
    assert status == EXIT_OK, err
    assert out.splitlines() == ["OK"]


async def test_interactive_subprocess_pipe_shows_reports(emulator: Emulator) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "n58aio",
        "at",
        "--device",
        emulator.device,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=subprocess_env(),
    )
    assert process.stdin is not None and process.stdout is not None
    try:
        async with asyncio.timeout(SUBPROCESS_TIMEOUT):
            process.stdin.write(b"ATE0\nAT+CSQ\n")
            await process.stdin.drain()
            assert await process.stdout.readline() == b"OK\n"
            assert await process.stdout.readline() == b"+CSQ: 24,99\n"
            assert await process.stdout.readline() == b"OK\n"
            emulator.faults.inject(b"\r\nGPRS DISCONNECTION\r\n")
            assert await process.stdout.readline() == b"URC GPRS DISCONNECTION\n"
            process.stdin.write(b"AT\n")
            await process.stdin.drain()
            assert await process.stdout.readline() == b"OK\n"
            process.stdin.close()  # end of input ends the terminal
            assert await process.wait() == EXIT_OK
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
