"""From a booted (or booting) module to an attached one: SIM, registration, APN, data link.

:func:`bring_up` is what :meth:`n58aio.Modem.attach` runs; every step checks the module's state
first, so it is idempotent. :func:`read_status` is :meth:`n58aio.Modem.status`. Facts from the
v2.0 manual ch02 / ch04 and appendix H (see ``docs/power-on.md``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

from .channel import ModemChannel
from .commands.link import LinkStatus, parse_xiic
from .commands.network import (
    Registration,
    csq_dbm,
    parse_cesq_rsrp,
    parse_cops,
    parse_cpin,
    parse_csq,
    parse_registration,
    parse_value,
)
from .errors import (
    CommandError,
    CommandTimeout,
    InvalidValue,
    LinkRefusedError,
    NoSignalError,
    NoSimError,
    NotRegisteredError,
    RegistrationDeniedError,
    SimPinRequired,
    SimPukRequired,
    WrongPinError,
)

__all__ = ["BringUp", "ModemStatus", "OnStep", "bring_up", "read_status", "registration"]

POLL = 0.5


@dataclass(frozen=True)
class BringUp:
    """The parameters of one bring-up (kept to re-run it); secrets are left out of ``repr``."""

    apn: str | None = None
    user: str | None = None
    password: str | None = None
    pin: str | None = None

    def __repr__(self) -> str:
        secret = "<redacted>"
        return (
            f"BringUp(apn={self.apn!r}, user={self.user!r}, "
            f"password={secret if self.password else None}, pin={secret if self.pin else None})"
        )

    def check(self) -> None:
        """Refuse values that cannot be sent, before anything is written."""
        if self.pin is not None and not (self.pin.isdigit() and 4 <= len(self.pin) <= 8):
            raise InvalidValue("the PIN must be 4 to 8 digits")
        for name, value in (("apn", self.apn), ("user", self.user), ("password", self.password)):
            if value is None:
                continue
            if any(char in value for char in '",;\r\n') or len(value) > (
                100 if name == "apn" else 32
            ):
                what = "it" if name == "password" else repr(value)
                raise InvalidValue(
                    f"{name}: {what} holds a quote, comma, semicolon or line break, or is too "
                    "long (APN 100, user and password 32 characters)"
                )


@dataclass(frozen=True)
class ModemStatus:
    """One snapshot of the module: signal, registration, identities, data link."""

    rssi: int | None
    signal_dbm: int | None
    rsrp_dbm: int | None
    registration: str
    technology: str | None
    operator: str | None
    imei: str | None
    imsi: str | None
    iccid: str | None
    firmware: str | None
    link_up: bool
    address: str | None


async def _lines(channel: ModemChannel, command: str) -> list[str] | None:
    try:
        return (await channel.command(command)).lines
    except CommandError:
        return None


async def _wait_for_module(channel: ModemChannel, deadline: float, log: _Log) -> None:
    """``AT`` until ``OK``: at auto-baud the first ``AT`` wakes the module (ch02)."""
    while True:
        try:
            await channel.command("AT", timeout=2.0)
            return
        except (CommandTimeout, CommandError):
            if time.monotonic() >= deadline:
                raise
            log.info("bringup.waiting_for_module")
            await asyncio.sleep(POLL)


_NO_SIM = frozenset({None, "NO SIM", "NOT INSERTED", "SIM NOT INSERTED"})


async def _unlock_sim(channel: ModemChannel, pin: str | None, log: _Log) -> bool:
    """Unlock the SIM when it asks; True when the PIN was sent."""
    try:
        state = parse_cpin((await channel.command("AT+CPIN?")).lines)
    except CommandError as exc:
        if exc.code == 10 or "NO SIM" in exc.text.upper():
            raise NoSimError() from None
        raise
    if state in _NO_SIM:  # the captured N58 answer: "+CPIN: NO SIM", then OK
        raise NoSimError()
    if state == "READY":
        return False
    if state != "SIM PIN":  # SIM PUK, or a lock n58aio cannot open
        raise SimPukRequired()
    if pin is None:
        raise SimPinRequired()
    log.info("bringup.pin_sent")
    try:
        await channel.command(f'AT+CPIN="{pin}"')
    except CommandError:
        log.warning("bringup.pin_refused")
        raise WrongPinError() from None
    return True


async def registration(channel: ModemChannel) -> Registration:
    """The better of ``AT+CEREG?`` (LTE) and ``AT+CREG?``."""
    found: Registration | None = None
    for prefix in ("+CEREG", "+CREG"):
        lines = await _lines(channel, f"AT{prefix}?")
        reg = parse_registration(lines or [], prefix)
        if reg is not None and (found is None or reg.registered or reg.state == "denied"):
            if reg.registered:
                return reg
            found = reg if found is None or found.state != "denied" else found
    return found or Registration("unknown")


async def _wait_registered(
    channel: ModemChannel, deadline: float, timeout: float, log: _Log
) -> Registration:
    await _lines(channel, "AT+CEREG=3")  # reports with the reject cause (27.007), if accepted
    while True:
        reg = await registration(channel)
        if reg.registered:
            log.info("bringup.registered", state=reg.state, technology=reg.technology)
            return reg
        if reg.state == "denied":
            raise RegistrationDeniedError(reg.reject_cause)
        if time.monotonic() >= deadline:
            rssi = parse_csq(await _lines(channel, "AT+CSQ") or [])
            if rssi is None:
                raise NoSignalError(timeout)
            raise NotRegisteredError(reg.state, timeout)
        await asyncio.sleep(POLL)


async def _bring_link_up(
    channel: ModemChannel, params: BringUp, deadline: float, log: _Log, on_step: OnStep
) -> LinkStatus:
    status = parse_xiic((await channel.command("AT+XIIC?")).lines)
    if status.up:
        on_step("link", f"already up, address {status.address}")
        return status
    if params.apn is not None:
        await channel.command(f'AT+CGDCONT=1,"IP","{params.apn}"')
    if params.user is not None or params.password is not None:
        await channel.command(f'AT+XGAUTH=1,1,"{params.user or ""}","{params.password or ""}"')
    auth = ", with user and password" if params.user or params.password else ""
    on_step("apn", f"{params.apn}{auth}" if params.apn else f"the network's default{auth}")
    log.info("bringup.link", apn=params.apn)
    try:
        await channel.command("AT+XIIC=1")
    except CommandError as exc:
        raise LinkRefusedError(exc.code, params.apn) from None
    while True:
        status = parse_xiic((await channel.command("AT+XIIC?")).lines)
        if status.up:
            log.info("bringup.link_up", address=status.address)
            on_step("link", f"up, address {status.address}")
            return status
        if time.monotonic() >= deadline:
            raise LinkRefusedError(None, params.apn)
        await asyncio.sleep(POLL)


async def bring_up(
    channel: ModemChannel,
    params: BringUp,
    timeout: float,
    log: _Log,
    on_step: OnStep | None = None,
) -> LinkStatus:
    """Wait for the module, set error codes on, unlock the SIM, wait for the registration,
    set the APN and credentials and bring the data link up; each step only when needed.
    ``on_step(step, detail)`` is told each step done (see :data:`OnStep`)."""
    params.check()
    step = on_step or _no_step
    deadline = time.monotonic() + timeout
    await _wait_for_module(channel, deadline, log)
    log.info("bringup.module_answers")
    step("module", f"answers at {channel.baudrate} baud" if channel.baudrate else "answers")
    await channel.command("AT+CMEE=1")
    pin_sent = await _unlock_sim(channel, params.pin, log)
    log.info("bringup.sim_ready")
    step("sim", "ready, PIN accepted" if pin_sent else "ready")
    reg = await _wait_registered(channel, deadline, timeout, log)
    tech = f" ({reg.technology})" if reg.technology else ""
    step("registration", f"{reg.state}{tech}")
    return await _bring_link_up(channel, params, deadline, log, step)


def _no_step(step: str, detail: str) -> None:
    pass


async def read_status(channel: ModemChannel) -> ModemStatus:
    """Query signal, registration, operator, identities and the data link (each tolerant of a
    module that does not answer one of them)."""
    rssi = parse_csq(await _lines(channel, "AT+CSQ") or [])
    rsrp = parse_cesq_rsrp(await _lines(channel, "AT+CESQ") or [])
    reg = await registration(channel)
    operator = parse_cops(await _lines(channel, "AT+COPS?") or [])
    imei = parse_value(await _lines(channel, "AT+CGSN") or [], "+CGSN")
    imsi = parse_value(await _lines(channel, "AT+CIMI") or [], "+CIMI")
    iccid = parse_value(await _lines(channel, "AT+CCID") or [], "+CCID")
    firmware = parse_value(await _lines(channel, "AT+CGMR") or [], "+CGMR")
    link = parse_xiic(await _lines(channel, "AT+XIIC?") or [])
    return ModemStatus(
        rssi=rssi,
        signal_dbm=csq_dbm(rssi) if rssi is not None else None,
        rsrp_dbm=rsrp,
        registration=reg.state,
        technology=reg.technology,
        operator=operator,
        imei=imei,
        imsi=imsi,
        iccid=iccid,
        firmware=firmware,
        link_up=link.up,
        address=link.address,
    )


_Log = structlog.typing.FilteringBoundLogger
OnStep = Callable[[str, str], object]
"""Told each bring-up step done: ``(step, detail)`` with ``step`` one of ``"module"``,
``"sim"``, ``"registration"``, ``"apn"``, ``"link"`` (and ``"line_speed"`` from
:meth:`n58aio.Modem.attach`); ``detail`` is short text for a person, never a secret."""
