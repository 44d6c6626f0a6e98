"""Byte layout of everything the module writes: results, information lines, URCs and data."""

from __future__ import annotations

__all__ = [
    "CME_TEXT",
    "ERROR",
    "OK",
    "cme_error",
    "info",
    "line",
    "recv_chunk",
    "recv_header",
]

CRLF = b"\r\n"
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"

#: Texts of the CME error codes the emulator uses (for ``AT+CMEE=2``).
CME_TEXT: dict[int, str] = {
    3: "operation not allowed",
    10: "SIM not inserted",
    11: "SIM PIN required",
    12: "SIM PUK required",
    16: "incorrect password",
    30: "no network service",
    4: "operation not supported",
    50: "incorrect parameters",
    100: "unknown",
    900: "APN, user or password refused by the network",
    1001: "PDP not active",
}


def line(text: str | bytes) -> bytes:
    """One line framed as ``<CR><LF>text<CR><LF>`` (final results and URCs)."""
    data = text.encode("utf-8", errors="surrogateescape") if isinstance(text, str) else text
    return CRLF + data + CRLF


def info(*lines: str) -> bytes:
    """Information text: the lines separated by CR LF, the block framed by CR LF."""
    return line("\r\n".join(lines))


def cme_error(code: int, cmee: int) -> bytes:
    """The final result for a CME error under the given ``AT+CMEE`` mode."""
    if cmee == 1:
        return line(f"+CME ERROR: {code}")
    if cmee == 2:
        return line(f"+CME ERROR: {CME_TEXT.get(code, 'unknown')}")
    return ERROR


def recv_header(report: str) -> bytes:
    """The recvmode 0 header sent once per response, e.g. ``<CR><LF>+HTTPRECV:<CR><LF>``."""
    return line(report + ":")


def recv_chunk(report: str, data: bytes, trailing_crlf: bool) -> bytes:
    """One recvmode 1 report: ``<CR><LF>+HTTPRECV: <len>,<data>`` and an optional CR LF."""
    head = f"\r\n{report}: {len(data)},".encode("ascii")
    return head + data + (CRLF if trailing_crlf else b"")
