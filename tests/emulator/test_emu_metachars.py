"""AT-line metacharacters: the emulator runs one command per line and takes quoted url values.

A ``;`` outside double quotes (V.250 chaining) and an unbalanced quote make the line ``ERROR``:
the emulator does not chain, and a client must never let a real module see such a line. A url
value in double quotes may hold ``,`` and ``;``; its quotes are removed.
"""

from __future__ import annotations

import pytest
from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import ERROR, OK, Origin, Port, Reply

from n58aio.emulator import Emulator
from n58aio.emulator.syntax import Command, parse_command

CLOSED = b"\r\n+HTTPCLOSED: HTTP Link Closed\r\n"


@pytest.mark.parametrize(
    "line",
    [
        b"AT+CSQ;+CGMM",
        b"AT;",
        b"AT+HTTPPARA=url,origin.test/a;+XIIC=0",
        b'AT+HTTPPARA=url,"origin.test/a";+XIIC=0',
        b'AT+HTTPPARA=url,"origin.test/a',
        b'AT+HTTPPARA=url,origin.test/a"b',
        b'AT+HTTPSCFG="sslversion,3',
    ],
)
def test_chained_and_unbalanced_lines_do_not_parse(line: bytes) -> None:
    assert parse_command(line) is None


def test_quoted_semicolons_and_commas_parse() -> None:
    assert parse_command(b'AT+HTTPPARA=url,"h/a;b,c"') == Command(
        "+HTTPPARA", "set", 'url,"h/a;b,c"'
    )


@pytest.mark.parametrize(
    "line",
    [
        b"AT+HTTPPARA=url,origin.test/a;+XIIC=0",
        b"AT+XIIC=0;+CSQ",
        b'AT+HTTPPARA=url,"origin.test/a',
        b'AT+HTTPPARA=url,"origin.test/a""b"',  # a quote inside the value
        b"AT+HTTPPARA=url,origin.test/a,b",  # a bare comma: a third parameter
        b'AT+HTTPPARA=url,""',
    ],
)
async def test_the_module_refuses_them(emu_port: tuple[Emulator, Port], line: bytes) -> None:
    _, port = emu_port
    await port.cmd(line, ERROR)
    port.send(b"AT+XIIC?\r")  # a chained AT+XIIC=0 must not have run
    await port.expect(b"AT+XIIC?\r\r\n+XIIC:    1,")


async def test_a_quoted_url_is_used_without_its_quotes(
    emu_port: tuple[Emulator, Port], origin: Origin
) -> None:
    _, port = emu_port
    origin.route("/a;b,c", Reply(200, [("Content-Length", "2")], b"ok"))
    await port.cmd(b'AT+HTTPPARA=url,"www.neoway.com.cn/a;b,c?x=1,2"', OK)
    await port.cmd(b"AT+HTTPPARA=port,%d" % origin.port, OK)
    await port.cmd(b"AT+HTTPSETUP", OK)
    await port.cmd(b"AT+HTTPACTION=0", OK)
    sent = await origin.response(0)
    await port.expect(b"\r\n+HTTPRECV:\r\n" + sent + CLOSED)
    assert origin.requests[0].target == "/a;b,c?x=1,2"
