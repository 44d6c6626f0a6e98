"""TLS settings of the module's HTTPS stack (``AT+HTTPSCFG``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import TLSConfigError
from ..wire import check_text

__all__ = ["TLSConfig", "TLSVersion"]

TLSVersion = Literal["SSL3.0", "TLS1.0", "TLS1.1", "TLS1.2"]
_VERSIONS: dict[str, int] = {"SSL3.0": 0, "TLS1.0": 1, "TLS1.1": 2, "TLS1.2": 3}


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """How the module's TLS client checks the server and presents itself.

    Certificates and keys are *file names on the module's file system* (upload them first),
    as ``AT+HTTPSCFG`` takes them. Server verification is the default (``verify=True`` maps to
    authmode 1 and needs ``ca_cert``); a client certificate (``client_cert`` and ``client_key``)
    selects authmode 2. Turning verification off must be explicit: :meth:`insecure`.
    """

    version: TLSVersion = "TLS1.2"
    verify: bool = True
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    cipher_suite: str | None = None

    @classmethod
    def insecure(cls, version: TLSVersion = "TLS1.2") -> TLSConfig:
        """No server verification (authmode 0). Logged as a warning when used."""
        return cls(version=version, verify=False)

    @property
    def auth_mode(self) -> int:
        """The ``authmode`` value: 0 none, 1 server, 2 server and client."""
        if not self.verify:
            return 0
        return 2 if self.client_cert else 1

    def commands(self) -> list[str]:
        """The ``AT+HTTPSCFG`` lines that apply this configuration, validated."""
        if self.version not in _VERSIONS:
            raise TLSConfigError(f"unknown TLS version {self.version!r}")
        if self.verify and not self.ca_cert:
            raise TLSConfigError(
                "server verification needs ca_cert, the CA certificate's file name on the "
                "module; use TLSConfig.insecure() to turn verification off explicitly"
            )
        if bool(self.client_cert) != bool(self.client_key):
            raise TLSConfigError("client_cert and client_key go together")
        if self.client_cert and not self.verify:
            raise TLSConfigError("a client certificate needs verify=True (authmode 2)")
        lines = [
            f'AT+HTTPSCFG="sslversion",{_VERSIONS[self.version]}',
            f'AT+HTTPSCFG="authmode",{self.auth_mode}',
        ]
        for kind, value in (
            ("ciphersuite", self.cipher_suite),
            ("cacert", self.ca_cert),
            ("clientcert", self.client_cert),
            ("clientkey", self.client_key),
        ):
            if value is not None:
                check_text(value, kind, max_length=255)
                if '"' in value or "," in value or not value:
                    raise TLSConfigError(f"unusable {kind} value {value!r}")
                lines.append(f'AT+HTTPSCFG="{kind}","{value}"')
        return lines
