"""AT-line metacharacters in what the caller passes: ``,`` and ``;`` quoted, ``"`` refused.

A URL goes bare in ``AT+HTTPPARA=url,...`` (as chapter 9 writes it) unless it holds ``,`` or
``;``: then in double quotes, so that no module splits it into parameters or chains a second
command. A ``"``, a space or any other character RFC 3986 does not allow unencoded is
percent-encoded first (as httpx does), so it never reaches the line as itself. Values written
bare (module file names) refuse ``,``, ``;`` and ``"``.
"""

from __future__ import annotations

import base64

import pytest
from conftest import ModemFactory
from hypothesis import given
from hypothesis import strategies as st
from matrix import spy_writes

import n58aio
from n58aio.commands.http import HTTP, HTTPS
from n58aio.commands.parameters import bare_parameter, string_parameter
from n58aio.emulator.origin import OriginServer


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ("/echo?q=a;+XIIC=0", b'AT+HTTPPARA=url,"127.0.0.1/echo?q=a;+XIIC=0"\r'),
        ("/echo?a=1,2", b'AT+HTTPPARA=url,"127.0.0.1/echo?a=1,2"\r'),
        ("/echo?a=1&b=%22", b"AT+HTTPPARA=url,127.0.0.1/echo?a=1&b=%22\r"),
    ],
)
async def test_url_values_are_quoted_when_they_hold_separators(
    make_modem: ModemFactory, origin_server: OriginServer, path: str, line: bytes
) -> None:
    _, modem = await make_modem()
    writes = spy_writes(modem)
    response = await modem.get(f"http://127.0.0.1:{origin_server.port}{path}")
    assert response.status_code == 200
    assert response.json()["target"] == path  # the module took the whole URL, nothing else
    assert writes[0] == line
    assert writes[1:5] == [
        b"AT+HTTPPARA=port,%d\r" % origin_server.port,
        b"AT+HTTPPARA=keepalive,0\r",
        b"AT+HTTPPARA=recvmode,1\r",
        b"AT+HTTPSETUP\r",
    ]
    assert (await modem.command("AT+XIIC?")).lines[0].startswith("+XIIC:    1,")


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ('/echo/a"b', b"AT+HTTPPARA=url,127.0.0.1/echo/a%22b\r"),
        ("/echo/a b", b"AT+HTTPPARA=url,127.0.0.1/echo/a%20b\r"),
        ("/echo/a<b>", b"AT+HTTPPARA=url,127.0.0.1/echo/a%3Cb%3E\r"),
        ("/echo/a\\b|^`{}", b"AT+HTTPPARA=url,127.0.0.1/echo/a%5Cb%7C%5E%60%7B%7D\r"),
        ("/echo/100%", b"AT+HTTPPARA=url,127.0.0.1/echo/100%25\r"),
        ("/echo/%4?%zz", b"AT+HTTPPARA=url,127.0.0.1/echo/%254?%25zz\r"),
    ],
)
async def test_url_characters_to_encode_are_percent_encoded_before_the_line(
    make_modem: ModemFactory, origin_server: OriginServer, path: str, line: bytes
) -> None:
    """No ``"``, space or other character outside RFC 3986 reaches the AT line: it is
    percent-encoded (as httpx does), and the server gets the encoded target."""
    _, modem = await make_modem()
    writes = spy_writes(modem)
    response = await modem.get(f"http://127.0.0.1:{origin_server.port}{path}")
    assert response.status_code == 404
    assert origin_server.requests[-1].target == line.decode()[len("AT+HTTPPARA=url,127.0.0.1") : -1]
    assert writes[0] == line


async def test_a_quote_in_the_password_goes_only_into_authorization(
    modem: n58aio.Modem, origin_server: OriginServer
) -> None:
    response = await modem.get(f'http://user:p"w@127.0.0.1:{origin_server.port}/echo')
    headers = {k.lower(): v for k, v in response.json()["headers"]}
    assert headers["authorization"] == "Basic " + base64.b64encode(b'user:p"w').decode()


@pytest.mark.parametrize("name", ["a;b.bin", "a,b.bin", 'a"b.bin', ";", ","])
async def test_bare_module_file_names_refuse_metacharacters(modem: n58aio.Modem, name: str) -> None:
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.InvalidValue):
        await modem.file_upload("http://origin.test/up", name, 10)
    assert modem.channel.bytes_written == written
    for family in (HTTP, HTTPS):
        with pytest.raises(n58aio.InvalidValue):
            family.file_action_post(10, 1, name)


metachar_text = st.text(
    st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=1, max_size=30
)


@given(value=metachar_text)
def test_parameters_never_carry_a_bare_separator_or_a_quote(value: str) -> None:
    """Whatever the value, a built line holds ``,`` and ``;`` only inside quotes, and no ``"``
    of the value; or the value is refused."""
    try:
        written = string_parameter(value, "URL")
    except n58aio.InvalidValue:
        assert '"' in value
    else:
        if "," in value or ";" in value:
            assert written == f'"{value}"'
        else:
            assert written == value
    try:
        bare_parameter(value, "name")
    except n58aio.InvalidValue:
        assert set(value) & set(',;"') or not value.strip()
    else:
        assert not set(value) & set(',;"')
    for family in (HTTP, HTTPS):
        for name in ("port", "keepalive", "recvmode"):
            if set(value) & set(',;"'):
                with pytest.raises(n58aio.InvalidValue):
                    family.para(name, value)
