"""The supervision's counts in pool.stats(): restarts and link losses seen and repaired."""

from __future__ import annotations

import asyncio
from typing import Any

from pool_fixtures import *  # noqa: F403  (fixtures)
from pool_fixtures import EmulatorFactory

import n58aio
from n58aio.emulator.origin import OriginServer, pattern_bytes

FAST: dict[str, Any] = {"reopen_backoff": (0.1, 0.5), "acquire_timeout": 10.0}


async def _until(check: Any, seconds: float = 15.0) -> None:
    async with asyncio.timeout(seconds):
        while not check():  # noqa: ASYNC110 - polls pool stats that have no event
            await asyncio.sleep(0.05)


async def test_restart_and_link_drop_are_counted_and_repaired(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    emus = await emulators(2)
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        assert pool.stats().restarts == 0 and pool.stats().recoveries == 0
        emus[0].faults.restart(report=True)
        emus[1].faults.drop_data_link()
        await _until(lambda: pool.stats().recoveries >= 2)
        stats = pool.stats()
        by_name = {modem.name: modem for modem in stats.modems}
        first, second = (by_name[name] for name in sorted(by_name))
        assert first.restarts == 1 and first.recoveries >= 1 and first.link_losses == 0
        assert second.link_losses == 1 and second.restarts == 0
        assert stats.restarts == 1 and stats.link_losses == 1
        for _ in range(4):  # both modems serve again
            response = await pool.get(origin_server.url("/bytes/5000"))
            assert response.content == pattern_bytes(0, 5000)
