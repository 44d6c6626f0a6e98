"""A small gateway script, run as a subprocess by test_quiet_logging.py.

``python gateway_script.py MODE``: MODE ``quiet`` configures nothing, ``basic`` calls
``logging.basicConfig(level=logging.DEBUG)``, ``json`` calls ``n58aio.enable_logging("json",
"debug")``. It starts an origin and an emulator, opens a modem, GETs 10 bytes, downloads 3000
bytes, and prints one result line on stdout.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import tempfile
from pathlib import Path

import n58aio
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer


async def main() -> None:
    async with (
        OriginServer() as origin,
        Emulator(EmulatorConfig()) as emulator,
        n58aio.open_modem(emulator.device) as modem,
    ):
        await modem.attach()
        response = await modem.get(origin.url("/bytes/10"))
        with tempfile.TemporaryDirectory() as folder:
            result = await modem.download(
                origin.url("/bytes/3000"), Path(folder) / "f.bin", range_size=1024
            )
        print(f"get {response.status_code} {len(response.content)} download {result.size}")


if __name__ == "__main__":
    mode = sys.argv[1]
    if mode == "basic":
        logging.basicConfig(level=logging.DEBUG)
    elif mode == "json":
        n58aio.enable_logging("json", "debug")
    asyncio.run(main())
