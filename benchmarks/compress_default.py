"""What asking for compression by default costs and buys on a plain GET (issue #24, item 6).

``python -m benchmarks.compress_default [--baud 115200] [--runs 5]``: a paced emulator and the
local origin in this process; ``/json/<n>`` for a small and a large JSON answer, each asked
``compress=False`` (the module writes the GET: ``AT+HTTPACTION=0``) and by default (a custom
packet with ``Accept-Encoding``: one ``>`` prompt and the packet), in turns. Reported: the
median wall time from the request to the last body byte, the bytes the module wrote to the host
(the paced direction) and the bytes the host wrote (commands and packet; the emulator does not
pace this direction, so its cost at the line rate is added to the time in the ``line`` column).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import n58aio
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer
from n58aio.emulator.origin_coding import json_document

SIZES = (200, 50_000)


@dataclass
class Sample:
    seconds: float
    module_bytes: int
    host_bytes: int
    wire_body: int
    coding: str


async def _one(modem: n58aio.Modem, emu: Emulator, url: str, compress: bool) -> Sample:
    module_before, host_before = emu.bytes_written, modem.channel.bytes_written
    start = time.perf_counter()
    response = await modem.get(url, compress=compress)
    seconds = time.perf_counter() - start
    size = int(url.rsplit("/", 1)[1])
    if response.content != json_document(size):
        raise AssertionError(f"wrong body for {url}")
    return Sample(
        seconds,
        emu.bytes_written - module_before,
        modem.channel.bytes_written - host_before,
        response.num_bytes_downloaded,
        response.headers.get("content-encoding", "identity"),
    )


async def measure(baud: int, runs: int) -> list[str]:
    """Run the cases; return the Markdown table rows."""
    rows = [
        "| answer | request | coding | body on the wire | module -> host | host -> module "
        "| time (median) | line (+ host bytes) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    with tempfile.TemporaryDirectory() as root:
        async with OriginServer() as origin:
            config = EmulatorConfig(baud=baud, fs_root=Path(root))
            emu = await Emulator(config).start()
            try:
                async with n58aio.open_modem(emu.device) as modem:
                    await modem.attach()
                    for size in SIZES:
                        url = origin.url(f"/json/{size}")
                        samples: dict[bool, list[Sample]] = {False: [], True: []}
                        for _ in range(runs):
                            for compress in (False, True):
                                samples[compress].append(await _one(modem, emu, url, compress))
                        for compress in (False, True):
                            got = samples[compress]
                            seconds = statistics.median(s.seconds for s in got)
                            last = got[-1]
                            upload = last.host_bytes * 10 / baud
                            label = "default (mode 99)" if compress else "compress=False (mode 0)"
                            rows.append(
                                f"| {size:,} B JSON | {label} | {last.coding} "
                                f"| {last.wire_body:,} B | {last.module_bytes:,} B "
                                f"| {last.host_bytes:,} B | {seconds * 1000:,.0f} ms "
                                f"| {(seconds + upload) * 1000:,.0f} ms |"
                            )
            finally:
                await emu.close()
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.compress_default")
    parser.add_argument("--baud", type=int, default=115200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for row in asyncio.run(measure(args.baud, args.runs)):
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
