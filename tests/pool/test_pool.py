"""ModemPool scheduling, retry rules, health checks, waiting and clean shutdown."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from pool_fixtures import *  # noqa: F403  (fixtures)
from pool_fixtures import EmulatorFactory, free_port, open_fds

import n58aio
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer, pattern_bytes

FAST: dict[str, Any] = {
    "reopen_backoff": (0.1, 0.5),
    "acquire_timeout": 10.0,
    "check_timeout": 10.0,
    "timeouts": n58aio.Timeouts(connect=5, first_byte=3, idle=2),
}


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate()`` until it is true (the pool has no event for every state)."""
    async with asyncio.timeout(timeout):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


async def test_requests_spread_over_modems_one_at_a_time(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    emus = await emulators(2)
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        peak_busy = peak_waiting = 0

        async def sample() -> None:
            nonlocal peak_busy, peak_waiting
            while True:
                stats = pool.stats()
                peak_busy = max(peak_busy, stats.by_state().get("busy", 0))
                peak_waiting = max(peak_waiting, stats.waiting)
                await asyncio.sleep(0.005)

        sampler = asyncio.ensure_future(sample())
        responses = await asyncio.gather(
            *(
                pool.request("GET", origin_server.url(f"/bytes/{1000 + n}?delay=0.1"))
                for n in range(6)
            )
        )
        sampler.cancel()
    stats = pool.stats()
    assert [r.content for r in responses] == [pattern_bytes(0, 1000 + n) for n in range(6)]
    assert peak_busy == 2  # both modems used, never more than one request each
    assert peak_waiting >= 1  # the others waited for a free modem
    assert all(modem.requests >= 2 for modem in stats.modems)
    assert stats.requests == 6
    assert stats.bytes == sum(1000 + n for n in range(6))
    assert stats.errors == stats.retries == 0
    assert [modem.state for modem in stats.modems] == ["closed", "closed"]


async def test_modem_with_recent_errors_is_used_last(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    emus = await emulators(3)
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        # the first request goes to modem 0 (all equal): its link drops mid-body
        emus[0].faults.after_body_bytes(3000, emus[0].faults.close_link)
        response = await pool.request("GET", origin_server.url("/bytes/20000"))
        assert response.content == pattern_bytes(0, 20000)
        await wait_for(lambda: pool.stats().modems[0].state == "healthy")
        first = pool.stats()
        assert first.retries == 1
        assert first.modems[0].recent_errors == 1
        assert "LinkClosedError" in (first.modems[0].last_error or "")
        for _ in range(6):
            await pool.request("GET", origin_server.url("/bytes/100"))
        after = pool.stats()
    assert after.modems[0].requests == first.modems[0].requests  # skipped while others idle
    assert after.modems[1].requests + after.modems[2].requests == 1 + 6


async def test_post_is_not_sent_twice_but_get_is(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    emus = await emulators(2)
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        emus[0].faults.after_body_bytes(10, lambda: emulators.drop_port(emus[0]))
        with pytest.raises(n58aio.PortClosedError):
            await pool.request("POST", origin_server.url("/echo"), json={"n": 1})
        assert [r.method for r in origin_server.requests] == ["POST"]
        assert pool.stats().retries == 0
        assert pool.stats().modems[0].state in ("quarantined", "reopening")

        emus[1].faults.after_body_bytes(10, emus[1].faults.close_link)
        with pytest.raises(n58aio.LinkClosedError):  # modem 1 is the only one left
            await pool.request("PUT", origin_server.url("/upload/x"), content=b"x")
        await wait_for(lambda: pool.stats().modems[1].state == "healthy")
        response = await pool.request("GET", origin_server.url("/bytes/10"))
        assert response.content == pattern_bytes(0, 10)


async def test_stream_is_retried_only_before_the_response_is_yielded(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    emus = await emulators(2)
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        emus[0].faults.after_body_bytes(10, emus[0].faults.close_link)  # inside the head
        async with pool.stream("GET", origin_server.url("/bytes/50000")) as response:
            body = b"".join([chunk async for chunk in response.aiter_bytes()])
        assert body == pattern_bytes(0, 50000)
        assert pool.stats().retries == 1
        await wait_for(lambda: pool.stats().by_state() == {"healthy": 2})

        for emu in emus:
            emu.faults.after_body_bytes(20000, emu.faults.close_link)
        received = 0
        with pytest.raises(n58aio.LinkClosedError):
            async with pool.stream("GET", origin_server.url("/bytes/100000")) as response:
                async for chunk in response.aiter_bytes():
                    received += len(chunk)
        assert 0 < received < 100000
        assert pool.stats().retries == 1  # not retried: the caller already had the response
        await wait_for(lambda: pool.stats().by_state() == {"healthy": 2})


async def test_module_restart_aborts_the_request_and_the_modem_is_attached_again(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    emus = await emulators(1, baud=200_000)
    async with n58aio.ModemPool(emulators.urls(emus), **FAST) as pool:
        emus[0].faults.after_body_bytes(2000, emus[0].faults.reset)
        # one modem: the pool's retry waits for the check (re-attach) and goes to the same
        # modem, or the modem recovers by itself and sends the GET again (#23): once in all
        async with asyncio.timeout(10):
            response = await pool.request("GET", origin_server.url("/bytes/30000"))
        assert response.content == pattern_bytes(0, 30000)
        stats = pool.stats()
        assert stats.retries + stats.resends == 1
        if stats.retries:
            assert "+PBREADY" in (stats.modems[0].last_error or "")
        assert stats.restarts == 1 and emus[0].pdp_up

        emus[0].faults.reset()  # while idle: checked and attached again in the background
        await wait_for(lambda: not emus[0].pdp_up, 2)
        await wait_for(lambda: emus[0].pdp_up and pool.stats().by_state() == {"healthy": 1})


async def test_periodic_health_checks_run_while_idle(emulators: EmulatorFactory) -> None:
    emus = await emulators(1)
    async with n58aio.ModemPool(emulators.urls(emus), health_interval=0.1, **FAST):
        await emus[0].drain()
        before = emus[0].bytes_written
        await asyncio.sleep(0.5)
        assert emus[0].bytes_written > before  # AT and AT+XIIC? answered meanwhile


async def test_no_healthy_modem_gives_a_clear_error_after_the_timeout(
    origin_server: OriginServer,
) -> None:
    emulator = Emulator(EmulatorConfig(tcp=("127.0.0.1", 0)))
    await emulator.start()
    try:
        options: dict[str, Any] = {**FAST, "acquire_timeout": 0.5, "reopen_backoff": (5.0, 5.0)}
        async with n58aio.ModemPool([emulator.url], **options) as pool:
            await emulator.close()
            await wait_for(lambda: pool.stats().modems[0].state == "quarantined")
            with pytest.raises(n58aio.NoModemAvailable, match=r"0\.5 s \(1 quarantined\)"):
                await pool.request("GET", origin_server.url("/bytes/1"))
        with pytest.raises(n58aio.NoModemAvailable, match="closed"):
            await pool.request("GET", origin_server.url("/bytes/1"))
    finally:
        await emulator.close()


async def test_open_needs_one_modem_and_quarantines_the_others(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    missing = f"socket://127.0.0.1:{free_port()}"
    with pytest.raises(n58aio.NoModemAvailable, match="could be opened"):
        async with n58aio.ModemPool([missing], **FAST):
            pass
    emus = await emulators(1)
    async with n58aio.ModemPool([missing, emulators.url(emus[0])], **FAST) as pool:
        states = pool.stats().by_state()
        assert states.get("healthy") == 1
        assert states.get("quarantined", 0) + states.get("reopening", 0) == 1
        response = await pool.request("GET", origin_server.url("/bytes/5"))
        assert response.content == pattern_bytes(0, 5)


async def test_close_leaves_no_task_and_no_descriptor(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    emus = await emulators(2)
    remote = Emulator(EmulatorConfig(tcp=("127.0.0.1", 0)))
    await remote.start()
    try:
        await asyncio.sleep(0)
        tasks_before = asyncio.all_tasks()
        fds_before = open_fds()
        urls = [*emulators.urls(emus), remote.url]
        async with n58aio.ModemPool(urls, health_interval=0.05, **FAST) as pool:
            await asyncio.gather(
                *(pool.request("GET", origin_server.url("/bytes/3000")) for _ in range(9))
            )
            assert len(open_fds()) > len(fds_before)
            await remote.close()  # one modem being reopened when the pool closes
            await wait_for(lambda: pool.stats().modems[2].state != "healthy")
        await asyncio.sleep(0.05)
        assert asyncio.all_tasks() - tasks_before == set()
        assert open_fds() <= fds_before
    finally:
        await remote.close()


def test_bad_arguments_are_refused() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        n58aio.ModemPool([])
    with pytest.raises(ValueError, match="non-empty"):
        n58aio.ModemPool("/dev/ttyUSB0")
    with pytest.raises(ValueError, match="reopen_backoff"):
        n58aio.ModemPool(["/dev/ttyUSB0"], reopen_backoff=(2.0, 1.0))
    with pytest.raises(ValueError, match="request_retries"):
        n58aio.ModemPool(["/dev/ttyUSB0"], request_retries=-1)
