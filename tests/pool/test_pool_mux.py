"""ModemPool with ``mux=True``: every modem on 27.010 multiplexing."""

from __future__ import annotations

from pool_fixtures import *  # noqa: F403  (fixtures)
from pool_fixtures import EmulatorFactory

import n58aio
from n58aio.emulator.origin import OriginServer, pattern_bytes


async def test_requests_through_a_pool_of_muxed_modems(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    emus = await emulators(2, pdp_up=True)
    async with n58aio.ModemPool(emulators.urls(emus), mux=True) as pool:
        responses = [
            await pool.request("GET", origin_server.url(f"/bytes/{2000 + n}")) for n in range(4)
        ]
        assert [r.content for r in responses] == [pattern_bytes(0, 2000 + n) for n in range(4)]
        assert any(emu.mux_dlcs == (1, 2) for emu in emus)
