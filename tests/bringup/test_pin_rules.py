"""The SIM never locks and bring-up values are refused before a byte (issue #21, items 7-9).

Through the emulated module: a PIN is sent only when the SIM asks, never twice after a refusal
or an unclear answer in one process, never once two attempts failed; a damaged echo does not
turn a right PIN into a wrong one; bad values are refused with nothing written.
"""

from __future__ import annotations

from typing import Any

import pytest
import structlog.testing
from conftest import ModemFactory

import n58aio
from n58aio.bringup import BringUp
from n58aio.commands.timeouts import MANUAL_TIMEOUTS
from n58aio.emulator import Emulator
from n58aio.sim import PIN_REGISTRY

RIGHT = "7391"


def _count_pins(emu: Emulator) -> list[str]:
    """A list that grows by one each time the module receives ``AT+CPIN=`` (hooks re-armed)."""
    sent: list[str] = []

    def hit() -> None:
        sent.append("pin")
        emu.faults.on_command("AT+CPIN=", hit)

    emu.faults.on_command("AT+CPIN=", hit)
    return sent


async def _cpin(modem: n58aio.Modem) -> list[str]:
    return (await modem.command("AT+CPIN?")).lines


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("pin", "\u0661\u0662\u0663\u0664"),  # Arabic-Indic digits: str.isdigit() says yes
        ("pin", "\u00b9\u00b2\u00b3\u2074"),  # superscripts
        ("pin", "\uff11\uff12\uff13\uff14"),  # fullwidth
        ("pin", "123"),
        ("pin", "123456789"),
        ("pin", "12 4"),
        ("apn", "corp\x1a.m2m"),  # Ctrl-Z ends a data phase
        ("apn", "corp\x1b.m2m"),  # ESC cancels one
        ("apn", "corp\x00"),
        ("apn", "corp\u00e9"),
        ("apn", 'co"rp'),
        ("user", "gw\tx"),
        ("user", "gw'x"),
        ("password", "s3\x7fcret"),
        ("password", "s3\rcret"),
        ("password", "s3\\cret"),
        ("password", "s\u00e9cret"),
        ("password", "x" * 33),
    ],
)
async def test_bad_values_refused_before_the_first_byte(
    make_modem: ModemFactory, field: str, value: str
) -> None:
    emu, modem = await make_modem(attach=False)
    assert emu.bytes_received == 0
    values: dict[str, Any] = {field: value}
    with pytest.raises(n58aio.InvalidValue) as caught:
        await modem.attach(**values)
    text = str(caught.value)
    assert text.startswith(f"{field}: ")
    assert value not in text
    shown = [c for c in value if not (c.isascii() and (c.isalnum() or c in " ."))]
    assert not any(char in text for char in shown)  # the offending character never shown
    assert emu.bytes_received == 0  # not one byte written, not even the first probe
    with pytest.raises(n58aio.InvalidValue):
        BringUp(**{field: value})


async def test_right_pin_after_a_damaged_echo_is_not_reported_wrong(
    make_modem: ModemFactory,
) -> None:
    emu, modem = await make_modem(attach=False, config={"sim": "pin", "sim_pin": RIGHT})
    modem.channel.resync_grace = 0.3  # probes sooner after the damaged echo (a faster test)
    sent = _count_pins(emu)
    emu.faults.on_command("AT+CPIN=", lambda: emu.faults.garble_next(3))  # the echo's start
    status = await modem.attach(pin=RIGHT, timeout=10)
    assert status.up and emu.sim_unlocked
    assert sent == ["pin"]
    assert await _cpin(modem) == ["+CPIN: READY"]


async def test_wrong_pin_is_refused_locally_by_every_later_attach(
    make_modem: ModemFactory,
) -> None:
    emu, modem = await make_modem(attach=False, config={"sim": "pin", "sim_pin": RIGHT})
    sent = _count_pins(emu)
    with structlog.testing.capture_logs() as logs:
        with pytest.raises(n58aio.WrongPinError):
            await modem.attach(pin="2580")
        with pytest.raises(n58aio.PinWithheldError, match="refused") as withheld:
            await modem.attach(pin="2580")  # the same value: never again
        assert sent == ["pin"]
        with pytest.raises(n58aio.WrongPinError):
            await modem.attach(pin="0852")  # another value: two tries were left
        assert sent == ["pin", "pin"]
        with pytest.raises(n58aio.PinWithheldError, match="block") as last:
            await modem.attach(pin=RIGHT)  # even the right one: one try may be all that is left
    assert sent == ["pin", "pin"]
    assert await _cpin(modem) == ["+CPIN: SIM PIN"]  # not blocked
    for secret in ("2580", "0852", RIGHT):
        assert secret not in repr(logs)
        assert secret not in str(withheld.value) and secret not in str(last.value)
    assert any(entry["event"] == "bringup.pin_withheld" for entry in logs)
    PIN_REGISTRY.forget()  # a person checked the card: the process may try again
    assert (await modem.attach(pin=RIGHT)).up
    assert sent == ["pin", "pin", "pin"]


async def test_unclear_answer_is_never_followed_by_the_same_pin(
    make_modem: ModemFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(MANUAL_TIMEOUTS, "CPIN", 0.5)  # the answer is given up sooner
    emu, modem = await make_modem(attach=False, config={"sim": "pin", "sim_pin": RIGHT})
    modem.channel.resync_grace = 0.3
    sent = _count_pins(emu)
    # the answer's echo damaged: +CME ERROR: 16 then answers no command (no final result)
    emu.faults.on_command("AT+CPIN=", lambda: emu.faults.garble_next(3))
    with structlog.testing.capture_logs() as logs, pytest.raises(n58aio.PinUnclearError):
        await modem.attach(pin="1470", timeout=10)
    assert any(entry.get("answer") == "unclear" for entry in logs)
    with pytest.raises(n58aio.PinWithheldError):
        await modem.attach(pin="1470", timeout=10)
    assert sent == ["pin"]
    assert await _cpin(modem) == ["+CPIN: SIM PIN"]


async def test_changed_pin_is_sent_once_by_all_the_recoveries(
    make_modem: ModemFactory,
) -> None:
    emu, modem = await make_modem(attach=False, config={"sim": "pin", "sim_pin": RIGHT})
    await modem.attach(pin=RIGHT)
    sent = _count_pins(emu)
    emu.faults.set_sim("pin", pin="8642")  # someone changed the card's PIN
    failures: list[Any] = []
    for _ in range(3):  # three restarts, each followed by a recovery
        emu.faults.restart()
        try:
            await modem.recover(timeout=10)
        except n58aio.BringUpError as exc:
            failures.append(type(exc))
    assert failures[0] is n58aio.WrongPinError
    assert all(kind in (n58aio.SimPinRequired, n58aio.PinWithheldError) for kind in failures[1:])
    with pytest.raises(n58aio.PinWithheldError):
        await modem.attach(pin=RIGHT)  # the caller's old PIN: refused locally
    assert sent == ["pin"]
    assert await _cpin(modem) == ["+CPIN: SIM PIN"]
    assert (await modem.attach(pin="8642")).up  # the new PIN: never failed, two tries left
    assert sent == ["pin", "pin"]
