"""27.010 multiplexing (``open_modem(mux=True)``): goodput, client CPU and command latency.

``python -m benchmarks.bench_mux [--quick] [--json PATH]`` runs, at 921600 and 2,166,666 baud
(the emulator paced, in a helper process; the origin in another), for each of one channel and
the multiplexer:

* a streamed download: goodput (body bytes per second from the first chunk to the last)
  against the payload capacity of the line (what it carries once every 1460-byte chunk is
  framed as a ``+HTTPRECV`` report, and with the multiplexer cut into UIH frames of N1 bytes);
  client CPU per MB (``getrusage`` of this process, which runs only the client);
* ``AT+CSQ`` every 0.2 s while a stream runs at full rate, and while its consumer is stalled
  for :data:`STALL` seconds: the median and the worst latency.

Ratios compare measurements of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import n58aio
from n58aio.cmux.mux import DEFAULT_N1
from n58aio.emulator.origin import pattern_bytes

from .common import Usage, framing_overhead, line_capacity, payload_capacity, quiet_logging
from .helpers import Helper

__all__ = ["mux_capacity", "run_mux_benchmark"]

CHUNK = 1460
RATES = (921_600, 2_166_666)
STALL = 3.0
PROBE_EVERY = 0.2


def mux_capacity(baud: int, chunk: int = CHUNK, n1: int = DEFAULT_N1) -> float:
    """Payload bytes per second once every ``chunk`` is a ``+HTTPRECV`` report cut into UIH
    frames of at most ``n1`` bytes (flag, address, control, 1-2 length octets, FCS, flag)."""
    report = chunk + framing_overhead(chunk)
    frames, last = divmod(report, n1)
    overhead = frames * (7 if n1 > 127 else 6) + (0 if not last else 7 if last > 127 else 6)
    return line_capacity(baud) * chunk / (report + overhead)


def _open(device: str, baud: int, mux: bool) -> Any:
    """The module runs at ``baud`` already (the first session of each rate switched it)."""
    return n58aio.open_modem(device, baudrate=baud, initial_baudrate=baud, mux=mux)


async def _download(device: str, url: str, size: int, baud: int, mux: bool) -> dict[str, Any]:
    """One measured download; a download cut short is tried once more (``retried``): on this
    emulator setup the first 7 MB download at 2,166,666 baud ends early, with or without the
    multiplexer, on the main line too (a known issue, reported, not the multiplexer's)."""
    try:
        return {**await _download_once(device, url, size, baud, mux), "retried": False}
    except n58aio.LinkClosedError:
        return {**await _download_once(device, url, size, baud, mux), "retried": True}


async def _download_once(device: str, url: str, size: int, baud: int, mux: bool) -> dict[str, Any]:
    async with _open(device, baud, mux) as modem:
        await modem.attach()
        start = Usage.now()
        first: float | None = None
        received = bytearray()
        async with modem.stream("GET", url) as response:
            async for chunk in response.aiter_bytes():
                if first is None:
                    first = time.perf_counter()
                    first_len = len(chunk)
                received += chunk
        end = Usage.now()
    if bytes(received) != pattern_bytes(0, size):
        raise RuntimeError("body differs")
    body_wall = end.wall - (first or end.wall)
    goodput = (size - first_len) / body_wall if body_wall > 0 else math.inf
    return {"goodput": goodput, "cpu_per_mb": (end.cpu - start.cpu) / (size / 1e6)}


async def _latency(
    device: str, url: str, baud: int, mux: bool, stall: bool, seconds: float
) -> dict[str, Any]:
    """``AT+CSQ`` latencies while a stream runs (consumed, or stalled after its first bytes)."""
    latencies: list[float] = []
    unanswered = 0
    async with _open(device, baud, mux) as modem:
        await modem.attach()
        async with modem.stream("GET", url) as response:
            chunks = response.aiter_bytes()
            await anext(chunks)

            async def consume() -> None:
                if stall:
                    await asyncio.sleep(math.inf)
                async for _ in chunks:
                    pass

            consumer = asyncio.ensure_future(consume())
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline and not consumer.done():
                started = time.perf_counter()
                try:
                    await modem.command("AT+CSQ", timeout=seconds + 1)
                except n58aio.CommandTimeout:
                    unanswered += 1  # behind a paused port: not before the stall ends
                    latencies.append(time.perf_counter() - started)
                    break
                latencies.append(time.perf_counter() - started)
                await asyncio.sleep(PROBE_EVERY)
            consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await consumer
    return {
        "median_ms": 1000 * statistics.median(latencies),
        "max_ms": 1000 * max(latencies),
        "probes": len(latencies),
        "unanswered": unanswered,
    }


async def _run(quick: bool, rates: tuple[int, ...]) -> list[dict[str, Any]]:
    rows = []
    with Helper("origin") as origin:
        for baud in rates:
            size = (300_000 if quick else 3_000_000) * baud // RATES[0]
            with Helper("emulators", "--count", "1", "--baud", str(baud)) as emulators:
                device = emulators.info["devices"][0]
                url = f"{origin.info['url']}/bytes/{size}"
                async with n58aio.open_modem(device, baudrate=baud) as modem:
                    await modem.attach()  # AT+IPR: the module runs at baud from now on
                for mux in (False, True):
                    capacity = mux_capacity(baud) if mux else payload_capacity(baud, CHUNK)
                    download = await _download(device, url, size, baud, mux)
                    seconds = min(STALL, size / line_capacity(baud) / 3)
                    streaming = await _latency(device, url, baud, mux, False, seconds)
                    stalled = await _latency(device, url, baud, mux, True, STALL)
                    rows.append(
                        {
                            "baud": baud,
                            "mux": mux,
                            "size": size,
                            "capacity": capacity,
                            "goodput": download["goodput"],
                            "of_capacity": download["goodput"] / capacity,
                            "cpu_per_mb": download["cpu_per_mb"],
                            "retried": download["retried"],
                            "csq_streaming": streaming,
                            "csq_stalled": stalled,
                        }
                    )
    return rows


def run_mux_benchmark(quick: bool, rates: tuple[int, ...] = RATES) -> list[dict[str, Any]]:
    """Run the benchmark and return one row per (baud, channel layout)."""
    return asyncio.run(_run(quick, rates))


def _latencies(figures: dict[str, Any]) -> str:
    if figures["unanswered"]:
        return f"no answer in {figures['max_ms'] / 1000:.1f} s"
    return f"{figures['median_ms']:.0f} / {figures['max_ms']:.0f}"


def main(argv: list[str] | None = None) -> int:
    """Print the table of one run (and write it as JSON with ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_mux", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller downloads")
    parser.add_argument("--json", type=Path, help="write the rows to this file")
    parser.add_argument("--baud", type=int, action="append", help=f"line rates (default: {RATES})")
    args = parser.parse_args(argv)
    quiet_logging()
    rows = run_mux_benchmark(args.quick, tuple(args.baud or RATES))
    print(
        "| baud | channels | goodput kB/s | capacity kB/s | of capacity | client CPU s/MB "
        "| AT+CSQ streaming median / max ms | AT+CSQ stalled median / max ms |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        streaming, stalled = row["csq_streaming"], row["csq_stalled"]
        print(
            f"| {row['baud']} | {'mux (2 DLCs)' if row['mux'] else 'one'} "
            f"| {row['goodput'] / 1000:.1f} | {row['capacity'] / 1000:.1f} "
            f"| {100 * row['of_capacity']:.1f} % | {row['cpu_per_mb']:.3f} "
            f"| {_latencies(streaming)} | {_latencies(stalled)} |"
        )
    if args.json is not None:
        args.json.write_text(json.dumps(rows, indent=2))
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
