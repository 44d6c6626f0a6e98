"""One answer for a certificate the module does not accept (issue #24, item 10): a request
raises ``TLSError``, a module-side transfer ``ModuleTransferError``, and all say the same thing
to check; the module itself answers a bare ``ERROR`` (or report state 11) for each."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import n58aio
from n58aio.emulator.origin import OriginServer
from n58aio.emulator.tlsfiles import TLSFiles

HINT = (
    "no TCP connection, or the TLS handshake or the certificate check failed: is 'ca.pem' on "
    "the module the CA that signed the server's certificate?"
)


async def test_a_foreign_ca_fails_every_https_path_with_the_same_hint(
    make_modem: Any, module_fs: Path, tls_origin: OriginServer
) -> None:
    TLSFiles.generate().write_to(module_fs)  # ca.pem now names another CA
    _, modem = await make_modem()
    tls = n58aio.TLSConfig(ca_cert="ca.pem")
    url = tls_origin.url("/bytes/100")

    with pytest.raises(n58aio.TLSError) as request_error:
        await modem.get(url, tls=tls)
    assert str(request_error.value).endswith(f"to AT+HTTPSSETUP ({HINT})")

    with pytest.raises(n58aio.ModuleTransferError) as get_error:
        await modem.module_get(url, tls=tls, timeout=20)
    assert str(get_error.value) == f"module download of {url}: download failed ({HINT})"

    with pytest.raises(n58aio.ModuleTransferError) as file_error:
        await modem.file_download(url, 0, 100, tls=tls)
    assert str(file_error.value) == f"AT+HTTPSSETUP refused: ERROR ({HINT})"

    assert tls_origin.requests == []  # no handshake got as far as a request
    response = await modem.get(url, tls=n58aio.TLSConfig.insecure())  # the server is fine
    assert response.status_code == 200
