"""Receive mode 1 on a link that closes: a body ends on the link-closed report.

A chunk whose end and CR were lost takes its length from the next frame and may complete a
``Content-Length`` body with wrong bytes; the rest of that frame, read as lines before the
report, then fails the response (trust invariant, ``chunk-end-lost-body-returned``). A server
that keeps its connection open past the idle timeout has the link closed by the host, whose
close report confirms the end. Virtual time (``fuzz.sim.vloop``): no wall-clock waits.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass

import h11

from fuzz.sim import vloop
from fuzz.wiresim import SLACK, TIMEOUTS, SimModule, _Transport, http_response
from n58aio.channel import ModemChannel
from n58aio.http import HttpClient
from n58aio.http.decoder import END, HttpResponseDecoder

BODY = b"0123456789" * 20


def _mode1_decoder() -> HttpResponseDecoder:
    connection = h11.Connection(h11.CLIENT)
    connection.send(
        h11.Request(method="GET", target="/", headers=[("Host", "h"), ("Connection", "close")])
    )
    connection.send(h11.EndOfMessage())
    return HttpResponseDecoder(connection, raw=False, until_close=True)


def test_a_mode1_body_on_a_closing_link_ends_on_the_close_report() -> None:
    decoder = _mode1_decoder()
    items, done = decoder.feed(http_response(BODY))
    assert done is None and END not in items and decoder.awaiting_close
    more, done = decoder.feed(b"extra bytes of the server")  # after the message: ignored
    assert done is None and more == []
    items += decoder.link_closed(retract=0)
    assert items[-1] is END and decoder.complete
    assert b"".join(item for item in items if isinstance(item, bytes)) == BODY


@dataclass
class _LingeringServer(SimModule):
    """Its server keeps the connection open after the response: no link-closed report until
    the host closes the link (``AT+HTTPCLOSE``: ``OK`` and ``+HTTPCLOSE: ...``)."""

    closes: int = 0

    def _send_response(self) -> None:
        super()._send_response()
        self._link = True  # (the parent closed it)

    def _out(self, data: bytes) -> None:
        if data == b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n":
            return
        if data == b"\r\n+HTTPCLOSE: HTTP Link Closed\r\n":
            self.closes += 1
        super()._out(data)


async def _get(module: SimModule) -> bytes:
    channel = ModemChannel(name="sim", baudrate=None, timeout_slack=SLACK)
    channel.resync_grace = 0.3
    module.attach(channel)
    channel.connection_made(_Transport(module))
    client = HttpClient(channel, timeouts=TIMEOUTS)
    try:
        response = await client.request("GET", "http://origin.test/x", compress=False)
        assert (await channel.command("AT+CGMM")).lines == ["N58"]
        return response.content
    finally:
        channel.close()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.sleep(0)


def test_a_server_that_keeps_its_connection_gets_it_closed_and_the_body_returns() -> None:
    module = _LingeringServer(http_response(BODY), pieces=3)
    assert vloop.run(_get(module)) == BODY
    assert module.closes == 1


def test_the_close_report_ends_the_body_without_a_close_command() -> None:
    module = SimModule(http_response(BODY), pieces=3)
    assert vloop.run(_get(module)) == BODY
