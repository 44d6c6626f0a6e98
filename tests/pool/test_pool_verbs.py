"""ModemPool: every verb, typed options (redirects, timeouts) and a request's pool timeout."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from pool_fixtures import *  # noqa: F403  (fixtures)
from pool_fixtures import EmulatorFactory

import n58aio
from n58aio.emulator.origin import OriginServer, pattern_bytes

FAST: dict[str, Any] = {
    "reopen_backoff": (0.1, 0.5),
    "acquire_timeout": 10.0,
    "check_timeout": 10.0,
    "timeouts": n58aio.Timeouts(connect=5, first_byte=3, idle=2),
}


async def test_pool_verbs_redirects_and_pool_timeout(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    emus = await emulators(1)
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        url = origin_server.url("/echo")
        for method, call in {
            "GET": pool.get,
            "HEAD": pool.head,
            "POST": pool.post,
            "PUT": pool.put,
            "PATCH": pool.patch,
            "DELETE": pool.delete,
            "OPTIONS": pool.options,
        }.items():
            assert (await call(url)).status_code == 200
            assert origin_server.requests[-1].method == method
        moved = await pool.get(origin_server.url("/redirect?to=/bytes/7"), follow_redirects=True)
        assert moved.content == pattern_bytes(0, 7)
        assert [r.status_code for r in moved.history] == [302]
        with pytest.raises(n58aio.InvalidOption, match="follow_redirects"):
            await pool.get(url, follow_redirect=True)  # type: ignore[call-arg]

        # the only modem is busy: a request with a pool timeout stops waiting for it
        slow = asyncio.ensure_future(pool.get(origin_server.url("/bytes/5?delay=2")))
        await asyncio.sleep(0.3)
        with pytest.raises(n58aio.PoolTimeout):
            await pool.get(url, timeouts=n58aio.Timeouts(5, pool=0.4))
        assert (await slow).content == pattern_bytes(0, 5)
