"""The module's TLS client: an SSL context built from ``AT+HTTPSCFG`` for one firmware profile.

Protocol versions: ``sslversion`` 1/2/3 allow TLS 1.0/1.1/1.2 up to TLS 1.2 on both profiles;
4 (v2.0 only) allows TLS 1.2 and 1.3; 0 (SSL 3.0) is not available from the host TLS stack.
``ciphersuite`` (chapter 9) restricts the TLS <= 1.2 cipher suites: a colon-separated list of
IANA codes (``0x009C``) or an OpenSSL cipher string. SNI: always the url host on chapter 9, only
with ``sni`` 1 on v2.0; without SNI the server certificate's name is checked after the
handshake, so verification is the same either way.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import ssl
import warnings
from typing import Any

from .config import Firmware
from .filesystem import FileSystemError, ModuleFS
from .state import TlsConfig

__all__ = [
    "ModuleTLSContext",
    "TLSSetupError",
    "module_tls_context",
    "names_host",
    "openssl_ciphers",
]

_VERSIONS = {
    1: (ssl.TLSVersion.TLSv1, ssl.TLSVersion.TLSv1_2),
    2: (ssl.TLSVersion.TLSv1_1, ssl.TLSVersion.TLSv1_2),
    3: (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_2),
    4: (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3),
}
_IANA_CODE = re.compile(r"0[xX][0-9A-Fa-f]{4}")


class TLSSetupError(Exception):
    """The TLS settings cannot make a context (the module fails the setup)."""


class ModuleTLSContext(ssl.SSLContext):
    """An SSL context that also carries the module's SNI and host-name rules.

    ``send_sni``: name the url host in the handshake. ``check_name``: the certificate must name
    the url host; done by OpenSSL with SNI, by :func:`names_host` after the handshake without.
    """

    send_sni: bool = True
    check_name: bool = False


def module_tls_context(cfg: TlsConfig, fs: ModuleFS, firmware: Firmware) -> ModuleTLSContext:
    """An SSL context following ``AT+HTTPSCFG``; raises TLSSetupError when it cannot be built.

    authmode 0: no verification; 1: verify the server against ``cacert`` and its host name;
    2: like 1 and present ``clientcert``/``clientkey``. Other files are not read.
    """
    if cfg.sslversion not in _VERSIONS:
        raise TLSSetupError("SSL 3.0 is not available")
    ctx = ModuleTLSContext(ssl.PROTOCOL_TLS_CLIENT)
    lowest, highest = _VERSIONS[cfg.sslversion]
    ctx.maximum_version = highest
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.minimum_version = lowest
    except (ValueError, ssl.SSLError):
        ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    if firmware == "ch9" and cfg.ciphersuite:
        try:
            ctx.set_ciphers(openssl_ciphers(cfg.ciphersuite))
        except ssl.SSLError as exc:
            raise TLSSetupError(f"unusable ciphersuite {cfg.ciphersuite!r}") from exc
    ctx.send_sni = firmware == "ch9" or cfg.sni == 1
    if cfg.authmode == 0:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx
    try:
        if not cfg.cacert:
            raise TLSSetupError("authmode needs a cacert")
        ctx.load_verify_locations(cafile=str(fs.path(cfg.cacert)))
        if cfg.authmode == 2:
            if not cfg.clientcert or not cfg.clientkey:
                raise TLSSetupError("authmode 2 needs clientcert and clientkey")
            ctx.load_cert_chain(str(fs.path(cfg.clientcert)), str(fs.path(cfg.clientkey)))
    except (OSError, ssl.SSLError, FileSystemError) as exc:
        raise TLSSetupError(f"bad TLS material: {exc}") from exc
    ctx.check_hostname = ctx.send_sni
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.check_name = True
    return ctx


def openssl_ciphers(value: str) -> str:
    """The OpenSSL cipher string for a ``ciphersuite`` value (IANA codes mapped to names)."""
    parts = value.split(":")
    if not all(_IANA_CODE.fullmatch(part) for part in parts):
        return value
    names = _iana_names()
    try:
        return ":".join(names[int(part, 16)] for part in parts)
    except KeyError as exc:
        raise ssl.SSLError(f"no cipher suite {value}") from exc


@functools.cache
def _iana_names() -> dict[int, str]:
    """IANA code -> OpenSSL name of every cipher suite the local OpenSSL knows."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.set_ciphers("ALL:COMPLEMENTOFALL:@SECLEVEL=0")
    return {int(c["id"]) & 0xFFFF: str(c["name"]) for c in ctx.get_ciphers()}


def names_host(peercert: dict[str, Any] | None, host: str) -> bool:
    """Does a verified peer certificate (``getpeercert()``) name ``host``?

    subjectAltName only (DNS names case-insensitively, a ``*`` allowed as the whole leftmost
    label; IP addresses by value), as OpenSSL's own check for certificates that have one.
    """
    if not peercert:
        return False
    entries = [(str(k), str(v)) for k, v in peercert.get("subjectAltName", ())]
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        wanted = host.rstrip(".").lower()
        return any(kind == "DNS" and _dns_match(name, wanted) for kind, name in entries)
    for kind, name in entries:
        if kind == "IP Address":
            try:
                if ipaddress.ip_address(name.strip()) == address:
                    return True
            except ValueError:
                continue
    return False


def _dns_match(pattern: str, host: str) -> bool:
    pattern = pattern.rstrip(".").lower()
    if not pattern.startswith("*."):
        return pattern == host
    first, dot, rest = host.partition(".")
    return bool(first) and bool(dot) and rest == pattern[2:] and "." in rest
