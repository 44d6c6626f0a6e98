"""Command line interface: ``n58aio <subcommand> ...``.

Each subcommand is registered by a ``_add_<name>(subparsers)`` function that sets ``handler``
(a callable taking the parsed namespace and returning the exit status).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

__all__ = ["build_parser", "main"]


def _add_emulate(subparsers: argparse._SubParsersAction[Any]) -> None:
    from ..emulator import cli as emulator_cli

    parser = subparsers.add_parser(
        "emulate",
        help="run an emulated N58 module on a pty or a TCP port",
        description="Run an emulated N58 module. The device path (or socket:// URL) is printed "
        "alone on the first line of stdout; stop with SIGINT or SIGTERM.",
    )
    emulator_cli.add_arguments(parser)
    parser.set_defaults(handler=emulator_cli.run)


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="n58aio", description="Neoway N58 tools")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    _add_emulate(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    handler = args.handler
    status = handler(args)
    return int(status)
