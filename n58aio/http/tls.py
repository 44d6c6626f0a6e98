"""TLS settings of the module's HTTPS stack (``AT+HTTPSCFG``), for both firmware generations.

Chapter 9 of the manual (issue 1.x firmware): ``sslversion`` 0-3 (SSL 3.0 to TLS 1.2) and
``ciphersuite``. The v2.0 manual: ``sslversion`` 4 (TLS 1.3, with TLS 1.2 still allowed) and
``sni`` 0/1, no ``ciphersuite``. Neither manual says how a setting is cleared: see
:meth:`TLSConfig.reset_commands`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..errors import TLSConfigError
from ..wire import check_text

__all__ = ["TLSConfig", "TLSVersion"]

TLSVersion = Literal["SSL3.0", "TLS1.0", "TLS1.1", "TLS1.2", "TLS1.3"]
_VERSIONS: dict[str, int] = {"SSL3.0": 0, "TLS1.0": 1, "TLS1.1": 2, "TLS1.2": 3, "TLS1.3": 4}


def _line(kind: str, value: str | int) -> str:
    """One ``AT+HTTPSCFG`` line: the type quoted, a string value quoted, a number bare."""
    shown = str(value) if isinstance(value, int) else f'"{value}"'
    return f'AT+HTTPSCFG="{kind}",{shown}'


@dataclass(frozen=True, slots=True)
class TLSConfig:
    """How the module's TLS client checks the server and presents itself.

    Certificates and keys are *file names on the module's file system* (upload them first),
    as ``AT+HTTPSCFG`` takes them. Server verification is the default (``verify=True`` maps to
    authmode 1 and needs ``ca_cert``); a client certificate (``client_cert`` and ``client_key``)
    selects authmode 2. Turning verification off must be explicit: :meth:`insecure`.

    ``version`` is the lowest protocol version allowed (``sslversion``); ``"TLS1.3"``
    (sslversion 4, v2.0 firmware only) allows TLS 1.3 and TLS 1.2. ``cipher_suite`` (chapter-9
    firmware only) is passed as given. ``sni`` (v2.0 firmware only): True names the host in the
    handshake, False does not; None sends no ``sni`` line (see :meth:`reset_commands`).
    """

    version: TLSVersion = "TLS1.2"
    verify: bool = True
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None
    cipher_suite: str | None = None
    sni: bool | None = None

    @classmethod
    def insecure(cls, version: TLSVersion = "TLS1.2", *, sni: bool | None = None) -> TLSConfig:
        """No server verification (authmode 0). Logged as a warning when used."""
        return cls(version=version, verify=False, sni=sni)

    @property
    def auth_mode(self) -> int:
        """The ``authmode`` value: 0 none, 1 server, 2 server and client."""
        if not self.verify:
            return 0
        return 2 if self.client_cert else 1

    def failure_hint(self) -> str:
        """What to check when a link with these settings fails: the module answers a failed
        HTTPS setup with a bare ``ERROR``, the same for a refused connection, a failed
        handshake and a certificate it does not accept (the one text of every such error)."""
        if not self.verify:
            return "no TCP connection or the TLS handshake failed; verification is off"
        return (
            "no TCP connection, or the TLS handshake or the certificate check failed: is "
            f"{self.ca_cert!r} on the module the CA that signed the server's certificate?"
        )

    def commands(self) -> list[str]:
        """The ``AT+HTTPSCFG`` lines that apply this configuration, validated.

        Every line must be answered ``OK``: a refusal means the module cannot do what was asked
        (``"TLS1.3"`` or ``sni`` on chapter-9 firmware, ``cipher_suite`` on v2.0 firmware).
        """
        self._validate()
        lines = [
            _line("sslversion", _VERSIONS[self.version]),
            _line("authmode", self.auth_mode),
        ]
        for kind, value in (
            ("ciphersuite", self.cipher_suite),
            ("cacert", self.ca_cert),
            ("clientcert", self.client_cert),
            ("clientkey", self.client_key),
        ):
            if value is not None:
                lines.append(_line(kind, value))
        if self.sni is not None:
            lines.append(_line("sni", int(self.sni)))
        return lines

    def reset_commands(self) -> list[str]:
        """Lines that put every setting this configuration leaves unset back to its default.

        Send them after :meth:`commands`, so that nothing an earlier configuration set stays in
        force: ``ciphersuite`` (cleared), ``sni`` (0), the certificate files this configuration
        does not use (cleared). A string setting is cleared with an empty quoted value. ``ERROR``
        to one of these lines is not a failure: that firmware has no such setting (chapter 9
        has no ``sni``, v2.0 no ``ciphersuite``) or does not take the empty form; see
        docs/usage.md for why what may then stay behind cannot weaken verification.
        """
        self._validate()
        lines: list[str] = []
        if self.cipher_suite is None:
            lines.append(_line("ciphersuite", ""))
        if self.sni is None:
            lines.append(_line("sni", 0))
        if not self.verify:
            lines.append(_line("cacert", ""))
        if self.client_cert is None:
            lines += [_line("clientcert", ""), _line("clientkey", "")]
        return lines

    def _validate(self) -> None:
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
        if self.sni is not None and not isinstance(self.sni, bool):
            raise TLSConfigError(f"sni must be True, False or None, not {self.sni!r}")
        if self.cipher_suite is not None and (self.version == "TLS1.3" or self.sni is not None):
            raise TLSConfigError(
                "cipher_suite is a setting of chapter-9 firmware, which has neither TLS 1.3 nor "
                "sni; v2.0 firmware chooses its cipher suites itself"
            )
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
