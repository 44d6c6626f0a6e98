"""Tests for the local origin server used by tests, benchmarks and the demo."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import ssl
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from n58aio.emulator.origin import OriginServer, pattern_bytes, pattern_sha256
from n58aio.emulator.tlsfiles import CLIENT_COMMON_NAME, TLSFiles

# -- helpers / fixtures ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls() -> TLSFiles:
    return TLSFiles.generate()


@pytest.fixture
async def origin(tmp_path: Path) -> AsyncIterator[OriginServer]:
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "data.bin").write_bytes(bytes(range(256)) * 40)
    (tmp_path / "secret.txt").write_text("top secret")
    async with OriginServer(files=tmp_path / "files") as server:
        yield server


@pytest.fixture
async def client(origin: OriginServer) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=origin.url(), trust_env=False) as c:
        yield c


async def raw(origin: OriginServer, request: bytes, *, tls: ssl.SSLContext | None = None) -> bytes:
    """Send *request* verbatim and read until the server closes the connection."""
    reader, writer = await asyncio.open_connection(origin.host, origin.port, ssl=tls)
    try:
        writer.write(request)
        async with asyncio.timeout(5):
            return await reader.read(-1)
    finally:
        writer.close()


def split_response(data: bytes) -> tuple[bytes, dict[bytes, bytes], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


# -- pattern -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("offset", "size"),
    [(0, 0), (0, 1), (7, 300), (250, 2), (64255, 3), (100_000, 200_000), (16_449_530, 20)],
)
def test_pattern_bytes_is_position_addressed(offset: int, size: int) -> None:
    assert pattern_bytes(offset, size) == pattern_bytes(0, offset + size)[offset:]
    assert len(pattern_bytes(offset, size)) == size


def test_pattern_detects_misplaced_ranges() -> None:
    ref = pattern_bytes(0, 4096)
    for shift in (1, 251, 256, 64256, 65536):
        assert pattern_bytes(shift, 4096) != ref
    with pytest.raises(ValueError):
        pattern_bytes(-1, 1)


@pytest.mark.parametrize("size", [0, 1, 251, 64256, 64257, 1_000_003])
def test_pattern_sha256(size: int) -> None:
    assert pattern_sha256(size) == hashlib.sha256(pattern_bytes(0, size)).hexdigest()


# -- /bytes ------------------------------------------------------------------------------


async def test_bytes_full_with_sha(origin: OriginServer, client: httpx.AsyncClient) -> None:
    r = await client.get("/bytes/100000?sha256=1")
    assert r.status_code == 200
    assert r.headers["content-length"] == "100000"
    assert r.headers["x-content-sha256"] == pattern_sha256(100000)
    assert r.content == pattern_bytes(0, 100000)
    assert origin.requests[-1].method == "GET"
    assert origin.requests[-1].target == "/bytes/100000?sha256=1"


async def test_bytes_large_stream(client: httpx.AsyncClient) -> None:
    size = 5_000_000
    digest = hashlib.sha256()
    async with client.stream("GET", f"/bytes/{size}") as r:
        async for piece in r.aiter_raw():
            digest.update(piece)
    assert digest.hexdigest() == pattern_sha256(size)


@pytest.mark.parametrize(
    ("range_", "start", "end"),
    [
        ("bytes=10-19", 10, 19),
        ("bytes=990-", 990, 999),
        ("bytes=-5", 995, 999),
        ("bytes=5-5000", 5, 999),
    ],
)
async def test_bytes_range(client: httpx.AsyncClient, range_: str, start: int, end: int) -> None:
    r = await client.get("/bytes/1000", headers={"Range": range_})
    assert r.status_code == 206
    assert r.headers["content-range"] == f"bytes {start}-{end}/1000"
    assert r.headers["content-length"] == str(end - start + 1)
    assert r.content == pattern_bytes(start, end - start + 1)


async def test_bytes_range_unsatisfiable(client: httpx.AsyncClient) -> None:
    r = await client.get("/bytes/1000", headers={"Range": "bytes=1000-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == "bytes */1000"


async def test_bytes_invalid_range_is_ignored(client: httpx.AsyncClient) -> None:
    r = await client.get("/bytes/100", headers={"Range": "bytes=0-1,5-6"})
    assert r.status_code == 200
    assert r.content == pattern_bytes(0, 100)


async def test_bytes_chunked(client: httpx.AsyncClient, origin: OriginServer) -> None:
    r = await client.get("/bytes/1000?chunked=1&chunk=100")
    assert r.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in r.headers
    assert r.content == pattern_bytes(0, 1000)
    data = await raw(
        origin,
        b"GET /bytes/250?chunked=1&chunk=100 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    )
    _, headers, body = split_response(data)
    assert headers[b"transfer-encoding"] == b"chunked"
    assert body.startswith(b"64\r\n" + pattern_bytes(0, 100) + b"\r\n64\r\n")
    assert body.endswith(b"32\r\n" + pattern_bytes(200, 50) + b"\r\n0\r\n\r\n")


async def test_bytes_close_delimited(origin: OriginServer) -> None:
    data = await raw(origin, b"GET /bytes/70000?close=1 HTTP/1.1\r\nHost: x\r\n\r\n")
    status, headers, body = split_response(data)
    assert status == b"HTTP/1.1 200 OK"
    assert b"content-length" not in headers
    assert b"transfer-encoding" not in headers
    assert headers[b"connection"] == b"close"
    assert body == pattern_bytes(0, 70000)


async def test_bytes_close_delimited_httpx(client: httpx.AsyncClient) -> None:
    r = await client.get("/bytes/3000?close=1")
    assert r.content == pattern_bytes(0, 3000)


@pytest.mark.parametrize("query", ["cut=500", "cut=500&chunked=1"])
async def test_bytes_cut(client: httpx.AsyncClient, origin: OriginServer, query: str) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        await client.get(f"/bytes/10000?{query}")
    data = await raw(origin, f"GET /bytes/10000?{query} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    _, headers, body = split_response(data)
    if b"content-length" in headers:
        assert headers[b"content-length"] == b"10000"
        assert body == pattern_bytes(0, 500)
    else:
        assert not body.endswith(b"0\r\n\r\n")


async def test_bytes_delay_and_drip(client: httpx.AsyncClient) -> None:
    t0 = time.monotonic()
    r = await client.get("/bytes/10?delay=0.2")
    assert r.content == pattern_bytes(0, 10)
    assert time.monotonic() - t0 >= 0.19
    t0 = time.monotonic()
    r = await client.get("/bytes/40?drip=0.05&chunk=10")
    assert r.content == pattern_bytes(0, 40)
    assert time.monotonic() - t0 >= 0.14


async def test_head(client: httpx.AsyncClient) -> None:
    r = await client.head("/bytes/1234?sha256=1")
    assert r.status_code == 200
    assert r.headers["content-length"] == "1234"
    assert r.headers["x-content-sha256"] == pattern_sha256(1234)
    assert r.content == b""
    r = await client.head("/status/503")
    assert (r.status_code, r.headers["content-length"], r.content) == (503, "24", b"")


async def test_bad_options(client: httpx.AsyncClient) -> None:
    assert (await client.get("/bytes/10?chunk=0")).status_code == 400
    assert (await client.get("/bytes/10?delay=x")).status_code == 400
    assert (await client.get("/bytes/xyz")).status_code == 400
    assert (await client.post("/bytes/10")).status_code == 405


# -- other routes ------------------------------------------------------------------------


@pytest.mark.parametrize("code", [200, 201, 404, 418, 500, 503])
async def test_status(client: httpx.AsyncClient, code: int) -> None:
    r = await client.get(f"/status/{code}")
    assert r.status_code == code
    assert r.text == f"{code} {r.reason_phrase}\n"
    assert (await client.post(f"/status/{code}", content=b"x")).status_code == code


async def test_status_no_content(client: httpx.AsyncClient) -> None:
    r = await client.get("/status/204")
    assert (r.status_code, r.content, "content-length" in r.headers) == (204, b"", False)


async def test_echo_custom_method(origin: OriginServer, client: httpx.AsyncClient) -> None:
    r = await client.request(
        "PROPFIND",
        "/echo?x=1",
        headers={"X-Mixed-Case": "Value 1", "Content-Type": "text/xml"},
        content=b"<a/>\x00\xff",
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    doc = r.json()
    assert set(doc) == {"method", "target", "headers", "body_b64", "body_len", "content_type"}
    assert doc["method"] == "PROPFIND"
    assert doc["target"] == "/echo?x=1"
    assert ["X-Mixed-Case", "Value 1"] in doc["headers"]
    assert base64.b64decode(doc["body_b64"]) == b"<a/>\x00\xff"
    assert doc["body_len"] == 6
    assert doc["content_type"] == "text/xml"
    rec = origin.requests[-1]
    assert rec.body == b"<a/>\x00\xff"
    assert (b"X-Mixed-Case", b"Value 1") in rec.headers
    assert rec.header("x-mixed-case") == "Value 1"


@pytest.mark.parametrize("method", ["PATCH", "DELETE", "PUT", "OPTIONS", "GET"])
async def test_echo_methods(client: httpx.AsyncClient, method: str) -> None:
    r = await client.request(method, "/echo")
    assert r.json()["method"] == method
    assert r.json()["content_type"] is None


async def test_upload(origin: OriginServer, client: httpx.AsyncClient) -> None:
    body = pattern_bytes(3, 300_000)
    r = await client.put("/upload/big.bin", content=body)
    assert r.status_code == 201
    assert r.json() == {
        "name": "big.bin",
        "size": 300_000,
        "sha256": hashlib.sha256(body).hexdigest(),
    }
    r = await client.post("/upload/form", data={"a": "b"})
    assert r.status_code == 201
    assert origin.uploads == {"big.bin": body, "form": b"a=b"}
    assert (await client.get("/upload/form")).status_code == 405


async def test_files(client: httpx.AsyncClient) -> None:
    content = bytes(range(256)) * 40
    r = await client.get("/files/data.bin?sha256=1")
    assert r.content == content
    assert r.headers["x-content-sha256"] == hashlib.sha256(content).hexdigest()
    r = await client.get("/files/data.bin?chunked=1", headers={"Range": "bytes=100-299"})
    assert (r.status_code, r.content) == (206, content[100:300])
    assert r.headers["content-range"] == "bytes 100-299/10240"
    assert (await client.get("/files/nope.bin")).status_code == 404


async def test_files_traversal(origin: OriginServer) -> None:
    for target in (b"/files/../secret.txt", b"/files/%2e%2e/secret.txt", b"/files/..%2fsecret.txt"):
        data = await raw(
            origin, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        )
        assert data.startswith(b"HTTP/1.1 404 "), target


async def test_files_without_directory() -> None:
    async with (
        OriginServer() as server,
        httpx.AsyncClient(base_url=server.url(), trust_env=False) as c,
    ):
        assert (await c.get("/files/x")).status_code == 404


async def test_auth(client: httpx.AsyncClient) -> None:
    r = await client.get("/auth")
    assert r.status_code == 401
    assert "Basic" in r.headers["www-authenticate"]
    r = await client.get("/auth", headers={"Authorization": "Bearer secret-token"})
    assert (r.status_code, r.text) == (200, "ok")
    assert (await client.get("/auth", auth=("user", "pass"))).status_code == 200
    assert (await client.get("/auth", auth=("user", "nope"))).status_code == 401
    r = await client.get("/auth", headers={"Authorization": "Bearer wrong"})
    assert r.status_code == 401


async def test_redirect(client: httpx.AsyncClient) -> None:
    r = await client.get("/redirect")
    assert (r.status_code, r.headers["location"]) == (302, "/bytes/10")
    r = await client.get("/redirect", follow_redirects=True)
    assert (r.status_code, r.content) == (200, pattern_bytes(0, 10))
    r = await client.get("/redirect?code=301&to=/status/201")
    assert (r.status_code, r.headers["location"]) == (301, "/status/201")
    assert (await client.get("/redirect?to=%0D%0AX-Evil:1")).status_code == 400
    assert (await client.get("/redirect?code=200")).status_code == 400


async def test_not_found(client: httpx.AsyncClient) -> None:
    assert (await client.get("/nope")).status_code == 404
    assert (await client.get("/")).status_code == 404


# -- connection handling -----------------------------------------------------------------


async def test_keep_alive_reuse(origin: OriginServer, client: httpx.AsyncClient) -> None:
    await client.get("/bytes/10")
    await client.get("/status/200")
    assert origin.connections_opened == 1
    assert origin.requests[0].connection_id == origin.requests[1].connection_id
    await client.get("/bytes/10", headers={"Connection": "close"})
    await client.get("/bytes/10")
    assert origin.connections_opened == 2
    assert origin.requests[3].connection_id != origin.requests[2].connection_id


async def test_client_connection_close(origin: OriginServer) -> None:
    data = await raw(origin, b"GET /bytes/5 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    _, headers, body = split_response(data)
    assert headers[b"connection"] == b"close"
    assert body == pattern_bytes(0, 5)


async def test_pipelined_requests(origin: OriginServer) -> None:
    req = b"GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n"
    data = await raw(
        origin, req + req + b"GET /bytes/4 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    assert data.count(b"HTTP/1.1 200 OK") == 3
    assert data.endswith(pattern_bytes(0, 4))
    assert len({r.connection_id for r in origin.requests}) == 1


async def test_protocol_error_gives_400(origin: OriginServer) -> None:
    data = await raw(origin, b"THIS IS NOT HTTP\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in data


async def test_expect_100_continue(origin: OriginServer) -> None:
    reader, writer = await asyncio.open_connection(origin.host, origin.port)
    writer.write(
        b"PUT /upload/x HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
        b"Expect: 100-continue\r\nConnection: close\r\n\r\n"
    )
    async with asyncio.timeout(5):
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 100 ")
        writer.write(b"abc")
        assert (await reader.read(-1)).startswith(b"HTTP/1.1 201 ")
    writer.close()
    assert origin.uploads["x"] == b"abc"


async def test_idle_timeout() -> None:
    async with OriginServer(idle_timeout=0.2) as server:
        reader, writer = await asyncio.open_connection(server.host, server.port)
        async with asyncio.timeout(3):
            assert await reader.read(-1) == b""
        writer.close()
        assert server.open_connections == 0


async def test_close_aborts_connections() -> None:
    errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    server = OriginServer()
    await server.start()
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(b"GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n")
    await reader.readuntil(b"\r\n\r\n")
    assert server.open_connections == 1
    stalled = asyncio.create_task(
        raw(server, b"GET /bytes/100?delay=10 HTTP/1.1\r\nHost: x\r\n\r\n")
    )
    for _ in range(500):
        if server.open_connections == 2:
            break
        await asyncio.sleep(0.01)
    await server.close()
    assert server.open_connections == 0
    await stalled
    assert [t for t in asyncio.all_tasks() if t is not asyncio.current_task()] == []
    async with asyncio.timeout(3):
        rest = await reader.read(-1)
    assert rest == pattern_bytes(0, 1)
    writer.close()
    await asyncio.sleep(0.01)
    assert errors == []


def test_url_requires_start() -> None:
    with pytest.raises(RuntimeError):
        OriginServer().url()
    assert OriginServer(host="::1", port=1).scheme == "http"


# -- TLS ---------------------------------------------------------------------------------


async def test_https(tls: TLSFiles) -> None:
    async with (
        OriginServer(tls=tls) as server,
        httpx.AsyncClient(verify=tls.client_context(client_cert=False), trust_env=False) as c,
    ):
        assert server.url("bytes/5").startswith("https://127.0.0.1:")
        r = await c.get(server.url("/bytes/70000?sha256=1"))
        assert r.content == pattern_bytes(0, 70000)
        r = await c.get(server.url("/bytes/10"), headers={"Range": "bytes=2-3"})
        assert r.content == pattern_bytes(2, 2)
        assert server.connections_opened == 1
        assert server.requests[0].client_cert_subject is None
        with pytest.raises(httpx.RemoteProtocolError):
            await c.get(server.url("/bytes/100000?cut=10"))


async def test_https_close_delimited(tls: TLSFiles) -> None:
    async with OriginServer(tls=tls) as server:
        data = await raw(
            server, b"GET /bytes/5000?close=1 HTTP/1.1\r\nHost: x\r\n\r\n", tls=tls.client_context()
        )
        assert split_response(data)[2] == pattern_bytes(0, 5000)


async def test_https_client_cert(tls: TLSFiles) -> None:
    async with OriginServer(tls=tls, require_client_cert=True) as server:
        async with httpx.AsyncClient(verify=tls.client_context(), trust_env=False) as c:
            r = await c.get(server.url("/echo"))
            assert r.status_code == 200
        subject = server.requests[0].client_cert_subject
        assert subject is not None and f"CN={CLIENT_COMMON_NAME}" in subject
        no_cert = tls.client_context(client_cert=False)
        async with httpx.AsyncClient(verify=no_cert, trust_env=False) as c:
            with pytest.raises(httpx.TransportError):
                await c.get(server.url("/echo"))
        assert len(server.requests) == 1


async def test_close_while_tls_shutdown_pending(tls: TLSFiles) -> None:
    errors: list[dict[str, object]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: errors.append(ctx))
    server = OriginServer(tls=tls)
    await server.start()
    reader, writer = await asyncio.open_connection(
        server.host, server.port, ssl=tls.client_context()
    )
    writer.write(b"GET /bytes/100?cut=10 HTTP/1.1\r\nHost: x\r\n\r\n")
    async with asyncio.timeout(5):
        data = await reader.read(-1)  # server sent close_notify; we never answer it
    assert data.endswith(pattern_bytes(0, 10))
    await server.close()
    await asyncio.sleep(0.05)
    writer.transport.abort()
    assert errors == []
    assert server.open_connections == 0


def test_tls_files(tmp_path: Path, tls: TLSFiles) -> None:
    tls.write_to(tmp_path / "certs")
    assert (tmp_path / "certs" / "ca.pem").read_bytes() == tls.ca_cert_pem
    assert (tmp_path / "certs" / "cc.pem").read_bytes() == tls.client_cert_pem
    assert (tmp_path / "certs" / "ck.pem").read_bytes() == tls.client_key_pem
    tls.write_to(tmp_path, ca="a", cert="b", key="c")
    assert (tmp_path / "a").read_bytes().startswith(b"-----BEGIN CERTIFICATE-----")
    assert b"PRIVATE KEY" in tls.server_key_pem
    ctx = tls.server_context(require_client_cert=True)
    assert ctx.verify_mode == ssl.CERT_REQUIRED
    assert tls.server_context().verify_mode == ssl.CERT_NONE
    with pytest.raises(ValueError):
        TLSFiles.generate(())
