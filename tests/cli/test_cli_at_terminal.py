"""``n58aio at`` on a real terminal (a pty): the prompt, readline's line editing and history
(kept across sessions, never a line with a secret), a clean end on Ctrl-D; and through a pipe,
a non-zero exit status when a command failed (issue #24, item 13)."""

from __future__ import annotations

import asyncio
import os
import sys
import termios
from pathlib import Path
from typing import Any

from cli_fixtures import *  # noqa: F403  (fixtures)
from cli_fixtures import SUBPROCESS_TIMEOUT, RunCli, subprocess_env

from n58aio.cli.common import EXIT_MODEM, EXIT_OK
from n58aio.emulator import Emulator

ROOT = Path(__file__).resolve().parents[2]
UP = b"\x1b[A"  # the up-arrow key: the previous line of the history
CTRL_D = b"\x04"


class Terminal:
    """``python -m n58aio at`` with a pty as its stdin, stdout and stderr."""

    def __init__(self, process: asyncio.subprocess.Process, master: int) -> None:
        self.process = process
        self.master = master
        self.seen = b""
        self.shown = b""  # what expect() consumed
        self.mode_at_exit: list[Any] = []  # the terminal's termios attributes the program left

    @classmethod
    async def start(cls, device: str, state: Path) -> Terminal:
        master, slave = os.openpty()
        inputrc = state / "inputrc"
        inputrc.touch()
        env = subprocess_env()
        env.update(
            XDG_STATE_HOME=str(state),
            TERM="xterm",
            # the tester's own key bindings stay out; not os.devnull: when /dev/null was made a
            # regular file (`get -o /dev/null` as root, before the fix), what others wrote there
            # became key bindings, and a typed key (T, +, Ctrl-D) was lost: the "hang"
            INPUTRC=str(inputrc),
            PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])),
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "n58aio",
            "at",
            "--device",
            device,
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env=env,
        )
        os.close(slave)
        os.set_blocking(master, False)
        return cls(process, master)

    async def type(self, keys: bytes) -> None:
        """Type ``keys`` one at a time, as a person does: a burst written before readline has
        put the terminal in its mode can lose a key to the mode switch (seen under load)."""
        for key in keys:
            os.write(self.master, bytes([key]))
            await asyncio.sleep(0.01)

    async def expect(self, marker: bytes) -> bytes:
        """What the terminal shows up to ``marker`` (consumed)."""
        try:
            async with asyncio.timeout(SUBPROCESS_TIMEOUT):
                while marker not in self.seen:
                    await self._read()
        except TimeoutError:
            raise AssertionError(f"{marker!r} not shown: {self.screen()}") from None
        shown, _, self.seen = self.seen.partition(marker)
        self.shown += shown + marker
        return shown + marker

    async def wait(self, event: asyncio.Event) -> None:
        """Wait for ``event`` while reading what the terminal shows."""
        try:
            async with asyncio.timeout(SUBPROCESS_TIMEOUT):
                while not event.is_set():
                    await self._read()
        except TimeoutError:
            raise AssertionError(f"the command never reached the modem: {self.screen()}") from None

    async def _read(self) -> None:
        try:
            self.seen += os.read(self.master, 4096)
        except BlockingIOError:
            await asyncio.sleep(0.01)

    def screen(self) -> str:
        """What the terminal showed (for a failure's message), and the program's state."""
        mode = termios.tcgetattr(self.master)[3]
        return (
            f"shown {self.shown[-300:]!r}, then {self.seen[-300:]!r}; exit status "
            f"{self.process.returncode}; terminal ICANON={bool(mode & termios.ICANON)} "
            f"ECHO={bool(mode & termios.ECHO)}"
        )

    async def close(self) -> int:
        try:
            async with asyncio.timeout(SUBPROCESS_TIMEOUT):
                while self.process.returncode is None:
                    try:  # keep reading, so that the process never blocks on a full terminal
                        self.seen += os.read(self.master, 4096)
                    except (BlockingIOError, OSError):
                        await asyncio.sleep(0.01)
                status = await self.process.wait()
        except TimeoutError:
            raise AssertionError(f"the program did not end: {self.screen()}") from None
        self.mode_at_exit = termios.tcgetattr(self.master)
        os.close(self.master)
        return status


async def test_line_editing_history_and_ctrl_d(emulator: Emulator, tmp_path: Path) -> None:
    terminal = await Terminal.start(emulator.device, tmp_path)
    try:
        await terminal.expect(b"AT> ")
        await terminal.type(b"AT+CSX\x7fQ\r")  # a typo fixed with backspace
        assert b"+CSQ: 24,99\r\nOK\r\n" in await terminal.expect(b"AT> ")
        await terminal.type(b'AT+CPIN="1234"\r')  # a secret: answered, never kept
        assert b"+CME ERROR: 3" in await terminal.expect(b"AT> ")
        await terminal.type(UP + b"\r")  # the previous line kept is AT+CSQ, not the PIN
        assert b"+CSQ: 24,99\r\nOK\r\n" in await terminal.expect(b"AT> ")
        await terminal.type(b"AT+C")  # a report while typing: above the prompt, the typing kept
        await terminal.expect(b"AT+C")
        emulator.faults.inject(b"\r\n+CREG: 1\r\n")
        await terminal.expect(b"\r\x1b[KURC +CREG: 1\r\nAT> AT+C")
        await terminal.type(b"SQ\r")
        assert b"+CSQ: 24,99\r\nOK\r\n" in await terminal.expect(b"AT> ")
        await terminal.type(CTRL_D)
        assert await terminal.close() == EXIT_OK  # interactive: a person saw the error
        lflag = terminal.mode_at_exit[3]
        assert lflag & termios.ICANON and lflag & termios.ECHO  # the line mode given back
    finally:
        if terminal.process.returncode is None:
            terminal.process.kill()
            await terminal.process.wait()
    history = tmp_path / "n58aio" / "at_history"
    assert history.read_text().splitlines() == ["AT+CSQ"]  # a repeated line is kept once
    assert "CPIN" not in history.read_text()
    assert history.stat().st_mode & 0o077 == 0  # the user's own

    # the next session starts with that history
    terminal = await Terminal.start(emulator.device, tmp_path)
    try:
        await terminal.expect(b"AT> ")
        await terminal.type(UP + b"\r")
        assert b"+CSQ: 24,99\r\nOK\r\n" in await terminal.expect(b"AT> ")
        await terminal.type(b"exit\r")
        assert await terminal.close() == EXIT_OK
    finally:
        if terminal.process.returncode is None:
            terminal.process.kill()
            await terminal.process.wait()


async def test_ctrl_d_typed_while_a_command_runs_ends_the_session(
    emulator: Emulator, tmp_path: Path
) -> None:
    # Between two lines readline hands the terminal back to the mode it found; in the line
    # mode a Ctrl-D typed then became a NUL byte for readline: lost, the session never ended.
    received = asyncio.Event()

    def slow_reply() -> None:
        emulator.faults.stall(0.5)  # the reply, and so the next prompt, comes later
        received.set()

    emulator.faults.on_command("AT+CSQ", slow_reply)
    terminal = await Terminal.start(emulator.device, tmp_path)
    try:
        await terminal.expect(b"AT> ")
        await terminal.type(b"AT+CSQ\r")
        await terminal.wait(received)  # sent: readline is done with the line
        await terminal.type(CTRL_D)  # typed ahead, before the reply and the next prompt
        assert b"+CSQ: 24,99\r\nOK\r\n" in await terminal.expect(b"AT> ")
        assert await terminal.close() == EXIT_OK
    finally:
        if terminal.process.returncode is None:
            terminal.process.kill()
            await terminal.process.wait()


async def test_a_failed_command_in_a_pipe_exits_non_zero(
    run_cli: RunCli, emulator: Emulator
) -> None:
    result = await run_cli("at", "--device", emulator.device, stdin="AT\nAT+CSQ\n")
    assert result.status == EXIT_OK, result.stderr
    result = await run_cli("at", "--device", emulator.device, stdin="AT+BOGUS\nAT\n")
    assert result.status == EXIT_MODEM  # the script learns it; the next commands still ran
    # an unknown command, as the N58 answers it with CMEE=1
    assert result.out.splitlines() == ["+CME ERROR: 58", "OK"]
