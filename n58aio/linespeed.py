"""The serial line rate: the module boots at its auto-baud (or fixed) rate and forgets
``AT+IPR`` at power-off, so the host switches it after every boot.

:func:`switch_line_rate` sends ``AT+IPR=<rate>`` (the module answers ``OK`` at the old rate,
then listens at the new one), sets the host port to the same rate and proves the channel with a
probe. :func:`find_module` looks for the module at the rates it may be at (after a restart: the
initial one).
"""

from __future__ import annotations

import asyncio

import structlog

from .channel import ModemChannel
from .errors import CommandTimeout, InvalidValue, N58Error, PortClosedError

__all__ = ["IPR_RATES", "find_module", "initial_rate_for", "switch_line_rate"]

IPR_RATES = (
    1200, 2400, 4800, 9600, 14400, 19200, 28800, 33600, 38400, 57600, 115200,
    230400, 460800, 921600, 2166666,
)  # fmt: skip
"""Fixed rates ``AT+IPR`` accepts (v2.0 manual ch04)."""
AUTO_BAUD_RATE = 115200
"""The rate the host opens at when it wants a higher one: auto-baud detects up to it."""
FIND_TIMEOUT = 2.0
"""Seconds an ``AT`` waits for its answer while the module is looked for."""
SWITCH_SETTLE = 0.05
"""Seconds between the module's ``OK`` and the host's switch (the module switches after it)."""


def initial_rate_for(baudrate: int, initial: int | None) -> int:
    """The rate to open the port at: ``initial`` if given, else ``baudrate`` up to 115200."""
    if baudrate not in IPR_RATES:
        raise InvalidValue(f"baudrate {baudrate}: not a rate of AT+IPR ({IPR_RATES})")
    if initial is None:
        return min(baudrate, AUTO_BAUD_RATE)
    if initial not in IPR_RATES:
        raise InvalidValue(f"initial_baudrate {initial}: not a rate of AT+IPR")
    return initial


async def switch_line_rate(
    channel: ModemChannel, rate: int, log: structlog.typing.FilteringBoundLogger
) -> None:
    """Switch the module (``AT+IPR=<rate>``), then the port, and prove the channel."""
    if rate not in IPR_RATES:
        raise InvalidValue(f"baudrate {rate}: not a rate of AT+IPR")
    old = channel.baudrate
    await channel.command(f"AT+IPR={rate}")
    await asyncio.sleep(SWITCH_SETTLE + channel.line_time(8))
    channel.set_line_rate(rate)
    await channel.resync()
    log.info("line.switched", old=old, baudrate=rate)


async def find_module(
    channel: ModemChannel, rates: tuple[int, ...], log: structlog.typing.FilteringBoundLogger
) -> int:
    """Ask the module (``AT``, after a probe where the channel is out of step) at each of
    ``rates`` in turn and leave the port at the first that answers; raise the last
    :class:`CommandTimeout` when none does."""
    failure: N58Error | None = None
    for rate in dict.fromkeys(rates):
        if channel.baudrate != rate:
            channel.set_line_rate(rate)  # out of step: the AT below is preceded by a probe
        try:
            # not a forced probe: that would discard a response streaming meanwhile
            await channel.command("AT", timeout=FIND_TIMEOUT + channel.line_time(16))
        except PortClosedError:
            raise
        except N58Error as exc:
            failure = exc
            log.info("line.no_answer", baudrate=rate)
            continue
        return rate
    assert failure is not None
    raise failure if isinstance(failure, CommandTimeout) else CommandTimeout("probe", 0.0)
