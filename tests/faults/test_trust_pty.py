"""The trust model through a real pty (issue #13): each class of failure an attacker or a
noisy line could use, end to end.

- a module restart nobody saw must not leave HTTPS unverified (the TLS settings are applied
  before every HTTPS link, not cached);
- a receive-mode-0 server that forges the link-closed report and keeps sending cannot answer
  later requests or commands (the link is closed blind and a probe proves the channel);
- closing an abandoned response waits as long as the line needs for what the module holds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from conftest import ModemFactory

import n58aio
from n58aio import TLSConfig
from n58aio.emulator.origin import OriginServer, pattern_bytes
from n58aio.emulator.tlsfiles import TLSFiles

VERIFY = TLSConfig(ca_cert="ca.pem")


@pytest.fixture
async def untrusted_origin() -> AsyncIterator[OriginServer]:
    """An HTTPS origin whose certificate chains to a CA the module does not hold."""
    async with OriginServer(tls=TLSFiles.generate()) as server:
        yield server


@pytest.mark.parametrize("report", [True, False], ids=["boot-report", "silent"])
async def test_a_restart_never_leaves_https_unverified(
    make_modem: ModemFactory,
    tls_origin: OriginServer,
    untrusted_origin: OriginServer,
    report: bool,
) -> None:
    emu, modem = await make_modem(tls=VERIFY)
    response = await modem.get(tls_origin.url("/bytes/100"))
    assert response.content == pattern_bytes(0, 100)
    with pytest.raises(n58aio.N58Error):  # verification works before the restart
        await modem.get(untrusted_origin.url("/bytes/100"))
    emu.faults.restart(report=report)  # back at the defaults: authmode 0, no CA
    await asyncio.sleep(0.3)
    await modem.attach()
    with pytest.raises(n58aio.N58Error):
        await modem.get(untrusted_origin.url("/bytes/100"))
    assert untrusted_origin.requests == []  # not one request reached the untrusted server
    response = await modem.get(tls_origin.url("/bytes/200"))
    assert response.content == pattern_bytes(0, 200)


async def test_a_download_after_a_silent_restart_stays_verified(
    make_modem: ModemFactory, untrusted_origin: OriginServer, tmp_path: Path
) -> None:
    emu, modem = await make_modem(tls=VERIFY)
    emu.faults.restart(report=False)
    await asyncio.sleep(0.3)
    with pytest.raises(n58aio.N58Error):
        await modem.download(
            untrusted_origin.url("/bytes/50000"), tmp_path / "f.bin", retries=1, backoff=0.1
        )
    assert untrusted_origin.requests == []
    assert not (tmp_path / "f.bin").exists()


@asynccontextmanager
async def hostile_mode0_server(tls_url: str) -> AsyncIterator[tuple[int, list[int]]]:
    """An HTTP server that answers, then writes the module's link-closed report as text and
    keeps the connection open, then forged module output: an HTTPS payload and a command
    reply. Yields its port and a list that counts the bytes it wrote after the response."""
    forged = (
        b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
        b"\r\n+HTTPSRECV: 44,HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nFORGE\r\n"
        b"\r\n+CSQ: 31,99\r\n\r\nOK\r\n"
        b"AT+CSQ\r\r\n+CSQ: 31,99\r\n\r\nOK\r\n"
    )
    sent: list[int] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal" + forged)
            await writer.drain()
            sent.append(len(forged))
            for _ in range(40):  # and more of it while the link stays open
                await asyncio.sleep(0.05)
                writer.write(forged)
                await writer.drain()
                sent.append(len(forged))
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], sent
    finally:
        server.close()
        await server.wait_closed()


async def test_a_hostile_mode0_server_forges_nothing(
    make_modem: ModemFactory, tls_origin: OriginServer
) -> None:
    _, modem = await make_modem(recvmode=0, tls=VERIFY)
    async with hostile_mode0_server(tls_origin.url("/")) as (port, sent):
        response = await modem.get(f"http://127.0.0.1:{port}/x")
        assert response.content == b"real"
        # a verified HTTPS request to another server, and commands: their own answers
        other = await modem.get(tls_origin.url("/bytes/300"), recvmode=1)
        assert other.content == pattern_bytes(0, 300)
        for _ in range(3):
            assert (await modem.command("AT+CSQ")).lines == ["+CSQ: 24,99"]
        assert sent  # the server did send its forgeries
        assert modem.channel.parser.discarded > 0


async def test_closing_an_abandoned_response_waits_for_the_line(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    """At 9600 baud the module holds 4 KB of server data when the caller leaves a body: the
    close answers after it (about 4 s), longer than the request's 1 s idle timeout allows;
    the close waits as long as the line needs, and the next request works."""
    _, modem = await make_modem(
        config={"baud": 9600, "relay_buffer": 4096, "chunk_size": 512},
        baudrate=9600,
        timeouts=n58aio.Timeouts(connect=5, first_byte=5, idle=1),
    )
    modem.channel.module_buffer = 4096
    async with modem.stream("GET", origin_server.url("/bytes/200000")) as response:
        async for _ in response.aiter_bytes():
            break  # leave early
    response = await modem.get(origin_server.url("/bytes/100"))
    assert response.content == pattern_bytes(0, 100)


async def test_a_probe_lost_behind_a_blind_close_is_followed_by_the_next(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    """A receive-mode-0 response left early: the link is closed blind and a probe goes out in
    the background. When that probe is lost (the module restarts as the close arrives), the
    channel sends the next one on its own and is in step again before any command asks; the
    first probe's wait (behind the close: the module's buffer at the line rate) is longer than
    the probes' whole grace period, and still at least three probes go out."""
    emu, modem = await make_modem(recvmode=0)
    channel = modem.channel
    channel.resync_grace = 0.3
    channel.module_buffer = 4096  # the first probe waits 0.3 + 0.3 + 0.36 s > 3 x 0.3 s
    emu.faults.on_command("AT+HTTPCLOSE", lambda: emu.faults.restart(report=True))
    before = channel.resyncs
    async with modem.stream("GET", origin_server.url("/bytes/300000")) as response:
        async for _ in response.aiter_bytes():
            break  # leave early: the rest of the raw bytes are never read
    async with asyncio.timeout(10):
        while channel.needs_resync:  # noqa: ASYNC110 (no command may trigger the resync)
            await asyncio.sleep(0.05)
    assert channel.resyncs == before + 1
    await modem.attach()  # the restarted module has its data link down
    response = await modem.get(origin_server.url("/bytes/100"))
    assert response.content == pattern_bytes(0, 100)
