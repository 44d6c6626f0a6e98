"""``n58aio at``: send one AT command, or an interactive AT terminal that shows reports."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any, TextIO

from ..errors import CommandError, N58Error, PortClosedError
from ..modem import Modem
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

__all__ = ["add_parser"]

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
            await _terminal(modem, args.timeout, args.wait)
            return EXIT_OK
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
async def _printing_reports(modem: Modem) -> AsyncIterator[None]:
    """Print every unsolicited report on stdout while the block runs."""
    subscription = modem.urcs("")

    async def pump() -> None:
        async with subscription:
            with contextlib.suppress(PortClosedError):
                async for line in subscription:
                    print(URC_PREFIX + line, flush=True)

    task = asyncio.ensure_future(pump())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _terminal(modem: Modem, timeout: float | None, wait: float) -> None:
    """The interactive loop over stdin lines."""
    lines = _stdin_lines()
    interactive = sys.stdin.isatty()
    async with _printing_reports(modem):
        while True:
            if interactive:
                print("AT> ", end="", flush=True)
            line = await lines.get()
            if line is None or line.strip().lower() in _QUIT:
                break
            command = line.strip()
            if not command:
                continue
            try:
                await _send(modem, command, timeout, sys.stdout)
            except PortClosedError:
                raise
            except N58Error as exc:  # a timeout or a refused value: report it and go on
                error(f"{type(exc).__name__}: {exc}")
        await asyncio.sleep(wait)


def _stdin_lines() -> asyncio.Queue[str | None]:
    """Lines of stdin, read by a daemon thread (so a blocked read never holds up the exit);
    None marks the end of input."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    readline = sys.stdin.readline

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
    return queue
