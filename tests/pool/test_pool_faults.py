"""A pool of 16 emulated modems under load while three of them fail in different ways."""

from __future__ import annotations

import asyncio
import random
import time

from pool_fixtures import *  # noqa: F403  (fixtures)
from pool_fixtures import EmulatorFactory

import n58aio
from n58aio.emulator.origin import OriginServer, pattern_bytes

REQUESTS = 300
CONCURRENCY = 24


async def test_sixteen_modems_three_faults_every_request_completes(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    emus = await emulators(16)
    dropped, rebooted, stalled = emus[3], emus[7], emus[11]
    sizes = [random.Random(n).randrange(0, 120_000) for n in range(REQUESTS)]
    started = time.monotonic()
    async with (
        asyncio.timeout(60),
        n58aio.ModemPool(
            emulators.urls(emus),
            reopen_backoff=(0.2, 1.0),
            request_retries=4,
            acquire_timeout=20,
            check_timeout=10,
            timeouts=n58aio.Timeouts(connect=5, first_byte=2.5, idle=1.5),
        ) as pool,
    ):
        assert pool.stats().by_state() == {"healthy": 16}
        limit = asyncio.Semaphore(CONCURRENCY)
        completed = 0

        async def get(index: int) -> None:
            nonlocal completed
            size = sizes[index]
            async with limit:
                response = await pool.request("GET", origin_server.url(f"/bytes/{size}"))
            assert response.status_code == 200
            assert response.content == pattern_bytes(0, size), f"request {index}"
            completed += 1
            if completed == 40:
                # each fault fires inside a response body, 5000 bytes into the next relay
                dropped.faults.after_body_bytes(5000, lambda: emulators.drop_port(dropped))
                rebooted.faults.after_body_bytes(5000, rebooted.faults.reset)
                stalled.faults.after_body_bytes(5000, lambda: stalled.faults.stall(4.0))

        await asyncio.gather(*(get(index) for index in range(REQUESTS)))
        stats = pool.stats()

    assert time.monotonic() - started < 60
    assert completed == REQUESTS
    assert not dropped.alive
    # every faulty modem failed a request, which was sent again on another modem, or (the
    # rebooted one may) recovered by itself and sent it again (#23)
    faulty = [stats.modems[index] for index in (3, 7, 11)]
    assert all((m.errors >= 1 and m.last_error) or m.resends >= 1 for m in faulty), faulty
    assert stats.retries + stats.resends >= 3
    assert faulty[0].state in ("quarantined", "reopening")  # its port is gone for good
    # the rebooted modem was checked, attached again, and is back in service
    assert faulty[1].state in ("healthy", "busy")
    assert rebooted.pdp_up
    assert all(modem.requests > 0 for modem in stats.modems)
    assert stats.bytes >= sum(sizes)
