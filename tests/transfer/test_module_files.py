"""Module-side transfers end to end: AT+HTTPGET/HTTPSGET and AT+FILEHTTPACTION/FILEHTTPSACTION."""

from __future__ import annotations

import asyncio
import hashlib
import io
import time
import zipfile
from pathlib import Path

import pytest
from transfer_fixtures import *  # noqa: F403  (fixtures)
from transfer_helpers import ModemFactory

import n58aio
from n58aio import ModuleTransferError, PDPNotActiveError, TLSConfig
from n58aio.emulator.origin import OriginServer, pattern_bytes

VERIFY = TLSConfig(ca_cert="ca.pem")
FIRMWARE = pattern_bytes(3, 150_000)


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def md5_of(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


# ---------------------------------------------------------------------- HTTPGET


async def test_module_get_with_md5(
    modem: n58aio.Modem, files_origin: OriginServer, files_dir: Path, module_fs: Path
) -> None:
    (files_dir / "fw.bin").write_bytes(FIRMWARE)
    async with asyncio.timeout(30):
        result = await modem.module_get(files_origin.url("/files/fw.bin"), md5=md5_of(FIRMWARE))
    assert result.states == (10, 30)
    assert (result.downloaded, result.unzipped, result.verified) == (True, False, True)
    assert result.http_status is None
    assert (module_fs / "fw.bin").read_bytes() == FIRMWARE
    status = await modem.module_get_status()
    assert (status.state, status.code, status.failed) == (30, None, False)
    assert status.description == "MD5 check succeeded"


async def test_module_get_wrong_md5(
    modem: n58aio.Modem, files_origin: OriginServer, files_dir: Path
) -> None:
    (files_dir / "fw.bin").write_bytes(FIRMWARE)
    async with asyncio.timeout(30):
        with pytest.raises(ModuleTransferError, match="MD5 check failed") as caught:
            await modem.module_get(files_origin.url("/files/fw.bin"), md5="0" * 32)
    assert isinstance(caught.value, n58aio.TransferError)
    assert caught.value.states == (10, 31)
    assert (await modem.module_get_status()).state == 31


async def test_module_get_404(modem: n58aio.Modem, files_origin: OriginServer) -> None:
    async with asyncio.timeout(30):
        with pytest.raises(ModuleTransferError, match="HTTP 404") as caught:
            await modem.module_get(files_origin.url("/files/missing.bin"), md5="0" * 32)
    assert (caught.value.states, caught.value.http_status) == ((11,), 404)
    status = await modem.module_get_status()
    assert (status.state, status.code, status.failed) == (11, 404, True)


async def test_module_get_unzips(
    modem: n58aio.Modem, files_origin: OriginServer, files_dir: Path, module_fs: Path
) -> None:
    archive = make_zip({"app/main.bin": FIRMWARE, "readme.txt": b"hello"})
    (files_dir / "pack.zip").write_bytes(archive)
    async with asyncio.timeout(30):
        result = await modem.module_get(files_origin.url("/files/pack.zip"))
    assert result.states == (10, 20)
    assert (result.downloaded, result.unzipped, result.verified) == (True, True, False)
    assert (module_fs / "app" / "main.bin").read_bytes() == FIRMWARE
    assert (module_fs / "readme.txt").read_bytes() == b"hello"
    async with asyncio.timeout(30):
        checked = await modem.module_get(files_origin.url("/files/pack.zip"), md5=md5_of(archive))
    assert checked.states == (10, 20, 30)


async def test_module_get_zip_without_zip_name_and_bad_zip(
    modem: n58aio.Modem, files_origin: OriginServer, files_dir: Path, module_fs: Path
) -> None:
    """The unzip report of an archive whose name does not say so arrives within the grace."""
    (files_dir / "bundle").write_bytes(make_zip({"inner.txt": b"x"}))
    async with asyncio.timeout(30):
        result = await modem.module_get(files_origin.url("/files/bundle"), unzip_grace=3.0)
    assert result.states == (10, 20)
    assert (module_fs / "inner.txt").read_bytes() == b"x"

    (files_dir / "broken.zip").write_bytes(b"PK\x03\x04" + b"\x00" * 60)
    async with asyncio.timeout(30):
        with pytest.raises(ModuleTransferError, match="unzip failed") as caught:
            await modem.module_get(files_origin.url("/files/broken.zip"))
    assert caught.value.states == (10, 21)


async def test_module_get_plain_file_ends_after_the_grace(
    modem: n58aio.Modem, files_origin: OriginServer, files_dir: Path, module_fs: Path
) -> None:
    (files_dir / "data.bin").write_bytes(FIRMWARE)
    started = time.monotonic()
    async with asyncio.timeout(30):
        result = await modem.module_get(files_origin.url("/files/data.bin"), unzip_grace=0.5)
    assert 0.5 <= time.monotonic() - started < 5
    assert result.states == (10,)
    assert (result.downloaded, result.unzipped, result.verified) == (True, False, False)
    assert (module_fs / "data.bin").read_bytes() == FIRMWARE


async def test_module_get_lost_reports_are_recovered_from_getstat(
    make_modem: ModemFactory, files_origin: OriginServer, files_dir: Path
) -> None:
    """Both reports are lost on the wire: at the timeout AT+HTTPGETSTAT? tells the outcome."""
    emu, modem = await make_modem()
    (files_dir / "fw.bin").write_bytes(FIRMWARE)
    url = files_origin.url("/files/fw.bin?delay=1.5")  # the module's GET waits 1.5 s
    async with asyncio.timeout(30):
        job = asyncio.create_task(modem.module_get(url, md5=md5_of(FIRMWARE), timeout=3.0))
        await asyncio.sleep(0.5)  # the commands are answered, the download is running
        emu.faults.drop_next(len(b"\r\n+HTTPGETRPT: 10\r\n\r\n+HTTPGETRPT: 30\r\n"))
        result = await job
    assert result.states == (30,)
    assert result.verified and result.downloaded


async def test_module_get_timeout(
    modem: n58aio.Modem, files_origin: OriginServer, files_dir: Path
) -> None:
    (files_dir / "slow.bin").write_bytes(b"s")
    async with asyncio.timeout(30):
        with pytest.raises(n58aio.RequestTimeout, match="module download report"):
            await modem.module_get(files_origin.url("/files/slow.bin?delay=3"), timeout=0.5)
        assert (await modem.module_get_status()).state == 0


async def test_module_get_without_data_link(
    make_modem: ModemFactory, files_origin: OriginServer
) -> None:
    _, modem = await make_modem(attach=False)
    async with asyncio.timeout(30):
        with pytest.raises(PDPNotActiveError, match="attach"):
            await modem.module_get(files_origin.url("/files/x.bin"))


async def test_https_module_get(
    modem: n58aio.Modem, tls_files_origin: OriginServer, files_dir: Path, module_fs: Path
) -> None:
    (files_dir / "secure.bin").write_bytes(FIRMWARE)
    url = f"https://localhost:{tls_files_origin.port}/files/secure.bin"
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.TLSConfigError):
        await modem.module_get(url)  # no TLS choice made: refused before anything is sent
    assert modem.channel.bytes_written == written
    async with asyncio.timeout(30):
        result = await modem.module_get(url, md5=md5_of(FIRMWARE), tls=VERIFY)
    assert result.states == (10, 30)
    assert (module_fs / "secure.bin").read_bytes() == FIRMWARE
    status = await modem.module_get_status(https=True)
    assert status.state == 30
    assert (await modem.module_get_status()).state == 0  # the HTTP family is separate
    async with asyncio.timeout(30):
        with pytest.raises(ModuleTransferError) as caught:
            await modem.module_get(url.replace("secure.bin", "nope"), tls=VERIFY)
    assert caught.value.http_status == 404


# ---------------------------------------------------------------------- FILEHTTPACTION


async def test_file_download_into_the_module(
    modem: n58aio.Modem, origin_server: OriginServer, module_fs: Path
) -> None:
    async with asyncio.timeout(30):
        result = await modem.file_download(origin_server.url("/bytes/300000"), 1000, 70_000)
    assert (result.mode, result.length) == (0, 70_000)
    assert result.report == "+FILEHTTPSTAT: 0,1,70000"
    assert (module_fs / "300000").read_bytes() == pattern_bytes(1000, 70_000)
    assert origin_server.requests[-1].header("range") == "bytes=1000-70999"
    # the HTTP family is usable for ordinary requests right after
    async with asyncio.timeout(30):
        response = await modem.get(origin_server.url("/bytes/10"))
    assert response.content == pattern_bytes(0, 10)


async def test_file_download_failure_and_limits(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    async with asyncio.timeout(30):
        with pytest.raises(ModuleTransferError, match="HTTP 404") as caught:
            await modem.file_download(origin_server.url("/status/404"), 0, 100)
    assert caught.value.http_status == 404
    written = modem.channel.bytes_written
    for offset, size in ((0, 0), (0, 524_289), (-1, 10)):
        with pytest.raises(n58aio.InvalidValue):
            await modem.file_download(origin_server.url("/bytes/10"), offset, size)
    with pytest.raises(n58aio.InvalidValue):
        await modem.file_download("http://user:pw@origin.test/x", 0, 10)
    assert modem.channel.bytes_written == written


async def test_file_upload_from_the_module(
    modem: n58aio.Modem, origin_server: OriginServer, module_fs: Path
) -> None:
    content = b"reading=42&unit=C\n" * 1000
    (module_fs / "log.txt").write_bytes(content)
    async with asyncio.timeout(30):
        result = await modem.file_upload(
            origin_server.url("/upload/log.txt"), "log.txt", len(content), content_type="text/plain"
        )
    assert (result.mode, result.length) == (1, len(content))
    assert origin_server.uploads["log.txt"] == content
    assert origin_server.requests[-1].header("content-type") == "text/plain"
    async with asyncio.timeout(30):
        await modem.file_upload(origin_server.url("/upload/head"), "log.txt", 100)
    assert origin_server.uploads["head"] == content[:100]
    assert origin_server.requests[-1].header("content-type") == "application/x-www-form-urlencoded"


async def test_file_upload_errors(
    modem: n58aio.Modem, origin_server: OriginServer, module_fs: Path
) -> None:
    (module_fs / "small.txt").write_bytes(b"tiny")
    url = origin_server.url("/upload/x")
    async with asyncio.timeout(30):
        with pytest.raises(ModuleTransferError, match="incorrect parameters") as refused:
            await modem.file_upload(url, "small.txt", 5)  # longer than the file
        assert refused.value.cme_code == 50
        with pytest.raises(ModuleTransferError, match="HTTP 500") as failed:
            await modem.file_upload(origin_server.url("/status/500"), "small.txt", 4)
        assert failed.value.http_status == 500
    written = modem.channel.bytes_written
    for name in ("a,b.txt", 'a"b', "line\r\nAT+X", "", " ", "x" * 256, "caf\u00e9"):
        with pytest.raises(n58aio.InvalidValue):
            await modem.file_upload(url, name, 4)
    for length in (0, 524_289):
        with pytest.raises(n58aio.InvalidValue):
            await modem.file_upload(url, "small.txt", length)
    with pytest.raises(n58aio.InvalidValue):
        await modem.file_upload(url, "small.txt", 4, content_type="image/png")
    assert modem.channel.bytes_written == written


async def test_file_transfers_without_data_link(
    make_modem: ModemFactory, origin_server: OriginServer, module_fs: Path
) -> None:
    _, modem = await make_modem(attach=False)
    url = origin_server.url("/bytes/100")
    async with asyncio.timeout(30):
        with pytest.raises(PDPNotActiveError) as direct:
            await modem.file_download(url, 0, 100, connect=False)
        assert direct.value.cme_code == 1001  # +CME ERROR: 1001 from the command itself
        with pytest.raises(PDPNotActiveError):
            await modem.file_download(url, 0, 100)  # AT+HTTPSETUP fails first
        (module_fs / "f.txt").write_bytes(b"abc")
        with pytest.raises(PDPNotActiveError):
            await modem.file_upload(origin_server.url("/upload/f"), "f.txt", 3, connect=False)
        await modem.attach()
        result = await modem.file_download(url, 0, 100)
    assert result.length == 100
    assert origin_server.requests[-1].path == "/bytes/100"


async def test_cme_text_mode_is_understood(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    _, modem = await make_modem(attach=False)
    await modem.command("AT+CMEE=2")
    async with asyncio.timeout(30):
        with pytest.raises(PDPNotActiveError):
            await modem.file_download(origin_server.url("/bytes/100"), 0, 100, connect=False)


async def test_https_file_download_and_upload(
    modem: n58aio.Modem, tls_files_origin: OriginServer, module_fs: Path
) -> None:
    base = f"https://localhost:{tls_files_origin.port}"
    async with asyncio.timeout(30):
        result = await modem.file_download(f"{base}/bytes/90000", 500, 80_000, tls=VERIFY)
    assert result.length == 80_000
    assert (module_fs / "90000").read_bytes() == pattern_bytes(500, 80_000)
    async with asyncio.timeout(30):
        await modem.file_upload(f"{base}/upload/back.bin", "90000", 80_000, tls=VERIFY)
    assert tls_files_origin.uploads["back.bin"] == pattern_bytes(500, 80_000)


async def test_module_commands_close_a_kept_alive_link_first(
    make_modem: ModemFactory, origin_server: OriginServer, files_dir: Path
) -> None:
    async with OriginServer(files=files_dir) as files:
        (files_dir / "k.bin").write_bytes(b"k" * 1000)
        _, modem = await make_modem(keepalive=True)
        async with asyncio.timeout(30):
            first = await modem.get(origin_server.url("/bytes/100"))
            assert first.content == pattern_bytes(0, 100)
            assert origin_server.open_connections == 1  # kept for reuse
            await modem.module_get(files.url("/files/k.bin"), md5=md5_of(b"k" * 1000))
            while origin_server.open_connections:  # noqa: ASYNC110 - AT+HTTPCLOSE went first
                await asyncio.sleep(0.01)
            second = await modem.get(origin_server.url("/bytes/200"))
    assert second.content == pattern_bytes(0, 200)


async def test_module_get_waits_for_a_running_request(
    modem: n58aio.Modem, origin_server: OriginServer, files_origin: OriginServer, files_dir: Path
) -> None:
    (files_dir / "w.bin").write_bytes(b"w" * 100)
    order: list[str] = []
    async with asyncio.timeout(30):
        async with modem.stream("GET", origin_server.url("/bytes/50000?drip=0.01&chunk=5000")) as r:
            job = asyncio.create_task(
                modem.module_get(files_origin.url("/files/w.bin"), md5=md5_of(b"w" * 100))
            )
            job.add_done_callback(lambda _: order.append("module_get"))
            async for _ in r.aiter_bytes():
                pass
            order.append("request")
        await job
    assert order == ["request", "module_get"]
