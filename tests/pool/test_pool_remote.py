"""Modems on other machines: RFC 2217 through a real ser2net, and TCP (``socket://``) modems."""

from __future__ import annotations

import asyncio
import os
import termios
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from pool_fixtures import *  # noqa: F403  (fixtures)
from pool_fixtures import EmulatorFactory, Ser2netFactory, free_port

import n58aio
from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer, pattern_bytes, pattern_sha256
from n58aio.pool.member import port_url

FAST: dict[str, Any] = {
    "reopen_backoff": (0.1, 0.5),
    "acquire_timeout": 10.0,
    "check_timeout": 10.0,
    "timeouts": n58aio.Timeouts(connect=5, first_byte=3, idle=2),
}


async def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate()`` until it is true."""
    async with asyncio.timeout(timeout):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)


def test_rfc2217_urls_get_ign_set_control() -> None:
    assert port_url("rfc2217://gw:7000") == "rfc2217://gw:7000?ign_set_control"
    assert port_url("rfc2217://gw:7000?logging=debug") == (
        "rfc2217://gw:7000?logging=debug&ign_set_control"
    )
    assert port_url("rfc2217://gw:7000?ign_set_control") == "rfc2217://gw:7000?ign_set_control"
    assert port_url("socket://gw:7000") == "socket://gw:7000"
    assert port_url("/dev/ttyUSB0") == "/dev/ttyUSB0"


async def test_pool_of_ser2net_tcp_and_local_modems(
    emulators: EmulatorFactory,
    ser2net: Ser2netFactory,
    origin_server: OriginServer,
    tmp_path: Path,
) -> None:
    shared = await emulators(2)
    local = await emulators(1)
    gateway = await ser2net(emulators.urls(shared))
    tcp = Emulator(EmulatorConfig(tcp=("127.0.0.1", 0)))
    await tcp.start()
    try:
        urls = [*gateway.urls, tcp.url, emulators.url(local[0])]
        async with asyncio.timeout(60), n58aio.ModemPool(urls, **FAST) as pool:
            assert pool.stats().by_state() == {"healthy": 4}
            # ser2net opened the ptys raw: no echo, no line editing, no flow control
            for emu in shared:
                attrs = _termios(emu.device)
                assert not attrs[3] & (termios.ECHO | termios.ICANON | termios.ISIG)
                assert not attrs[0] & (termios.IXON | termios.ICRNL)

            sizes = [n * 997 for n in range(24)]
            responses = await asyncio.gather(
                *(pool.request("GET", origin_server.url(f"/bytes/{size}")) for size in sizes)
            )
            assert [r.content for r in responses] == [pattern_bytes(0, s) for s in sizes]
            async with pool.stream("GET", origin_server.url("/bytes/70000")) as response:
                body = b"".join([chunk async for chunk in response.aiter_bytes()])
            assert body == pattern_bytes(0, 70000)
            posted = await pool.request("POST", origin_server.url("/echo"), content=b"\x00\x11\x13")
            assert posted.json()["body_len"] == 3
            result = await pool.download(
                origin_server.url("/bytes/400000"),
                tmp_path / "f.bin",
                sha256=pattern_sha256(400_000),
            )
            assert len(result.bytes_by_modem) == 4
            stats = pool.stats()
        assert [modem.url for modem in stats.modems] == urls
        assert all(modem.requests >= 1 and modem.errors == 0 for modem in stats.modems)
        assert all(emu.bytes_written > 0 for emu in [*shared, tcp, *local])
    finally:
        await tcp.close()


# While ser2net refuses a reopen (the device is gone), pyserial's RFC 2217 reader thread dies
# answering a telnet option on the closed socket (BrokenPipeError, a pyserial bug): harmless.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
async def test_a_modem_lost_behind_ser2net_is_quarantined(
    emulators: EmulatorFactory,
    ser2net: Ser2netFactory,
    origin_server: OriginServer,
) -> None:
    emus = await emulators(2)
    gateway = await ser2net(emulators.urls(emus))
    async with asyncio.timeout(60), n58aio.ModemPool(gateway.urls, **FAST) as pool:
        emus[0].faults.after_body_bytes(5000, emus[0].faults.close_link)
        response = await pool.request("GET", origin_server.url("/bytes/40000"))
        assert response.content == pattern_bytes(0, 40000)
        assert pool.stats().retries == 1
        await wait_for(lambda: pool.stats().by_state() == {"healthy": 2})

        emulators.drop_port(emus[1])  # the gateway's device vanishes
        await wait_for(lambda: pool.stats().modems[1].state in ("quarantined", "reopening"))
        for size in (10, 20000, 30):
            response = await pool.request("GET", origin_server.url(f"/bytes/{size}"))
            assert response.content == pattern_bytes(0, size)
        assert pool.stats().modems[1].last_error


async def test_tcp_modem_is_reopened_when_it_comes_back_on_its_port(
    emulators: EmulatorFactory, origin_server: OriginServer
) -> None:
    port = free_port()
    first = Emulator(EmulatorConfig(tcp=("127.0.0.1", port)))
    await first.start()
    second: Emulator | None = None
    local = await emulators(1)
    try:
        urls = [f"socket://127.0.0.1:{port}", emulators.url(local[0])]
        async with asyncio.timeout(60), n58aio.ModemPool(urls, **FAST) as pool:
            await first.close()  # noticed at once: the pool watches idle ports
            await wait_for(lambda: pool.stats().modems[0].state in ("quarantined", "reopening"))
            for size in (100, 200, 300):  # served by the local modem meanwhile
                response = await pool.request("GET", origin_server.url(f"/bytes/{size}"))
                assert response.content == pattern_bytes(0, size)
            assert pool.stats().modems[0].requests == 0

            second = Emulator(EmulatorConfig(tcp=("127.0.0.1", port)))
            await second.start()
            await wait_for(lambda: pool.stats().modems[0].state == "healthy")
            stats = pool.stats().modems[0]
            assert stats.reopens == 1
            # the port's loss, or a reopen tried before the module came back (PortOpenError)
            assert (stats.last_error or "").startswith(("PortClosedError", "PortOpenError"))
            assert second.pdp_up  # the reopen checked the link and attached

            slow = origin_server.url("/bytes/5000?delay=0.05")
            responses = await asyncio.gather(*(pool.request("GET", slow) for _ in range(4)))
            assert all(r.content == pattern_bytes(0, 5000) for r in responses)
            assert pool.stats().modems[0].requests >= 1
    finally:
        await first.close()
        if second is not None:
            await second.close()


def _termios(device: str) -> list[Any]:
    fd = os.open(device, os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        return termios.tcgetattr(fd)
    finally:
        os.close(fd)


pytestmark = [
    pytest.mark.timeout(90),
    # pyserial's RFC 2217 client calls Thread.setDaemon()/setName()
    pytest.mark.filterwarnings("ignore:set(Daemon|Name)\\(\\) is deprecated:DeprecationWarning"),
]
