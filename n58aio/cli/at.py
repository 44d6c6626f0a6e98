"""``n58aio at``: send one AT command, or an interactive AT terminal that shows reports."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import termios
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TextIO

from ..errors import CommandError, N58Error, PortClosedError
from ..modem import Modem
from ..redact import redact
from .common import (
    EXIT_CODES_HELP,
    EXIT_MODEM,
    EXIT_OK,
    add_modem_options,
    at_command,
    error,
    modem_from_args,
)
from .common import run as run_coroutine

__all__ = ["add_parser", "history_path"]

URC_PREFIX = "URC "
_QUIT = frozenset({"exit", "quit"})


def add_parser(
    subparsers: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]
) -> None:
    """Register ``at``."""
    parser = subparsers.add_parser(
        "at",
        help="send an AT command, or run an interactive AT terminal",
        description="Send COMMAND and print its reply lines and final result (exit status 3 "
        "for ERROR or +CME ERROR). Without COMMAND, read commands from stdin one per line "
        "(a terminal or a pipe), print each reply, and print unsolicited reports as they "
        f"arrive, prefixed {URC_PREFIX.strip()!r}, until end of input or 'exit'.",
        parents=parents,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "command", nargs="?", type=at_command, metavar="COMMAND", help="e.g. ATI or 'AT+XIIC?'"
    )
    parser.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="S",
        help="keep printing reports for S seconds after the last command",
    )
    add_modem_options(parser, http=False)
    parser.set_defaults(handler=_at_command)


def _at_command(args: argparse.Namespace) -> int:
    return run_coroutine(lambda: _at(args))


async def _at(args: argparse.Namespace) -> int:
    async with modem_from_args(args) as modem:
        if args.command is None:
            failed = await _terminal(modem, args.timeout, args.wait)
            # a script piped in learns that a command failed; a person saw it on the screen
            return EXIT_MODEM if failed and not sys.stdin.isatty() else EXIT_OK
        if args.wait > 0:
            async with _printing_reports(modem):
                ok = await _send(modem, args.command, args.timeout, sys.stdout)
                await asyncio.sleep(args.wait)
        else:
            ok = await _send(modem, args.command, args.timeout, sys.stdout)
        return EXIT_OK if ok else EXIT_MODEM


async def _send(modem: Modem, command: str, timeout: float | None, out: TextIO) -> bool:
    """Send ``command`` and print its reply; False when the modem answered with an error."""
    try:
        reply = await modem.command(command, timeout)
    except CommandError as exc:
        print(exc.text, file=out, flush=True)
        return False
    for line in reply.lines:
        print(line, file=out)
    print(reply.final, file=out, flush=True)
    return True


@contextlib.asynccontextmanager
async def _printing_reports(
    modem: Modem, show: Callable[[str], None] | None = None
) -> AsyncIterator[None]:
    """Print every unsolicited report on stdout (through ``show``) while the block runs."""
    subscription = modem.urcs("")

    async def pump() -> None:
        async with subscription:
            with contextlib.suppress(PortClosedError):
                async for line in subscription:
                    if show is None:
                        print(URC_PREFIX + line, flush=True)
                    else:
                        show(URC_PREFIX + line)

    task = asyncio.ensure_future(pump())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _terminal(modem: Modem, timeout: float | None, wait: float) -> int:
    """The interactive loop over stdin lines; returns how many commands failed."""
    lines: _Lines = _PromptedLines() if sys.stdin.isatty() else _PipedLines()
    failed = 0
    try:
        async with _printing_reports(modem, lines.report):
            while True:
                line = await lines.next()
                if line is None or line.strip().lower() in _QUIT:
                    break
                command = line.strip()
                if not command:
                    continue
                try:
                    if not await _send(modem, command, timeout, sys.stdout):
                        failed += 1
                except PortClosedError:
                    raise
                except N58Error as exc:  # a timeout or a refused value: report it and go on
                    failed += 1
                    error(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(wait)
    finally:
        lines.close()
    return failed


class _Lines:
    """Where the terminal's commands come from."""

    def report(self, line: str) -> None:
        """Print an unsolicited report line."""
        print(line, flush=True)

    async def next(self) -> str | None:
        """The next line, None at the end of input."""
        raise NotImplementedError

    def close(self) -> None:
        """Stop reading (and save what should outlive the session)."""


class _PipedLines(_Lines):
    """Lines of a pipe or file, read ahead by a daemon thread (so a blocked read never holds up
    the exit)."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[str | None] = asyncio.Queue()
        readline = sys.stdin.readline
        queue = self._queue

        def reader() -> None:
            try:
                while line := readline():
                    loop.call_soon_threadsafe(queue.put_nowait, line)
            except (OSError, ValueError):  # stdin closed or unreadable: the end of input
                pass
            except RuntimeError:  # the event loop is closed: nobody is listening
                return
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(queue.put_nowait, None)

        threading.Thread(target=reader, name="n58aio-at-stdin", daemon=True).start()

    async def next(self) -> str | None:
        return await self._queue.get()


class _PromptedLines(_Lines):
    """Lines typed at a terminal after the ``AT> `` prompt, with readline's line editing and a
    history kept across sessions in :func:`history_path` (never a line the redaction rule
    changes: a PIN, a password, credentials). Ctrl-D ends the input."""

    def __init__(self) -> None:
        self.waiting = False  # the prompt is shown and input() is waiting for a line
        self._readline = _load_readline()
        self._path = history_path()
        self._terminal: _TerminalMode | None = None
        if self._readline is not None:
            with contextlib.suppress(OSError):
                self._readline.read_history_file(self._path)
            self._readline.set_history_length(HISTORY_LENGTH)
            self._readline.set_pre_input_hook(self._prompt_shown)
            if sys.stdout.isatty():  # input() edits with readline only when both are terminals
                self._terminal = _TerminalMode.hold(sys.stdin.fileno())

    def _prompt_shown(self) -> None:
        """readline's pre-input hook (in the input thread): the prompt is on the screen."""
        self.waiting = True

    async def next(self) -> str | None:
        # input() is called only once the previous reply is printed, so the prompt comes last;
        # in a daemon thread, as the pipe reader, so that Ctrl-C never waits for a blocked read
        loop = asyncio.get_running_loop()
        typed: asyncio.Future[str | None] = loop.create_future()

        def settle(line: str | None) -> None:
            if not typed.done():
                typed.set_result(line)

        def ask() -> None:
            try:
                line: str | None = input(PROMPT)
            except (EOFError, OSError, ValueError):  # Ctrl-D, or the terminal went away
                line = None
            self.waiting = False  # before the line is handed over: no report redraws it
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody listens
                loop.call_soon_threadsafe(settle, line)

        if self._readline is None:  # input() prints the prompt itself, right away
            self.waiting = True
        threading.Thread(target=ask, name="n58aio-at-input", daemon=True).start()
        try:
            line = await typed
        finally:
            self.waiting = False
        if line is None:  # the shell's prompt goes on a line of its own
            print(flush=True)
            return None
        self._forget_secret(line)
        return line

    def report(self, line: str) -> None:
        """Print a report while the user may be typing: above the prompt and what is typed."""
        if not self.waiting:
            print(line, flush=True)
            return
        typed = self._readline.get_line_buffer() if self._readline is not None else ""
        sys.stdout.write(f"\r\x1b[K{line}\n{PROMPT}{typed}")
        sys.stdout.flush()

    def _forget_secret(self, line: str) -> None:
        module = self._readline
        if module is None or redact(line) == line:
            return
        length = module.get_current_history_length()
        if length and module.get_history_item(length) == line:
            module.remove_history_item(length - 1)

    def close(self) -> None:
        if self._terminal is not None:
            self._terminal.restore()
        module = self._readline
        if module is None:
            return
        module.set_pre_input_hook(None)
        with contextlib.suppress(OSError):
            self._path.parent.mkdir(parents=True, exist_ok=True)
            module.write_history_file(self._path)
            os.chmod(self._path, 0o600)


class _TerminalMode:
    """The terminal held in readline's character-at-a-time mode for the whole session.

    readline switches the terminal to that mode while it reads a line and back to the mode it
    found in between. Left in the line mode there, keys typed while a command runs are taken by
    the terminal's line discipline: a Ctrl-D becomes an end-of-file marker that readline later
    reads as a NUL byte, so the Ctrl-D is lost and the session does not end (a Backspace is
    applied by the terminal, not by readline). In this mode they wait for readline as typed.
    """

    def __init__(self, fd: int, saved: list[Any]) -> None:
        self._fd = fd
        self._saved = saved

    @classmethod
    def hold(cls, fd: int) -> _TerminalMode | None:
        """Switch ``fd`` to character mode (signals such as Ctrl-C still work); None where
        that is not possible."""
        try:
            saved = termios.tcgetattr(fd)
            mode = termios.tcgetattr(fd)
            # ECHO stays: readline echoes the line itself only on a terminal that echoes
            mode[3] &= ~(termios.ICANON | termios.IEXTEN)
            mode[6][termios.VMIN] = 1
            mode[6][termios.VTIME] = 0
            termios.tcsetattr(fd, termios.TCSADRAIN, mode)
        except (termios.error, OSError):
            return None
        return cls(fd, saved)

    def restore(self) -> None:
        """Give the terminal back as it was found."""
        with contextlib.suppress(termios.error, OSError):
            termios.tcsetattr(self._fd, termios.TCSADRAIN, self._saved)


PROMPT = "AT> "
HISTORY_LENGTH = 1000


def history_path() -> Path:
    """The terminal's history file: ``$XDG_STATE_HOME/n58aio/at_history`` (by default
    ``~/.local/state/n58aio/at_history``)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "n58aio" / "at_history"


def _load_readline() -> Any:
    """The readline module (line editing, history), or None where Python has none."""
    try:
        import readline
    except ImportError:
        return None
    return readline
