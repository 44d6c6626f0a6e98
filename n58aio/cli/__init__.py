"""Command line interface: ``n58aio <subcommand> ...`` (also ``python -m n58aio``).

One module per subcommand group registers its parsers: :mod:`.http_commands` (``get``,
``head``, ``post``, ``download``), :mod:`.files_commands` (``files``), :mod:`.at` (``at``),
:mod:`.demo` (``demo``) and the emulator's own ``emulate``. Each parser sets ``handler``, a
callable taking the parsed namespace and returning the exit status. structlog is configured
here, for the CLI process only, and restored when :func:`main` returns.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

from .common import EXIT_CODES_HELP, EXIT_OTHER, error
from .logging import LEVELS, configure_logging

__all__ = ["build_parser", "main"]

_DEFAULT_LEVEL = "warning"


def _logging_options(parser: argparse.ArgumentParser, default: Any) -> None:
    group = parser.add_argument_group("logging")
    group.add_argument(
        "--log-format",
        choices=("console", "json"),
        default=default if default is argparse.SUPPRESS else "console",
        help="log lines on stderr as console text or JSON (default: console)",
    )
    group.add_argument(
        "--log-level",
        dest="global_log_level",
        choices=LEVELS,
        default=default,
        help=f"lowest level logged (default: {_DEFAULT_LEVEL})",
    )


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
    from .. import __version__
    from . import at, demo, files_commands, http_commands, status

    parser = argparse.ArgumentParser(
        prog="n58aio",
        description="Neoway N58 tools: HTTP(S) through a modem, AT commands, an emulator.",
        epilog=EXIT_CODES_HELP
        + "\nThe device defaults to $N58_DEVICE. See `n58aio COMMAND --help` for the options "
        "of each command.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"n58aio {__version__}")
    _logging_options(parser, None)
    # the same options after the subcommand name; SUPPRESS keeps the top-level values
    common = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    _logging_options(common, argparse.SUPPRESS)
    parents = [common]
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    http_commands.add_parsers(subparsers, parents)
    files_commands.add_parser(subparsers, parents)
    at.add_parser(subparsers, parents)
    demo.add_parser(subparsers, parents)
    status.add_parser(subparsers, parents)
    _add_emulate(subparsers)
    return parser


_EXTRAS = {"rich": "cli", "trustme": "emulator"}


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (argparse exits with 2 on usage errors)."""
    try:
        return _main(argv)
    except ModuleNotFoundError as exc:
        package = (exc.name or "").partition(".")[0]
        extra = _EXTRAS.get(package)
        if extra is None:
            raise
        error(f"this command needs {package}: pip install 'n58aio[{extra}]'")
        return EXIT_OTHER


def _main(argv: Sequence[str] | None) -> int:
    args = build_parser().parse_args(argv)
    # `emulate` has a --log-level of its own (default info); the others log warnings and up
    level = args.global_log_level or getattr(args, "log_level", None) or _DEFAULT_LEVEL
    with configure_logging(args.log_format, level):
        return int(args.handler(args))
