"""Throwaway TLS material for tests, benchmarks and the demo.

:class:`TLSFiles` bundles a freshly generated private CA (via ``trustme``), a server
certificate issued for the local host names, and a client certificate for mutual TLS.
Everything is kept as PEM bytes; :meth:`TLSFiles.write_to` drops the files the N58's
``AT+HTTPSCFG`` expects (CA cert, client cert, client key).
"""

from __future__ import annotations

import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import trustme

__all__ = ["CLIENT_COMMON_NAME", "TLSFiles"]

#: Common name of the client certificate issued by :meth:`TLSFiles.generate`.
CLIENT_COMMON_NAME = "n58aio-client"


@dataclass(frozen=True)
class TLSFiles:
    """PEM-encoded CA, server and client certificates (all issued by the same CA)."""

    ca_cert_pem: bytes
    server_cert_chain_pem: bytes
    server_key_pem: bytes
    client_cert_pem: bytes
    client_key_pem: bytes

    @classmethod
    def generate(cls, hostnames: Sequence[str] = ("localhost", "127.0.0.1", "::1")) -> TLSFiles:
        """Create a new CA issuing a server cert for *hostnames* and a client cert."""
        if not hostnames:
            raise ValueError("at least one hostname is required")
        ca = trustme.CA(organization_name="n58aio test CA")
        server = ca.issue_cert(*hostnames, organization_name="n58aio origin")
        client = ca.issue_cert(
            f"{CLIENT_COMMON_NAME}@example.invalid",
            common_name=CLIENT_COMMON_NAME,
            organization_name="n58aio",
        )
        return cls(
            ca_cert_pem=ca.cert_pem.bytes(),
            server_cert_chain_pem=b"".join(blob.bytes() for blob in server.cert_chain_pems),
            server_key_pem=server.private_key_pem.bytes(),
            client_cert_pem=b"".join(blob.bytes() for blob in client.cert_chain_pems),
            client_key_pem=client.private_key_pem.bytes(),
        )

    def write_to(
        self, directory: Path, *, ca: str = "ca.pem", cert: str = "cc.pem", key: str = "ck.pem"
    ) -> None:
        """Write the CA cert, client cert and client key into *directory* (created if needed)."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / ca).write_bytes(self.ca_cert_pem)
        (directory / cert).write_bytes(self.client_cert_pem)
        (directory / key).write_bytes(self.client_key_pem)

    def server_context(self, *, require_client_cert: bool = False) -> ssl.SSLContext:
        """Server-side context presenting the server cert; optionally demanding a client cert."""
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        _load_chain(ctx, self.server_cert_chain_pem, self.server_key_pem)
        if require_client_cert:
            ctx.load_verify_locations(cadata=self.ca_cert_pem.decode("ascii"))
            ctx.verify_mode = ssl.CERT_REQUIRED
        return ctx

    def client_context(self, *, client_cert: bool = True) -> ssl.SSLContext:
        """Client-side context trusting the CA, presenting the client cert if asked for."""
        ctx = ssl.create_default_context(
            ssl.Purpose.SERVER_AUTH, cadata=self.ca_cert_pem.decode("ascii")
        )
        if client_cert:
            _load_chain(ctx, self.client_cert_pem, self.client_key_pem)
        return ctx


def _load_chain(ctx: ssl.SSLContext, chain_pem: bytes, key_pem: bytes) -> None:
    # ssl can only load certificates from files; trustme handles the temporary file.
    trustme.LeafCert(key_pem, chain_pem, []).configure_cert(ctx)
