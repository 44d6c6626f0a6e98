"""Ranged GETs that need a custom packet: with headers of their own, or credentials in the URL.

The module's ranged GET (``AT+HTTPACTION=0,<offset>,<size>``) writes its own request, so a
range with extra headers goes as mode 99 carrying ``Range: bytes=<a>-<b>``; its 206 answer is
read like the module's. Every refusal comes before the first byte.
"""

from __future__ import annotations

import asyncio
import base64
from pathlib import Path

import pytest
from conftest import ModemFactory

import n58aio
from n58aio.emulator.origin import OriginServer, pattern_bytes, pattern_sha256
from n58aio.http.request import plan_request
from n58aio.http.url import ModuleURL

USER, PASSWORD = "alice", "s3cr;t,pw"
BASIC = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()


def with_credentials(origin: OriginServer, path: str) -> str:
    """``http://alice:<password>@127.0.0.1:<port><path>`` (password percent-encoded)."""
    return f"http://{USER}:s3cr%3Bt%2Cpw@127.0.0.1:{origin.port}{path}"


def test_the_plan_holds_the_action_line() -> None:
    url = ModuleURL.parse("http://origin.test/bytes/100")
    assert plan_request("GET", url, offset=5, size=10).action == "AT+HTTPACTION=0,5,10"
    assert plan_request("GET", url, compress=False).action == "AT+HTTPACTION=0"
    assert plan_request("HEAD", url).action == "AT+HTTPACTION=1"
    post = plan_request("POST", url, content=b"abc", headers={"Content-Type": "text/plain"})
    assert post.action == "AT+HTTPACTION=2,3,1"
    custom = plan_request("GET", url, offset=5, size=10, headers={"X-A": "1"})
    assert custom.mode == 99
    assert custom.body is not None and b"\r\nRange: bytes=5-14\r\n" in custom.body
    assert custom.action == f"AT+HTTPACTION=99,{len(custom.body)}"
    secure = plan_request("GET", ModuleURL.parse("https://u:p@origin.test/x"), offset=0, size=1)
    assert secure.action.startswith("AT+HTTPSACTION=99,")


async def test_a_ranged_get_with_a_header_goes_as_a_custom_packet(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    _, modem = await make_modem()
    response = await modem.get(
        origin_server.url("/bytes/1000"), offset=100, size=50, headers={"X-Trace": "r1"}
    )
    assert response.status_code == 206
    assert response.content == pattern_bytes(100, 50)
    assert response.headers["content-range"] == "bytes 100-149/1000"
    seen = origin_server.requests[-1]
    assert seen.header("range") == "bytes=100-149"
    assert seen.header("x-trace") == "r1"


@pytest.mark.parametrize("recvmode", [1, 0], ids=["recvmode1", "recvmode0"])
async def test_a_ranged_get_with_credentials_sends_authorization_and_range(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    written = modem.channel.bytes_written
    response = await modem.get(with_credentials(origin_server, "/bytes/5000"), offset=4990, size=10)
    assert modem.channel.bytes_written > written
    assert response.status_code == 206
    assert response.content == pattern_bytes(4990, 10)
    seen = origin_server.requests[-1]
    assert seen.header("authorization") == BASIC
    assert seen.header("range") == "bytes=4990-4999"
    # and the link is in step: the next plain request works
    again = await modem.get(origin_server.url("/bytes/10"))
    assert again.content == pattern_bytes(0, 10)


async def test_a_range_and_a_range_header_together_are_refused_before_writing(
    make_modem: ModemFactory, origin_server: OriginServer
) -> None:
    _, modem = await make_modem()
    for url in (origin_server.url("/bytes/10"), with_credentials(origin_server, "/bytes/10")):
        written = modem.channel.bytes_written
        with pytest.raises(n58aio.InvalidValue, match="Range"):
            await modem.get(url, offset=0, size=5, headers={"range": "bytes=1-2"})
        assert modem.channel.bytes_written == written


async def test_modem_download_with_credentials(
    make_modem: ModemFactory, origin_server: OriginServer, tmp_path: Path
) -> None:
    _, modem = await make_modem()
    size = 200_000
    target = tmp_path / "auth.bin"
    async with asyncio.timeout(60):
        result = await modem.download(
            with_credentials(origin_server, f"/bytes/{size}"),
            target,
            sha256=pattern_sha256(size),
            range_size=64 * 1024,
        )
    assert target.read_bytes() == pattern_bytes(0, size)
    assert result.size == size and result.retries == 0
    ranged = [r for r in origin_server.requests if r.path == f"/bytes/{size}"]
    assert len(ranged) == result.requests == 4
    assert all(r.header("authorization") == BASIC for r in ranged)
    assert [r.header("range") for r in ranged] == [
        "bytes=0-65535",
        "bytes=65536-131071",
        "bytes=131072-196607",
        "bytes=196608-199999",
    ]
