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


async def test_a_request_sent_again_after_a_recovery_is_counted(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    (emu,) = await emulators(1)
    async with n58aio.ModemPool(emulators.urls([emu]), **FAST) as pool:
        member = pool.stats().modems[0]
        assert member.resends == 0 and member.recovery_failures == 0
        # a restart nobody sees, in the middle of the body: the idle timeout, the module told
        # restarted by its state, brought up again, the GET sent again on the same modem
        emu.faults.after_body_bytes(20_000, lambda: emu.faults.restart(report=False))
        response = await pool.get(origin_server.url("/bytes/60000"), timeouts=n58aio.Timeouts(1.0))
        assert response.content == pattern_bytes(0, 60000) and response.attempts == 2
        stats = pool.stats()
        assert stats.resends == 1 and stats.modems[0].resends == 1
        assert stats.restarts >= 1 and stats.recoveries >= 1 and stats.recovery_failures == 0
