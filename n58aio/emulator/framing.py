"""Byte layout of everything the module writes: results, information lines, URCs and data."""

from __future__ import annotations

from ..errors import CME_CODES

__all__ = [
    "CME_TEXT",
    "ERROR",
    "OK",
    "OK_AFTER_INFO",
    "cme_error",
    "info",
    "line",
    "recv_chunk",
    "recv_header",
]

CRLF = b"\r\n"
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
#: ``OK`` right after information text: the real module writes no empty line between them
#: (captured: ``\r\n+XIIC:    0,0.0.0.0\r\nOK\r\n``; the v2.0 manual's tables agree).
OK_AFTER_INFO = b"OK\r\n"

#: Texts of the CME error codes (for ``AT+CMEE=2``): the manual's, from the client's one table.
CME_TEXT: dict[int, str] = {code: text for code, (text, _) in CME_CODES.items()}


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
