"""A restart forged by one bit flip (issue #21 item 11), through a real pseudo-terminal.

A chunk header flipped to ``+HTTPRECW: <len>,`` used to make the chunk's bytes read as lines:
a server's ``+PBREADY`` inside them was a restart (streams failed with "the module restarted",
the restart report reached subscribers, the bring-up ran again). The parser now distrusts the
damaged header: the stream fails with a ``ProtocolError``, the channel probes past the rest of
the chunk, and nothing inside it is acted on.
"""

from __future__ import annotations

import asyncio
import contextlib

import pytest
from scripted_peer import scripted_modem

from n58aio import LinkClosedError, ProtocolError
from n58aio.channel import ByteDecoder

FORGED = (
    b"\r\n+PBREADY\r\n\r\nOK\r\n\r\n+HTTPCLOSED: HTTP Link Closed\r\n"
    b"\r\n+CREG: 0,1\r\n\r\n+HTTPRECV: 9,forged!!!\r\n"
)


@pytest.mark.parametrize(
    "header",
    [
        b"\r\n+HTTPRECW: %d,",
        b"\r\n\x0b+HTTPRECV: %d,",
        b"\r\n+HTTPRECV:0%d,",
        b"\r\n+HTT\rRECV: %d,",
    ],
    ids=["name", "line-feed", "space", "split"],
)
async def test_a_damaged_chunk_header_forges_no_restart(header: bytes) -> None:
    async with asyncio.timeout(15), scripted_modem(echo=True) as (peer, modem):
        serving = asyncio.create_task(peer.read_command())  # answers ATE1 and the probe
        await modem.resync()
        serving.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await serving
        reports = modem.urcs()
        stream = modem.channel.open_stream("HTTP", ByteDecoder())
        probes = peer.probes
        body = (FORGED * 20)[:1024]
        first = b"HTTP/1.1 200 OK\r\nContent-Length: 2000\r\n\r\n"
        await peer.send(b"\r\n+HTTPRECV: %d," % len(first) + first + b"\r\n")
        assert first.startswith(await stream.receive())  # (a final CR LF is held back)
        await peer.send(header % len(body) + body + b"\r\n\r\n+HTTPRECV: 3,end\r\n", piece=97)
        with pytest.raises(ProtocolError) as failure:
            await stream.receive()
        assert not isinstance(failure.value, LinkClosedError)  # not "the module restarted"
        assert "restarted" not in str(failure.value)
        # the channel probes (the peer echoes the probe, answers ERROR) and is in step again
        async with asyncio.TaskGroup() as group:
            group.create_task(peer.answer("AT+CGMM", "N58"))
            assert (await modem.command("AT+CGMM")).lines == ["N58"]
        assert peer.probes > probes
        assert modem.channel.wire_errors == 1
        assert modem.channel.parser.discarded >= len(body) - 20
        reports.close()
        assert [line async for line in reports if "PBREADY" in line or "CREG" in line] == []
