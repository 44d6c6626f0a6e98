"""The first errors a newcomer meets, one message each, for the reader who meets it (issue #24,
item 11): a port that cannot be opened, a port where nothing answers (silent, or noise at a
wrong rate), a request sent before the data link is up."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import tty
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

import n58aio
from n58aio.emulator.origin import OriginServer

GRACE = 0.1  # seconds between probes (2 s by default): the tests do not wait 6 s


@pytest.fixture
def silent_pty() -> Iterator[tuple[str, int]]:
    """A pseudo-terminal with nobody answering at its other end: (device path, master fd)."""
    master, slave = os.openpty()
    tty.setraw(slave)
    try:
        yield os.ttyname(slave), master
    finally:
        os.close(slave)
        os.close(master)


async def _first_command(device: str) -> n58aio.ModemNotAnswering:
    async with n58aio.open_modem(device) as modem:
        modem.channel.resync_grace = GRACE
        with pytest.raises(n58aio.ModemNotAnswering) as caught:
            await modem.command("ATI")
    return caught.value


async def test_a_silent_port_names_itself_the_rates_and_the_likely_causes(
    silent_pty: tuple[str, int],
) -> None:
    device, _ = silent_pty
    error = await _first_command(device)
    assert isinstance(error, n58aio.CommandTimeout)  # what code catching timeouts expects
    assert error.url == device and error.rates == (115200,) and error.received == 0
    text = str(error)
    assert text.startswith(f"no modem answers on {device}: tried at 115200 baud for ")
    assert "nothing came back; likely the wrong port" in text
    assert "module is off" in text and "N58SYNC" not in text


async def test_noise_on_the_port_points_at_the_baud_rate(silent_pty: tuple[str, int]) -> None:
    device, master = silent_pty
    loop = asyncio.get_running_loop()

    def noise() -> None:  # what a module at another rate looks like: bytes, never a line
        try:
            os.write(master, b"\xf0\x0f\xe3\x1c")
        except OSError:
            return
        handles.append(loop.call_later(0.05, noise))

    handles = [loop.call_soon(noise)]
    try:
        error = await _first_command(device)
    finally:
        for handle in handles:
            handle.cancel()
    assert error.received > 0
    assert "bytes came back, none of them an answer; likely a wrong baud rate" in str(error)


async def test_leaving_the_block_after_a_silent_attach_gives_the_same_error(
    silent_pty: tuple[str, int],
) -> None:
    device, _ = silent_pty
    with pytest.raises(n58aio.ModemNotAnswering, match=f"no modem answers on {device}"):
        async with n58aio.open_modem(device) as modem:
            modem.channel.resync_grace = GRACE
            await modem.attach(timeout=0.5)


async def test_a_module_that_answered_once_keeps_the_plain_timeout(make_modem: Any) -> None:
    emulator, modem = await make_modem(attach=False)
    await modem.command("AT")
    modem.channel.resync_grace = GRACE
    emulator.faults.wedge(reset_helps=True)  # silent from now on: not a wrong port
    with pytest.raises(n58aio.CommandTimeout) as caught:
        await modem.command("ATI", timeout=0.2)
    assert not isinstance(caught.value, n58aio.ModemNotAnswering)


@pytest.fixture
def refused_port() -> Iterator[int]:
    """A TCP port on 127.0.0.1 with nothing listening."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    yield port


async def test_a_missing_device_says_what_to_check() -> None:
    with pytest.raises(n58aio.PortOpenError) as caught:
        async with n58aio.open_modem("/dev/ttyNOPE9"):
            pass
    error = caught.value
    assert isinstance(error, n58aio.PortClosedError) and error.errno == errno.ENOENT
    assert str(error) == (
        "cannot open /dev/ttyNOPE9: no such device: check the path "
        "(ls /dev/ttyUSB* /dev/ttyACM*), the cable and that the module is powered"
    )


async def test_a_refused_socket_url_and_a_file_that_is_no_port(
    refused_port: int, tmp_path: Path
) -> None:
    url = f"socket://127.0.0.1:{refused_port}"
    with pytest.raises(n58aio.PortOpenError, match="connection refused: nothing listens"):
        async with n58aio.open_modem(url):
            pass
    path = str(tmp_path / "plain.txt")
    await asyncio.to_thread(Path(path).write_text, "not a port")
    with pytest.raises(n58aio.PortOpenError) as caught:
        async with n58aio.open_modem(path):
            pass
    assert caught.value.errno == errno.ENOTTY
    assert str(caught.value) == (
        f"cannot open {path}: not a serial port (a file or another kind of device)"
    )


@pytest.fixture
async def origin() -> AsyncIterator[OriginServer]:
    async with OriginServer() as server:
        yield server


async def test_a_request_before_attach_says_the_data_link_is_down(
    make_modem: Any, origin: OriginServer
) -> None:
    _, modem = await make_modem(attach=False)
    with pytest.raises(n58aio.ConnectError) as caught:
        await modem.get(origin.url("/echo"))
    assert str(caught.value) == (
        f"cannot connect to 127.0.0.1:{origin.port}: the module answered 'ERROR' to "
        "AT+HTTPSETUP (the data link is down: call modem.attach() first)"
    )
    await modem.attach()
    response = await modem.get(origin.url("/echo"))
    assert response.status_code == 200
