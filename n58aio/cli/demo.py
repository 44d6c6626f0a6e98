"""``n58aio demo``: a verified HTTPS download through an emulated N58, no hardware, no network.

The demo starts, in this process, a local HTTPS origin with a throwaway CA and an emulated
N58 on a pseudo-terminal, paced at a real line rate, with the CA certificate in its file
system; like a module fresh from power-on, it boots at auto-baud, its SIM asks for a PIN and the
network wants an APN. It then does what an application would: opens the modem on the pty,
attaches (showing each bring-up step: SIM, registration, APN, data link, line speed), configures
TLS, downloads a file with :meth:`~n58aio.Modem.download` and checks its SHA-256.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..emulator import Emulator, EmulatorConfig
from ..emulator.origin import OriginServer, pattern_sha256
from ..http import TLSConfig
from ..modem import open_modem
from ..transfer import DownloadResult, Progress
from .common import (
    EXIT_CODES_HELP,
    EXIT_MODEM,
    EXIT_OK,
    EXIT_TRANSFER,
    CliError,
    error,
    run,
    size,
)
from .progress import TransferBar, progress_wanted

__all__ = ["DEFAULT_BAUD", "DEFAULT_SIZE", "add_parser"]

DEFAULT_BAUD = 921600
DEFAULT_SIZE = 1 << 20
"""1 MiB: about 12 s at 921600 baud (92160 bytes/s on the line), short enough for CI."""

_HOST = "localhost"
_DEMO_PIN = "1234"
_DEMO_APN = "demo.m2m"
_STEP_NAMES = {"line_speed": "line speed"}


def add_parser(
    subparsers: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]
) -> None:
    """Register ``demo``."""
    parser = subparsers.add_parser(
        "demo",
        help="verified HTTPS download through an emulated N58 (no hardware, no network)",
        description="Start an emulated N58 (paced at a real line rate) and a local HTTPS "
        "server with a throwaway CA, stream a file through the modem with a progress bar, "
        "verify its SHA-256 and print the goodput as a share of the line rate. Exit status 0 "
        "only when the hash is verified.",
        parents=parents,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--size",
        type=size,
        default=DEFAULT_SIZE,
        help="bytes to download, e.g. 256KB, 4MB (binary units; default: 1MB)",
    )
    parser.add_argument(
        "--baud",
        type=int,
        default=DEFAULT_BAUD,
        help=f"line rate of the emulated module, 0 = unpaced (default: {DEFAULT_BAUD})",
    )
    parser.add_argument("--keep", type=Path, metavar="FILE", help="keep the file as FILE")
    parser.add_argument(
        "--timeout",
        type=float,
        metavar="S",
        help="give up after S seconds (default: 30 s plus three times the line time)",
    )
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    parser.set_defaults(handler=_demo_command)


def _demo_command(args: argparse.Namespace) -> int:
    if args.baud != 0 and args.baud < 10:
        error("--baud must be 0 (unpaced) or at least 10")
        return 2
    return run(lambda: _demo(args))


def _line_rate(baud: int) -> float | None:
    """Bytes per second on the line: 10 bits per byte (start, 8 data, stop)."""
    return baud / 10 if baud else None


async def _demo(args: argparse.Namespace) -> int:
    line_rate = _line_rate(args.baud)
    timeout = args.timeout
    if timeout is None:
        timeout = 30.0 + (3 * args.size / line_rate if line_rate else args.size / 100_000)
    out = sys.stdout
    try:
        async with asyncio.timeout(timeout):
            return await _run(args, line_rate, out)
    except TimeoutError:
        raise CliError(f"the demo did not finish within {timeout:.0f} s", EXIT_MODEM) from None


async def _run(args: argparse.Namespace, line_rate: float | None, out: Any) -> int:
    paced = f"{args.baud} baud ({line_rate:.0f} bytes/s)" if line_rate else "unpaced"
    print(f"n58aio demo: {_human(args.size)} over HTTPS through an emulated N58, {paced}", file=out)
    with tempfile.TemporaryDirectory(prefix="n58aio-demo-") as tmp:
        module_fs = Path(tmp) / "module-fs"
        from ..emulator.tlsfiles import TLSFiles  # trustme: the emulator extra

        tls = await asyncio.to_thread(TLSFiles.generate)
        tls.write_to(module_fs)  # ca.pem (and a client certificate) on the module
        config = EmulatorConfig(
            baud=args.baud or None,
            fs_root=module_fs,
            resolve={_HOST: "127.0.0.1"},
            auto_baud=True,
            sim="pin",
            sim_pin=_DEMO_PIN,
            network_apn=_DEMO_APN,
        )
        async with (
            OriginServer(tls=tls) as origin,
            Emulator(config) as emulator,
            open_modem(emulator.device, name="demo", baudrate=args.baud or 115200) as modem,
        ):
            print("  bring-up  (auto-baud, SIM PIN, APN required, as from power-on)", file=out)

            def step(name: str, detail: str) -> None:
                print(f"    {_STEP_NAMES.get(name, name):<13}{detail}", file=out, flush=True)

            status = await modem.attach(pin=_DEMO_PIN, apn=_DEMO_APN, on_step=step)
            modem.configure_tls(TLSConfig(ca_cert="ca.pem"))
            url = f"https://{_HOST}:{origin.port}/bytes/{args.size}"
            print(f"  modem     {emulator.device} (emulated), data link {status.address}", file=out)
            print(f"  origin    {url} (throwaway CA, verified by the module)", file=out)
            target = args.keep or Path(tmp) / "download.bin"
            expected = pattern_sha256(args.size)
            enabled = progress_wanted(args.no_progress, to_stdout=False)
            out.flush()
            started = time.monotonic()
            with TransferBar("demo", enabled=enabled) as bar:

                def progress(state: Progress) -> None:
                    bar.update(state.done, state.total)

                result = await modem.download(url, target, sha256=expected, progress=progress)
            elapsed = time.monotonic() - started
            actual = await asyncio.to_thread(_sha256_of, result.path)
        _summary(out, result, elapsed, line_rate)
        if actual != expected or result.size != args.size:
            print(f"  sha256    {actual} MISMATCH (expected {expected})", file=out, flush=True)
            return EXIT_TRANSFER
        print(f"  sha256    {actual} hash verified", file=out)
        if args.keep:
            print(f"  kept      {args.keep}", file=out)
        out.flush()
    return EXIT_OK


def _summary(out: Any, result: DownloadResult, elapsed: float, line_rate: float | None) -> None:
    goodput = result.size / elapsed if elapsed > 0 else float("inf")
    share = f" = {100 * goodput / line_rate:.1f} % of the line rate" if line_rate else ""
    print(
        f"  received  {result.size} bytes in {elapsed:.2f} s "
        f"({result.requests} ranged GETs, {result.retries} retries)",
        file=out,
    )
    print(f"  goodput   {goodput / 1024:.1f} KiB/s{share}", file=out)


def _sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def _human(count: int) -> str:
    for unit, scale in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:g} {unit}"
    return f"{count} bytes"
