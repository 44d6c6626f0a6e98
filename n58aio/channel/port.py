"""Opening the serial port: a device path or a pyserial URL, under pyserial-asyncio."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable
from typing import Any, TypeVar

import serial

from ..errors import PortClosedError
from .transport import READ_SIZE, SerialPortTransport

__all__ = ["READ_SIZE", "open_port"]

P = TypeVar("P", bound=asyncio.Protocol)


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
    protocol = protocol_factory()
    return SerialPortTransport(loop, protocol, port), protocol
