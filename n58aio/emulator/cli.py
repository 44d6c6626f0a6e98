"""``n58aio emulate``: run one emulated N58 until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from pathlib import Path

import structlog

from .config import EmulatorConfig
from .emulator import Emulator

__all__ = ["add_arguments", "config_from_args", "run", "serve"]


def _host_port(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def _mapping(text: str) -> tuple[str, str]:
    host, sep, address = text.partition("=")
    if not sep or not host or not address:
        raise argparse.ArgumentTypeError(f"expected HOST=ADDRESS, got {text!r}")
    return host, address


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1: {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0: {text!r}")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``emulate`` options to ``parser``."""
    parser.add_argument(
        "--tcp", type=_host_port, metavar="HOST:PORT", help="serve on TCP instead of a pty"
    )
    parser.add_argument(
        "--resolve",
        type=_mapping,
        action="append",
        default=[],
        metavar="HOST=ADDRESS",
        help="resolve HOST to ADDRESS (repeatable)",
    )
    parser.add_argument("--fs", type=Path, metavar="DIR", help="module file system directory")
    parser.add_argument("--baud", type=_positive_int, help="pace output at BAUD/10 bytes/s")
    parser.add_argument("--chunk-size", type=_positive_int, default=1460, metavar="N")
    parser.add_argument("--latency", type=_seconds, default=0.0, metavar="S")
    parser.add_argument("--no-echo", action="store_true", help="start with echo off (ATE0)")
    parser.add_argument("--pdp-up", action="store_true", help="start with the data link up")
    parser.add_argument(
        "--firmware",
        choices=["ch9", "v2"],
        default="ch9",
        help="AT+HTTPSCFG dialect: ch9 (TLS <= 1.2, ciphersuite; default) or v2 (TLS 1.3, sni)",
    )
    parser.add_argument(
        "--sim", choices=["ready", "pin", "puk", "absent"], default="ready", help="SIM state"
    )
    parser.add_argument("--sim-pin", default="1234", metavar="PIN", help="the SIM's PIN")
    parser.add_argument("--sim-puk", default="12345678", metavar="PUK", help="the SIM's PUK")
    parser.add_argument("--apn", help="APN the network requires for AT+XIIC=1 (default: any)")
    parser.add_argument("--apn-user", metavar="USER", help="APN user the network requires")
    parser.add_argument("--apn-password", metavar="PASSWORD", help="APN password required")
    parser.add_argument(
        "--registration",
        choices=["home", "roaming", "searching", "denied", "idle"],
        default="home",
        help="what the network does with the registration (default: home)",
    )
    parser.add_argument("--reject-cause", type=int, metavar="N", help="cause when denied")
    parser.add_argument("--csq", type=int, default=24, metavar="N", help="signal, 0-31 or 99")
    parser.add_argument(
        "--auto-baud", action="store_true", help="silent after boot until the first AT (ch02)"
    )
    parser.add_argument(
        "--no-boot-report", action="store_true", help="boot without a visible +PBREADY"
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="info",
        help="log level of the messages written to stderr (default: info)",
    )


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    """Build the emulator configuration from parsed ``emulate`` options."""
    return EmulatorConfig(
        resolve=dict(args.resolve),
        fs_root=args.fs,
        baud=args.baud,
        chunk_size=args.chunk_size,
        command_latency=args.latency,
        echo=not args.no_echo,
        tcp=args.tcp,
        pdp_up=args.pdp_up,
        firmware=args.firmware,
        sim=args.sim,
        sim_pin=args.sim_pin,
        sim_puk=args.sim_puk,
        network_apn=args.apn,
        network_user=args.apn_user,
        network_password=args.apn_password,
        registration=args.registration,
        reject_cause=args.reject_cause,
        csq=args.csq,
        auto_baud=args.auto_baud,
        boot_report=not args.no_boot_report,
    )


async def serve(config: EmulatorConfig) -> None:
    """Run one emulator; print its URL alone on the first stdout line; stop on SIGINT/SIGTERM."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with Emulator(config) as emu:
            sys.stdout.write(emu.url + "\n")
            sys.stdout.flush()
            closed = asyncio.ensure_future(emu.wait_closed())
            stopping = asyncio.ensure_future(stop.wait())
            await asyncio.wait({closed, stopping}, return_when=asyncio.FIRST_COMPLETED)
            for fut in (closed, stopping):
                fut.cancel()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


def _setup_logging(level: str) -> None:
    """Send log lines to stderr (stdout carries the URL), unless the host set structlog up."""
    if structlog.is_configured():
        return
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
    )


def run(args: argparse.Namespace) -> int:
    """Entry point of ``n58aio emulate`` (a process of its own: it sets structlog up)."""
    _setup_logging(args.log_level)
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"n58aio emulate: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"n58aio emulate: {exc}", file=sys.stderr)
        return 1
    return 0
