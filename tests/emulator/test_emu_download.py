"""HTTPGET / HTTPSGET (9.6-9.8, 9.16-9.18) and FILEHTTPACTION / FILEHTTPSACTION (9.19-9.21)."""

from __future__ import annotations

import hashlib
import io
import zipfile

from emu_fixtures import *  # noqa: F403  (fixtures)
from emu_helpers import (
    ERROR,
    OK,
    EmuFactory,
    Origin,
    OriginFactory,
    Port,
    Reply,
    Request,
    TLSMaterial,
    pattern,
)

from n58aio.emulator import Emulator

ICBC = b"mybank.icbc.com.cn/icbc/perbank/"


def make_zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


async def set_url(port: Port, origin: Origin, path: bytes, stem: bytes = b"HTTP") -> None:
    await port.cmd(b"AT+%sPARA=url,%s%s" % (stem, ICBC, path), OK)
    await port.cmd(b"AT+%sPARA=port,%d" % (stem, origin.port), OK)


async def test_manual_9_6_httpget_zip_md5(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    emu, port = emu_port
    archive = make_zip({"a.txt": b"alpha", "dir/b.bin": pattern(5000)})
    origin.route("/icbc/perbank/pack.zip", Reply(200, body=archive))
    await port.cmd(b"AT+HTTPGETSTAT?", b"\r\n+HTTPGETSTAT: 0\r\nOK\r\n")
    await set_url(port, origin, b"pack.zip")
    md5 = hashlib.md5(archive).hexdigest().encode()
    await port.cmd(b"AT+HTTPGET=0,0," + md5, OK)
    await port.expect(
        b"\r\n+HTTPGETRPT: 10\r\n\r\n+HTTPGETRPT: 20\r\n\r\n+HTTPGETRPT: 30\r\n", timeout=10
    )
    assert (emu.fs_root / "pack.zip").read_bytes() == archive
    assert (emu.fs_root / "a.txt").read_bytes() == b"alpha"
    assert (emu.fs_root / "dir" / "b.bin").read_bytes() == pattern(5000)
    await port.cmd(b"AT+HTTPGETSTAT?", b"\r\n+HTTPGETSTAT: 30\r\nOK\r\n")


async def test_httpget_wrong_md5(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    emu, port = emu_port
    origin.route("/icbc/perbank/index.jsp", Reply(200, body=b"<html>bank</html>"))
    await set_url(port, origin, b"index.jsp")
    await port.cmd(b"AT+HTTPGET=0,0,eaf84487e190bc79af55c972bbc63e3f", OK)
    await port.expect(b"\r\n+HTTPGETRPT: 10\r\n\r\n+HTTPGETRPT: 31\r\n")
    assert (emu.fs_root / "index.jsp").read_bytes() == b"<html>bank</html>"
    await port.cmd(b"AT+HTTPGETSTAT?", b"\r\n+HTTPGETSTAT: 31\r\nOK\r\n")
    # Without check value: download only, no verification report.
    await port.cmd(b"AT+HTTPGET=0", OK)
    await port.expect(b"\r\n+HTTPGETRPT: 10\r\n")
    await port.quiet(0.1)


async def test_httpget_404_and_bad_zip(emu_port: tuple[Emulator, Port], origin: Origin) -> None:
    _, port = emu_port
    origin.route("/icbc/perbank/broken.zip", Reply(200, body=b"PK\x03\x04" + b"\x00" * 40))
    await set_url(port, origin, b"missing")
    await port.cmd(b"AT+HTTPGET=0", OK)
    await port.expect(b"\r\n+HTTPGETRPT: 11,404\r\n")
    await port.cmd(b"AT+HTTPGETSTAT?", b"\r\n+HTTPGETSTAT: 11,404\r\nOK\r\n")
    await set_url(port, origin, b"broken.zip")
    await port.cmd(b"AT+APHTTPGET", OK)  # the manual's AP spelling; reports stay +HTTPGETRPT
    await port.expect(b"\r\n+HTTPGETRPT: 10\r\n\r\n+HTTPGETRPT: 21\r\n")


async def test_httpget_rejects(make_emu: EmuFactory, origin: Origin) -> None:
    _, port = await make_emu()
    await set_url(port, origin, b"index.jsp")
    await port.cmd(b"AT+HTTPGET=0", ERROR)  # no data link
    await port.cmd(b"AT+XIIC=1", OK)
    for bad in (b"=1", b"=2", b"=99", b"=x", b"=0,0", b"=0,1,eaf84487e190bc79af55c972bbc63e3f"):
        await port.cmd(b"AT+HTTPGET" + bad, ERROR)
    await port.cmd(b"AT+HTTPGET=0,0,eaf84487e190bc79af55c972bbc63e3", ERROR)
    await port.cmd(b"AT+HTTPSGET=0", ERROR)  # no HTTPS url
    await port.cmd(b"AT+HTTPGET=0", OK)
    await port.expect(b"\r\n+HTTPGETRPT: 11,404\r\n")


async def test_network_failure_reports_11(emu_port: tuple[Emulator, Port]) -> None:
    _, port = emu_port
    await port.cmd(b"AT+HTTPPARA=url,no-such-host.invalid/file", OK)
    await port.cmd(b"AT+HTTPGET=0", OK)
    await port.expect(b"\r\n+HTTPGETRPT: 11\r\n")
    await port.cmd(b"AT+HTTPGETSTAT?", b"\r\n+HTTPGETSTAT: 11\r\nOK\r\n")


async def test_manual_9_16_httpsget(
    emu_port: tuple[Emulator, Port], make_origin: OriginFactory, tls: TLSMaterial
) -> None:
    emu, port = emu_port
    secure_origin = await make_origin(tls.server_context())
    secure_origin.route("/icbc/perbank/index.jsp", Reply(200, body=b"secure page"))
    await port.cmd(b'AT+HTTPSCFG="authmode",1', OK)
    await port.cmd(b'AT+HTTPSCFG="cacert","ca.pem"', OK)
    await set_url(port, secure_origin, b"index.jsp", b"HTTPS")
    md5 = hashlib.md5(b"secure page").hexdigest().encode()
    await port.cmd(b"AT+HTTPSGET=0,0," + md5, OK)
    await port.expect(b"\r\n+HTTPSGETRPT: 10\r\n\r\n+HTTPSGETRPT: 30\r\n")
    await port.cmd(b"AT+HTTPSGETSTAT?", b"\r\n+HTTPSGETSTAT: 30\r\nOK\r\n")
    assert (emu.fs_root / "index.jsp").read_bytes() == b"secure page"
    await port.cmd(b"AT+HTTPGETSTAT?", b"\r\n+HTTPGETSTAT: 0\r\nOK\r\n")


async def test_manual_9_19_filehttpaction_get(
    emu_port: tuple[Emulator, Port], origin: Origin
) -> None:
    emu, port = emu_port
    data = pattern(600000)

    def ranged(request: Request) -> Reply:
        first, last = (int(x) for x in request.headers["range"].split("=")[1].split("-"))
        last = min(last, len(data) - 1)
        headers = [("Content-Range", f"bytes {first}-{last}/{len(data)}")]
        return Reply(206, headers, data[first : last + 1])

    origin.route("/icbc/perbank/big.bin", ranged)
    await set_url(port, origin, b"big.bin")
    await port.cmd(b"AT+FILEHTTPACTION=0,0,524288", OK)
    await port.expect(b"\r\n+FILEHTTPSTAT: 0,1,524288\r\n", timeout=10)
    assert (emu.fs_root / "big.bin").read_bytes() == data[:524288]
    assert origin.requests[0].headers["range"] == "bytes=0-524287"
    await port.cmd(b"AT+FILEHTTPACTION=0,599990,100", OK)
    await port.expect(b"\r\n+FILEHTTPSTAT: 0,1,10\r\n")
    assert (emu.fs_root / "big.bin").read_bytes() == data[599990:]
    await set_url(port, origin, b"nothing")
    await port.cmd(b"AT+FILEHTTPACTION=0,0,10", OK)
    await port.expect(b"\r\n+FILEHTTPSTAT: 0,0,404\r\n")


async def test_manual_9_19_filehttpaction_post(
    emu_port: tuple[Emulator, Port], origin: Origin
) -> None:
    emu, port = emu_port
    content = pattern(524288)
    (emu.fs_root / "text.txt").write_bytes(content)
    origin.route("/icbc/perbank/upload", Reply(200, body=b"stored"))
    await set_url(port, origin, b"upload")
    await port.cmd(b"AT+FILEHTTPACTION=1,524288,0,text.txt", OK)
    await port.expect(b"\r\n+FILEHTTPSTAT: 1,1,524288\r\n", timeout=10)
    request = origin.requests[0]
    assert request.method == "POST"
    assert request.body == content
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    await port.cmd(b"AT+FILEHTTPACTION=1,10,2,text.txt", OK)
    await port.expect(b"\r\n+FILEHTTPSTAT: 1,1,10\r\n")
    assert origin.requests[1].body == content[:10]
    assert origin.requests[1].headers["content-type"] == "application/json"


async def test_filehttpaction_errors(make_emu: EmuFactory, origin: Origin) -> None:
    emu, port = await make_emu()
    await port.cmd(b"AT+FILEHTTPACTION=0,0,524288", b"\r\n+CME ERROR: 1001\r\n")
    await port.cmd(b"AT+FILEHTTPSACTION=0,0,524288", b"\r\n+CME ERROR: 1001\r\n")
    await port.cmd(b"AT+XIIC=1", OK)
    await port.cmd(b"AT+FILEHTTPACTION=0,0,10", b"\r\n+CME ERROR: 3\r\n")  # no url
    await set_url(port, origin, b"x")
    (emu.fs_root / "small.txt").write_bytes(b"12345")
    for bad in (
        b"=0,0,0",
        b"=0,0,524289",
        b"=0,0",
        b"=2,0,1",
        b"=1,10,0,small.txt",  # file shorter than length
        b"=1,5,5,small.txt",
        b"=1,5,0,nofile.txt",
        b"=1,5,0,../small.txt",
    ):
        await port.cmd(b"AT+FILEHTTPACTION" + bad, b"\r\n+CME ERROR: 50\r\n")


async def test_manual_9_20_filehttpsaction(
    emu_port: tuple[Emulator, Port], make_origin: OriginFactory, tls: TLSMaterial
) -> None:
    emu, port = emu_port
    secure_origin = await make_origin(tls.server_context())
    secure_origin.route("/icbc/perbank/f.bin", Reply(200, body=pattern(3000)))
    await set_url(port, secure_origin, b"f.bin", b"HTTPS")
    await port.cmd(b"AT+FILEHTTPSACTION=0,0,1000", OK)
    await port.expect(b"\r\n+FILEHTTPSTAT: 0,1,1000\r\n")
    assert (emu.fs_root / "f.bin").read_bytes() == pattern(3000)[:1000]
    assert secure_origin.sni == ["mybank.icbc.com.cn"]
