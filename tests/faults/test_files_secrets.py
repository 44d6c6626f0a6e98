"""Key material uploaded with ``modem.files.install_tls`` never reaches a log line or an error,
even when its read-back is corrupted, its write fails, or a wire error hits the upload."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from conftest import ModemFactory
from test_secrets_and_tls import rendered_logs, secrets

import n58aio
from n58aio import TLSConfig
from n58aio.emulator.origin import OriginServer
from n58aio.emulator.tlsfiles import TLSFiles

__all__ = ["rendered_logs"]


async def test_installed_key_never_reaches_the_logs(
    make_modem: ModemFactory,
    tls_files: TLSFiles,
    module_fs: Path,
    tmp_path: Path,
    rendered_logs: io.StringIO,
) -> None:
    for name in ("ca.pem", "cc.pem", "ck.pem"):
        (module_fs / name).unlink()
    key = tmp_path / "device.key"
    key.write_bytes(tls_files.client_key_pem)
    cert = tmp_path / "device.crt"
    cert.write_bytes(tls_files.client_cert_pem)
    ca = tmp_path / "ca.pem"
    ca.write_bytes(tls_files.ca_cert_pem)
    errors: list[str] = []
    async with OriginServer(tls=tls_files, require_client_cert=True) as origin:
        emulator, modem = await make_modem()
        emulator.faults.corrupt_next_read(3)  # the read-back of the key fails: an error raised
        try:
            await modem.files.install_tls(ca=ca, client_cert=cert, client_key=key)
        except n58aio.N58Error as exc:
            errors.append(repr(exc))
        tls = await modem.files.install_tls(ca=ca, client_cert=cert, client_key=key)
        assert tls == TLSConfig(ca_cert="ca.pem", client_cert="device.crt", client_key="device.key")
        assert (module_fs / "device.key").read_bytes() == tls_files.client_key_pem
        response = await modem.get(f"https://localhost:{origin.port}/bytes/10", tls=tls)
        assert response.status_code == 200
        emulator.faults.garble_next(40)  # damage the echo of the next write's data
        try:
            await modem.files.write("again.key", key)
        except n58aio.N58Error as exc:
            errors.append(repr(exc))
        await modem.files.write("again.key", key)
    assert errors and "failed twice" in errors[0]
    text = rendered_logs.getvalue() + "\n".join(errors)
    assert "files.tls.installed" in text and "device.key" in text
    for secret in secrets(tls_files):
        assert secret not in text
    with pytest.raises(AssertionError):  # the check itself can fail: the key would be found
        assert secrets(tls_files)[-1] not in tls_files.client_key_pem.decode()
