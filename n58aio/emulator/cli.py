"""``n58aio emulate``: run one emulated N58 until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import signal
import sys
import tempfile
from pathlib import Path

import structlog

from .config import EmulatorConfig
from .emulator import Emulator
from .origin import OriginServer, pattern_bytes, pattern_sha256

__all__ = ["ORIGIN_HOST", "SAMPLE_FILES", "add_arguments", "config_from_args", "run", "serve"]

#: The host name ``--origin`` routes to the bundled origin (the one the docs' examples use).
ORIGIN_HOST = "example.com"
#: The files ``--origin`` serves below ``/files/`` without ``--origin-files``: the docs' names,
#: each :data:`SAMPLE_SIZE` bytes of the origin's test pattern.
SAMPLE_FILES = ("big.bin", "fw.bin", "firmware.bin")
SAMPLE_SIZE = 300_000
SAMPLE_SHA256 = pattern_sha256(SAMPLE_SIZE)


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
        help="resolve HOST to ADDRESS, or send HOST:PORT to ADDRESS:PORT (repeatable)",
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
        "--origin",
        action="store_true",
        help="also run the bundled origin server and route example.com to it: "
        "http://example.com/ and https://example.com/ (its CA on the module as ca.pem) serve "
        "/echo, /bytes/N, /json/N, /status/N, /auth, /redirect, /upload/NAME and /files/NAME",
    )
    parser.add_argument(
        "--origin-files",
        type=Path,
        metavar="DIR",
        help="the directory served below /files/ (default: sample files big.bin and fw.bin, "
        f"{SAMPLE_SIZE} bytes, SHA-256 {SAMPLE_SHA256[:12]}...)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default=None,
        help="lowest level of the log lines written to stderr (default: warning)",
    )
    parser.add_argument(
        "-v",
        "--verbose",
        dest="log_level",
        action="store_const",
        const="info",
        help="log what the module does (--log-level info)",
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


async def _start_origins(
    stack: contextlib.AsyncExitStack, files: Path | None
) -> tuple[dict[str, str], bytes]:
    """The bundled origin over HTTP and HTTPS (a throwaway CA whose certificate names
    :data:`ORIGIN_HOST`): the ``resolve`` entries that send ``example.com:80`` and ``:443``
    there, and the CA certificate (PEM) for the module's file system."""
    from .tlsfiles import TLSFiles  # trustme: the emulator extra

    if files is None:
        files = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="n58-origin-")))
        sample = pattern_bytes(0, SAMPLE_SIZE)
        for name in SAMPLE_FILES:
            (files / name).write_bytes(sample)
    tls = TLSFiles.generate((ORIGIN_HOST, "localhost", "127.0.0.1"))
    http = await stack.enter_async_context(OriginServer(files=files))
    https = await stack.enter_async_context(OriginServer(files=files, tls=tls))
    structlog.get_logger("n58aio.emulator").info(
        "emulate.origin", host=ORIGIN_HOST, http=http.url(), https=https.url(), files=str(files)
    )
    routes = {
        f"{ORIGIN_HOST}:80": f"127.0.0.1:{http.port}",
        f"{ORIGIN_HOST}:443": f"127.0.0.1:{https.port}",
    }
    return routes, tls.ca_cert_pem


async def serve(config: EmulatorConfig, *, origin: bool = False, files: Path | None = None) -> None:
    """Run one emulator (with ``origin``, the bundled origin behind ``example.com`` too); print
    its URL alone on the first stdout line; stop on SIGINT/SIGTERM."""
    async with contextlib.AsyncExitStack() as stack:
        ca_pem = None
        if origin:
            routes, ca_pem = await _start_origins(stack, files)
            config = dataclasses.replace(config, resolve={**routes, **config.resolve})
        await _serve(config, ca_pem)


async def _serve(config: EmulatorConfig, ca_pem: bytes | None) -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
    try:
        async with Emulator(config) as emu:
            if ca_pem is not None:  # the CA of this run's origin certificate
                (emu.fs_root / "ca.pem").write_bytes(ca_pem)
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
    _setup_logging(args.log_level or "warning")
    try:
        config = config_from_args(args)
    except ValueError as exc:
        print(f"n58aio emulate: {exc}", file=sys.stderr)
        return 2
    try:
        asyncio.run(serve(config, origin=args.origin, files=args.origin_files))
    except KeyboardInterrupt:
        pass
    except OSError as exc:
        print(f"n58aio emulate: {exc}", file=sys.stderr)
        return 1
    return 0
