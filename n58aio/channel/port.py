"""Opening the serial port: a device path or a pyserial URL, under pyserial-asyncio."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import serial
import serial_asyncio

from ..errors import PortClosedError

__all__ = ["READ_SIZE", "open_port"]

P = TypeVar("P", bound=asyncio.Protocol)

READ_SIZE = 65536
"""Bytes asked of the port per read (pyserial-asyncio's default of 1 KiB costs throughput)."""


async def open_port(
    url: str, protocol_factory: Callable[[], P], **serial_options: Any
) -> tuple[asyncio.Transport, P]:
    """Open ``url`` (``/dev/ttyUSB0``, ``socket://host:port``, ``rfc2217://host:port``...) and
    connect it to a protocol made by ``protocol_factory``.

    ``serial_options`` go to ``serial.serial_for_url`` (``baudrate`` defaults to 115200).
    Raises :class:`~n58aio.errors.PortClosedError` when the port cannot be opened.
    """
    serial_options.setdefault("baudrate", 115200)
    loop = asyncio.get_running_loop()
    opener = functools.partial(serial.serial_for_url, url, **serial_options)
    try:
        port = await loop.run_in_executor(None, opener)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise PortClosedError(f"cannot open {url}: {exc}") from exc
    try:
        port.fileno()
    except Exception:
        from .threaded import connection_for_threaded_serial

        return await connection_for_threaded_serial(loop, protocol_factory, port)
    transport, protocol = await serial_asyncio.connection_for_serial(loop, protocol_factory, port)
    if hasattr(transport, "_max_read_size"):
        transport._max_read_size = READ_SIZE
    return transport, protocol
