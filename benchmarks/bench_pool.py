"""Parallel download speedup of a modem pool: 4 modems against 1 at the same line rate.

``python -m benchmarks.bench_pool [--quick]`` downloads the same file through
:meth:`ModemPool.download <n58aio.pool.ModemPool.download>` over one emulated modem, then over
four, every modem paced at :data:`BAUD`, and prints both throughputs and their ratio (measured
in the same run). The origin and the emulators run in this process.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path

import structlog

import n58aio
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer, pattern_sha256

__all__ = ["BAUD", "MODEMS", "run_pool_benchmark"]

BAUD = 921_600
"""Line rate of every emulated modem (8N1: ``BAUD / 10`` bytes per second)."""

MODEMS = 4
QUICK_SIZE = 400_000
FULL_SIZE = 2_000_000


async def _timed_download(devices: list[str], url: str, size: int, target: Path) -> float:
    """Seconds to download ``url`` over a pool of ``devices`` (the pool is opened first)."""
    async with n58aio.ModemPool(devices, health_interval=3600.0) as pool:
        started = time.perf_counter()
        result = await pool.download(url, target, sha256=pattern_sha256(size))
        elapsed = time.perf_counter() - started
    if result.size != size:
        raise RuntimeError(f"downloaded {result.size} bytes, expected {size}")
    return elapsed


async def _benchmark(size: int) -> dict[str, float]:
    config = EmulatorConfig(baud=BAUD, pdp_up=True)
    async with AsyncExitStack() as stack:
        origin = await stack.enter_async_context(OriginServer())
        emulators = [await stack.enter_async_context(Emulator(config)) for _ in range(MODEMS)]
        devices = [emulator.device for emulator in emulators]
        url = origin.url(f"/bytes/{size}")
        with tempfile.TemporaryDirectory(prefix="n58-bench-pool-") as directory:
            one = await _timed_download(devices[:1], url, size, Path(directory) / "one")
            many = await _timed_download(devices, url, size, Path(directory) / "pool")
    return {
        "baud": float(BAUD),
        "line_bytes_per_s": BAUD / 10,
        "size": float(size),
        "modems": float(MODEMS),
        "one_modem_s": one,
        "one_modem_bytes_per_s": size / one,
        "pool_s": many,
        "pool_bytes_per_s": size / many,
        "speedup": one / many,
    }


def run_pool_benchmark(quick: bool) -> dict[str, float]:
    """Run the benchmark (``quick``: a smaller file) and return its figures; ``speedup`` is
    the throughput of :data:`MODEMS` modems divided by that of one.

    Logging is left as the caller configured it (structlog prints debug lines by default).
    """
    return asyncio.run(_benchmark(QUICK_SIZE if quick else FULL_SIZE))


def main(argv: list[str] | None = None) -> int:
    """Print the figures of one run."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_pool", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a smaller file")
    args = parser.parse_args(argv)
    structlog.configure(
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
    )
    figures = run_pool_benchmark(args.quick)
    line = figures["line_bytes_per_s"]
    print(f"pool download, {figures['size']:.0f} bytes, every modem at {BAUD} baud")
    for label, key in (("1 modem", "one_modem"), (f"{MODEMS} modems", "pool")):
        rate = figures[f"{key}_bytes_per_s"]
        print(
            f"  {label:>9}: {figures[f'{key}_s']:7.2f} s  {rate / 1000:8.1f} kB/s"
            f"  ({rate / line:.2f} x one line)"
        )
    print(f"  speedup: {figures['speedup']:.2f}x with {MODEMS} modems")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
