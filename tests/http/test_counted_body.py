"""Content-Length bodies over many deliveries, through the emulator: the decoder counts them
after h11 has started them; the bytes, the end, keep-alive and a cut link come out as before."""

from __future__ import annotations

import pytest
from conftest import ModemFactory

import n58aio
from n58aio.emulator.origin import OriginServer, pattern_bytes

RECV_MODES = pytest.mark.parametrize("recvmode", [1, 0], ids=["recvmode1", "recvmode0"])


@RECV_MODES
async def test_dripped_bodies_arrive_whole_and_keepalive_reuses_the_link(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode, keepalive=True)
    deliveries: list[int] = []
    for size in (20_000, 7_301, 30_000):
        # written in 1000-byte pieces 5 ms apart: the body comes in many deliveries
        url = origin_server.url(f"/bytes/{size}?chunk=1000&drip=0.005")
        async with modem.stream("GET", url) as response:
            assert response.headers["content-length"] == str(size)
            chunks = [chunk async for chunk in response.aiter_bytes()]
        deliveries.append(len(chunks))
        assert b"".join(chunks) == pattern_bytes(0, size)
        assert response.num_bytes_downloaded == size
    assert min(deliveries) > 3
    # receive mode 0 never keeps a link; mode 1 keeps the one link for all three
    assert origin_server.connections_opened == (1 if recvmode == 1 else 3)
    assert (await modem.get(origin_server.url("/bytes/10"))).content == pattern_bytes(0, 10)


@RECV_MODES
async def test_link_cut_amid_a_counted_body_fails_and_the_next_request_works(
    make_modem: ModemFactory, origin_server: OriginServer, recvmode: int
) -> None:
    _, modem = await make_modem(recvmode=recvmode)
    received = bytearray()
    with pytest.raises(n58aio.LinkClosedError, match="before the response was complete"):
        url = origin_server.url("/bytes/50000?cut=12000&chunk=1000&drip=0.005")
        async with modem.stream("GET", url) as response:
            async for chunk in response.aiter_bytes():
                received += chunk
    assert bytes(received) == pattern_bytes(0, len(received))
    assert len(received) <= 12_000
    after = await modem.get(origin_server.url("/bytes/3000"))
    assert after.content == pattern_bytes(0, 3000)
