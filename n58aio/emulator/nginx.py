"""nginx as a second origin: Debian's nginx, on a loopback port, with a config of its own.

:class:`NginxOrigin` writes a config file and a document root into a temporary directory and
runs ``nginx -g 'daemon off;'`` on 127.0.0.1 (HTTP, or HTTPS with a trustme certificate). The
config has ``gzip on`` (JSON and text), byte ranges, keep-alive and chunked responses. It
answers the content paths of :class:`~n58aio.emulator.origin.OriginServer`, so the same test
runs against both: ``/bytes/<n>`` (the pattern, as a static file), ``/json/<n>`` (the JSON
document) and ``/chunked/bytes/<n>``, ``/chunked/json/<n>`` (the same through nginx's SSI
filter, which drops ``Content-Length``: chunked on HTTP/1.1). Files are written when
:meth:`NginxOrigin.url` names them; query strings are ignored, as nginx ignores them for
static files. For conformance tests the access log keeps, byte for byte, each request's
``Host`` and ``X-Probe`` headers and, for ``POST /echo`` (which nginx reads through a proxy
to its own ``/echoed``), the file holding the body it received; a second server,
``virtual.test``, answers ``virtual.test`` to show which virtual host a request reached.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from .origin import pattern_bytes
from .origin_coding import json_document

if TYPE_CHECKING:
    from .tlsfiles import TLSFiles

__all__ = ["NginxOrigin", "NginxRequest", "find_nginx"]

_CONTENT = re.compile(r"/(?:chunked/)?(bytes|json)/([0-9]{1,10})(?:\?.*)?\Z")
_START_TIMEOUT = 10.0

_CONFIG = """\
worker_processes 1;
daemon off;
master_process on;
pid {run}/nginx.pid;
error_log {run}/error.log warn;
events {{ worker_connections 512; }}
http {{
    log_format n58aio escape=none '$connection\t$request_method\t$request_uri\t$status\t'
                      '$http_accept_encoding\t$http_range\t$http_host\t$http_x_probe\t'
                      '$request_body_file';
    access_log {run}/access.log n58aio;
    client_body_temp_path {run}/body;
    proxy_temp_path {run}/proxy;
    fastcgi_temp_path {run}/fastcgi;
    uwsgi_temp_path {run}/uwsgi;
    scgi_temp_path {run}/scgi;
    types {{ application/json json; text/plain txt; }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_timeout 60s;
    keepalive_requests 10000;
    gzip on;
    gzip_types application/json text/plain;
    gzip_min_length 256;
    gzip_vary on;
    gzip_proxied any;
    server {{
        listen 127.0.0.1:{port}{ssl};
        server_name localhost;
{tls}        root {root};
        location ~ ^/json/ {{ default_type application/json; }}
        location /chunked/ {{
            alias {root}/;
            ssi on;
            ssi_types *;
        }}
        location /chunked/json/ {{
            alias {root}/json/;
            default_type application/json;
            ssi on;
            ssi_types *;
        }}
        location = /echo {{
            client_body_in_file_only on;
            proxy_pass http://127.0.0.1:{port}/echoed;
        }}
        location = /echoed {{ return 200 "echoed\n"; }}
    }}
    server {{
        listen 127.0.0.1:{port}{ssl};
        server_name virtual.test;
{tls}        location / {{ return 200 "virtual.test\n"; }}
    }}
}}
"""


@dataclass(frozen=True, slots=True)
class NginxRequest:
    """One line of the access log."""

    connection: int
    method: str
    target: str
    status: int
    accept_encoding: str | None
    range: str | None
    host: str | None = None
    probe: str | None = None
    """The ``X-Probe`` header, its octets as latin-1 text."""
    body_file: str | None = None
    """Where nginx kept the request body (``POST /echo``)."""

    def body(self) -> bytes | None:
        """The request body nginx received (``POST /echo`` only), else None."""
        return None if self.body_file is None else Path(self.body_file).read_bytes()


def find_nginx() -> str | None:
    """The nginx binary (``/usr/sbin`` is often not on a user's PATH), or None."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class NginxOrigin:
    """An nginx origin on 127.0.0.1; ``async with NginxOrigin() as origin: origin.url(...)``.

    ``tls``: serve HTTPS with its server certificate (for localhost and 127.0.0.1).
    """

    def __init__(self, *, tls: TLSFiles | None = None, binary: str | None = None) -> None:
        self.tls = tls
        self.binary = binary or find_nginx()
        self.host = "127.0.0.1"
        self.port = 0
        self._dir: tempfile.TemporaryDirectory[str] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def scheme(self) -> Literal["http", "https"]:
        """``"https"`` when serving TLS, else ``"http"``."""
        return "https" if self.tls is not None else "http"

    @property
    def root(self) -> Path:
        """The document root."""
        if self._dir is None:
            raise RuntimeError("NginxOrigin is not started")
        return Path(self._dir.name) / "root"

    def url(self, path: str = "/") -> str:
        """Absolute URL for ``path``; a ``/bytes/<n>`` or ``/json/<n>`` file is written first."""
        if not path.startswith("/"):
            path = "/" + path
        match = _CONTENT.match(path)
        if match is not None:
            kind, size = match[1], int(match[2])
            target = self.root / kind / str(size)
            if not target.exists():
                target.parent.mkdir(exist_ok=True)
                target.parent.chmod(0o755)  # readable by nginx's worker whatever the umask
                data = pattern_bytes(0, size) if kind == "bytes" else json_document(size)
                target.write_bytes(data)
                target.chmod(0o644)
        return f"{self.scheme}://{self.host}:{self.port}{path}"

    def access_log(self) -> list[NginxRequest]:
        """The requests logged so far, oldest first (nginx logs a request once answered)."""
        log = self.root.parent / "run" / "access.log"
        if not log.exists():
            return []
        entries = []
        for line in log.read_bytes().decode("latin-1").splitlines():
            fields = [None if f in ("-", "") else f for f in line.split("\t")]
            connection, method, target, status, accept, rng, host, probe, body = fields
            entries.append(
                NginxRequest(
                    int(connection or 0),
                    method or "",
                    target or "",
                    int(status or 0),
                    accept,
                    rng,
                    host,
                    probe,
                    body,
                )
            )
        return entries

    @property
    def connections_opened(self) -> int:
        """Distinct connections in the access log (as ``OriginServer.connections_opened``)."""
        return len({entry.connection for entry in self.access_log()})

    def _launch(self) -> subprocess.Popen[bytes]:
        if self.binary is None:
            raise FileNotFoundError("nginx is not installed (Debian: apt-get install nginx-light)")
        self._dir = tempfile.TemporaryDirectory(prefix="n58aio-nginx-")
        base = Path(self._dir.name)
        base.chmod(0o755)  # nginx's worker drops root for nobody: the root must be readable
        run, root = base / "run", base / "root"
        for directory in (run, root):
            directory.mkdir()
            directory.chmod(0o755)  # mkdir's mode is cut by the umask
        tls = ""
        if self.tls is not None:
            (run / "cert.pem").write_bytes(self.tls.server_cert_chain_pem)
            (run / "key.pem").write_bytes(self.tls.server_key_pem)
            tls = (
                f"        ssl_certificate {run}/cert.pem;\n"
                f"        ssl_certificate_key {run}/key.pem;\n"
            )
        self.port = _free_port()
        config = _CONFIG.format(
            run=run, root=root, port=self.port, ssl=" ssl" if tls else "", tls=tls
        )
        (run / "nginx.conf").write_text(config)
        return subprocess.Popen(
            [self.binary, "-p", str(run), "-c", str(run / "nginx.conf")],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    async def start(self) -> None:
        """Write the config and run nginx; returns once it accepts connections."""
        self._process = await asyncio.to_thread(self._launch)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _START_TIMEOUT
        while True:
            if self._process.poll() is not None:
                error = (
                    self._process.stderr.read().decode(errors="replace")
                    if self._process.stderr
                    else ""
                )
                await self.close()
                raise RuntimeError(f"nginx exited at start: {error.strip()}")
            try:
                _, writer = await asyncio.open_connection(self.host, self.port)
            except OSError:
                if loop.time() > deadline:
                    await self.close()
                    raise RuntimeError("nginx did not accept connections within 10 s") from None
                await asyncio.sleep(0.02)
                continue
            writer.close()
            return

    async def close(self) -> None:
        """Stop nginx (its master and worker) and remove the directory."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()  # the master stops its worker on TERM
            try:
                await asyncio.to_thread(process.wait, 10)
            except subprocess.TimeoutExpired:
                process.kill()
                await asyncio.to_thread(process.wait)
        if process is not None and process.stderr is not None:
            process.stderr.close()
        if self._dir is not None:
            self._dir.cleanup()
            self._dir = None

    async def __aenter__(self) -> NginxOrigin:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()
