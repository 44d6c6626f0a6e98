"""Every request recovers by itself (issue #23): a restart (with and without its boot report),
an auto-baud restart, a link drop and a wedge, between requests and during one; the next
``get()`` returns the right body with no user code. A POST caught by a restart is not sent
again."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import ModemFactory

import n58aio
from n58aio import linespeed
from n58aio.commands import timeouts
from n58aio.emulator import Emulator, OriginServer
from n58aio.emulator.origin import pattern_sha256

RESYNC_GRACE = 0.2
"""Seconds between probes while the module is silent (2 s by default; the emulated line is
unpaced): a silent module is given up at one rate after about 0.7 s instead of 6 s."""
SIZE = 60_000
FAST = n58aio.Timeouts(1.0)
"""A stalled body is given up after 1 s (a restart without a report stops it silently)."""


def _sha(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def _quick_search(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``AT`` looking for the module waits 0.5 s (2 s by default): the unpaced emulated
    line answers in milliseconds, and a silent module is given up sooner."""
    monkeypatch.setattr(linespeed, "FIND_TIMEOUT", 0.5)


async def _modem(
    make_modem: ModemFactory, *, auto_baud: bool = False
) -> tuple[Emulator, n58aio.Modem]:
    config = {"sim": "pin", "sim_pin": "4321", "auto_baud": auto_baud}
    emu, modem = await make_modem(attach=False, config=config, baudrate=921600)
    modem.channel.resync_grace = RESYNC_GRACE
    modem.supervisor.reset_wait = 0.5
    await modem.attach(pin="4321", timeout=15)
    return emu, modem


def _faults(emu: Emulator) -> dict[str, Callable[[], object]]:
    faults = emu.faults
    return {
        "restart": lambda: faults.restart(report=True),
        "silent-restart": lambda: faults.restart(report=False),
        "link-drop": faults.drop_data_link,
        "wedge": faults.wedge,
    }


KINDS = ["restart", "silent-restart", "link-drop", "wedge"]


@pytest.mark.parametrize("kind", KINDS)
async def test_between_requests_the_next_get_works(
    make_modem: ModemFactory, origin_server: OriginServer, kind: str
) -> None:
    emu, modem = await _modem(make_modem)
    url = origin_server.url(f"/bytes/{SIZE}")
    assert _sha((await modem.get(url)).content) == pattern_sha256(SIZE)
    _faults(emu)[kind]()
    await asyncio.sleep(0.05)
    response = await modem.get(url, timeouts=FAST)
    assert response.status_code == 200 and _sha(response.content) == pattern_sha256(SIZE)
    assert response.attempts in (1, 2)  # 1 when a report had the module repaired before
    assert emu.sim_unlocked and emu.line_rate == 921600 and modem.line_rate == 921600
    assert modem.supervision_counts.get("recovered", 0) >= 1
    assert "recovery_failed" not in modem.supervision_counts


@pytest.mark.parametrize("kind", KINDS)
async def test_during_a_request_the_get_returns_the_right_body(
    make_modem: ModemFactory, origin_server: OriginServer, kind: str
) -> None:
    emu, modem = await _modem(make_modem)
    emu.faults.after_body_bytes(SIZE // 3, _faults(emu)[kind])
    response = await modem.get(origin_server.url(f"/bytes/{SIZE}"), timeouts=FAST)
    assert response.status_code == 200 and _sha(response.content) == pattern_sha256(SIZE)
    assert response.attempts == 2
    assert emu.line_rate == 921600 and emu.sim_unlocked
    gets = [r for r in origin_server.requests if r.path == f"/bytes/{SIZE}"]
    assert len(gets) == 2


async def test_auto_baud_restart_rate_restored(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    emu, modem = await _modem(make_modem, auto_baud=True)
    url = origin_server.url(f"/bytes/{SIZE}")
    emu.faults.restart(report=False)  # silent at any rate until an AT at the boot rate
    response = await modem.get(url, timeouts=FAST)
    assert _sha(response.content) == pattern_sha256(SIZE)
    assert emu.line_rate == 921600 and modem.line_rate == 921600
    emu.faults.after_body_bytes(SIZE // 2, lambda: emu.faults.restart(report=False))
    response = await modem.get(url, timeouts=FAST)
    assert _sha(response.content) == pattern_sha256(SIZE) and response.attempts == 2
    assert emu.line_rate == 921600


async def test_a_post_caught_by_a_restart_is_not_sent_again(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    emu, modem = await _modem(make_modem)
    emu.faults.on_command("AT+HTTPACTION", lambda: emu.faults.restart(report=True))
    with pytest.raises(n58aio.N58Error):  # the channel says how (CommandError: +PBREADY)
        await modem.post(origin_server.url("/upload/once"), content=b"pay once", timeouts=FAST)
    posts = [r for r in origin_server.requests if r.method == "POST"]
    assert len(posts) <= 1
    # the module was brought back: the next request needs nothing from the caller
    response = await modem.get(origin_server.url("/bytes/100"), timeouts=FAST)
    assert response.status_code == 200 and len(response.content) == 100
    assert len([r for r in origin_server.requests if r.method == "POST"]) == len(posts)


async def test_a_post_is_sent_again_only_with_the_callers_policy(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    emu, modem = await _modem(make_modem)
    emu.faults.on_command("AT+HTTPSETUP", lambda: emu.faults.restart(report=False))
    policy = n58aio.RetryPolicy(backoff=0).allowing("POST")
    response = await modem.post(
        origin_server.url("/upload/twice"), content=b"tolerated", timeouts=FAST, retry=policy
    )
    assert response.status_code == 201 and response.attempts == 2
    assert origin_server.uploads["twice"] == b"tolerated"


async def test_a_server_error_is_not_a_module_fault(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    emu, modem = await make_modem()
    before = emu.bytes_received
    with pytest.raises(n58aio.ConnectError):
        await modem.get("http://127.0.0.1:9/", timeouts=FAST)  # nothing listens: refused
    assert modem.supervision_counts == {}  # checked, nothing repaired, nothing sent again
    assert emu.bytes_received > before
    response = await modem.get(origin_server.url("/status/503"))
    assert response.status_code == 503 and response.attempts == 1


async def test_commands_and_file_operations_wait_for_the_recovery(
    make_modem: ModemFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the channel probes a silent module until the manual timeout of the command that timed
    # out (5 s for AT+CSQ) before it gives up: 1 s here (the emulator answers in milliseconds)
    monkeypatch.setattr(timeouts, "DEFAULT_TIMEOUT", 1.0)
    emu, modem = await _modem(make_modem)
    seen: list[str] = []
    modem.on_event(lambda event: seen.append(event.kind))
    emu.faults.wedge()
    with pytest.raises(n58aio.CommandTimeout):
        await modem.command("AT+CSQ", timeout=0.5)  # the module checked in the background
    entries = await modem.files.list()  # waits for the recovery, then goes through
    assert isinstance(entries, list)
    assert (await modem.command("AT+CSQ")).lines[0].startswith("+CSQ:")
    assert seen == ["unresponsive", "reset", "restart", "recovered"], seen
    assert emu.line_rate == 921600 and emu.sim_unlocked


async def test_a_download_in_progress_survives_a_wedge(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    size = 200_000
    emu, modem = await _modem(make_modem)
    faults = emu.faults
    faults.after_body_bytes(50_000, faults.wedge)
    target = tmp_path / "fw.bin"
    result = await modem.download(
        origin_server.url(f"/bytes/{size}"), target, timeouts=FAST, backoff=0.05
    )
    assert _sha(target.read_bytes()) == pattern_sha256(size) == result.sha256
    # sent again once: by the request (before its response came) or by the download (after)
    assert result.retries + modem.supervisor.resends == 1
    counts = modem.supervision_counts
    assert counts.get("reset", 0) == 1 and counts.get("recovered", 0) == 1, counts
    assert "recovery_failed" not in counts and emu.sim_unlocked  # the PIN taken after the reset
    assert emu.line_rate == 921600


async def test_a_server_cannot_make_the_modem_recover_or_reset(make_modem: ModemFactory) -> None:
    body = b"\r\n+PBREADY\r\n\r\nGPRS DISCONNECTION\r\n\r\n+CEREG: 0,0\r\n\r\nAT+CFUN=1,1\r\n"

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n" % len(body)
        writer.write(head + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        emu, modem = await _modem(make_modem)
        seen: list[str] = []
        modem.on_event(lambda event: seen.append(event.kind))
        for _ in range(2):
            response = await modem.get(f"http://127.0.0.1:{port}/", timeouts=FAST)
            assert response.content == body and response.attempts == 1
        with contextlib.suppress(n58aio.LinkClosedError):  # mode 0: the text may end it early
            await modem.get(f"http://127.0.0.1:{port}/", recvmode=0, timeouts=FAST)
        await asyncio.sleep(0.3)  # a background recovery would have started by now
        assert seen == [] and modem.supervision_counts == {}
        assert modem.supervisor.repairs == 0 and emu.sim_unlocked  # no reset, no restart
    finally:
        server.close()
        await server.wait_closed()


async def test_a_command_waits_for_a_recovery_within_its_own_timeout(
    make_modem: ModemFactory,
) -> None:
    emu, modem = await make_modem()
    emu.faults.set_registration("searching")  # the recovery waits for the registration
    recovery = asyncio.create_task(modem.recover(timeout=1.5))
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    started = loop.time()
    with pytest.raises(n58aio.CommandTimeout):
        await modem.command("AT+CSQ", timeout=0.3)
    assert loop.time() - started < 1.0  # its own 0.3 s, not the recovery's 1.5 s
    with pytest.raises((n58aio.NotRegisteredError, n58aio.CommandTimeout)):
        await recovery  # its own bound
    emu.faults.set_registration("home")
    assert (await modem.command("AT+CSQ")).lines[0].startswith("+CSQ:")


async def test_module_side_transfers_follow_the_same_rules(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    emu, modem = await _modem(make_modem)
    (emu.fs_root / "log.txt").write_bytes(b"reading=42\n" * 10)
    # a restart with its report as the module takes the GET: recovered, the GET sent again
    emu.faults.on_command("AT+FILEHTTPACTION=0", lambda: emu.faults.restart(report=True))
    result = await modem.file_download(origin_server.url("/bytes/30000"), 0, 20_000)
    assert (result.mode, result.length) == (0, 20_000)
    assert modem.supervisor.resends == 1
    # the same for the POST: it raises, and is not sent again
    emu.faults.on_command("AT+FILEHTTPACTION=1", lambda: emu.faults.restart(report=True))
    with pytest.raises(n58aio.N58Error):
        await modem.file_upload(origin_server.url("/upload/log"), "log.txt", 110)
    assert modem.supervisor.resends == 1
    assert len([r for r in origin_server.requests if r.method == "POST"]) <= 1
    result = await modem.file_upload(origin_server.url("/upload/log"), "log.txt", 110)
    assert origin_server.uploads["log"] == b"reading=42\n" * 10  # the module was back
