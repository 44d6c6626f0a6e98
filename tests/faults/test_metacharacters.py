"""AT-line metacharacters in what the caller passes: ``,`` and ``;`` quoted, ``"`` refused.

A URL goes bare in ``AT+HTTPPARA=url,...`` (as chapter 9 writes it) unless it holds ``,`` or
``;``: then in double quotes, so that no module splits it into parameters or chains a second
command. A ``"``, a space or any other character RFC 3986 does not allow unencoded is refused
before the first byte, with the percent-encoding to use. Values written bare (module file
names) refuse ``,``, ``;`` and ``"``.
"""

from __future__ import annotations

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
    ("url", "advice"),
    [
        ('http://origin.test/a"b', "%22"),
        ('http://origin.test/"', "%22"),
        ("http://origin.test/a b", "%20"),
        ("http://origin.test/a<b>", "%3C"),
        ("http://origin.test/a\\b", "%5C"),
        ("http://origin.test/{x}", "%7B"),
        ("http://origin.test/a|b", "%7C"),
        ("http://origin.test/a^b", "%5E"),
        ("http://origin.test/a`b", "%60"),
        ('http://user:p"w@origin.test/', "%22"),
        ("http://origin.test/100%", "%25"),
        ("http://origin.test/%4", "%25"),
        ("http://origin.test/%zz", "%25"),
    ],
)
async def test_urls_with_characters_to_encode_are_refused_before_writing(
    modem: n58aio.Modem, url: str, advice: str
) -> None:
    written = modem.channel.bytes_written
    with pytest.raises(n58aio.InvalidValue, match=advice):
        await modem.get(url)
    assert modem.channel.bytes_written == written


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
