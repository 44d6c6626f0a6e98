"""What the emulated module finds around it and keeps across restarts: the SIM card and the network.

A restart clears the module's settings (:class:`~.state.ModuleState`) but not these: a PIN-locked
SIM asks for its PIN again after every restart, a blocked SIM stays blocked, the network keeps
requiring its APN and credentials. Tests change them at run time through the fault API.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "REGISTRATION_STAT",
    "Network",
    "Registration",
    "SimCard",
    "SimState",
]

#: ``"absent"`` (no card), ``"ready"`` (no PIN asked), ``"pin"`` (PIN enabled), ``"puk"``
#: (blocked: three wrong PINs).
SimState = Literal["absent", "ready", "pin", "puk"]
#: What the network does with the module's registration attempts.
Registration = Literal["home", "roaming", "searching", "denied", "idle"]

#: ``<stat>`` of ``+CREG`` / ``+CEREG`` (27.007): idle = 0 (not registered, not searching).
REGISTRATION_STAT: dict[Registration, int] = {
    "idle": 0,
    "home": 1,
    "searching": 2,
    "denied": 3,
    "roaming": 5,
}
PIN_TRIES = 3


@dataclass
class SimCard:
    """The SIM: its lock state, PIN, PUK and the PIN tries left."""

    state: SimState = "ready"
    pin: str = "1234"
    puk: str = "12345678"
    tries_left: int = PIN_TRIES
    imsi: str = "001010123456789"
    iccid: str = "89860012345678901234"

    @property
    def present(self) -> bool:
        """False when no card is inserted."""
        return self.state != "absent"

    def enter_pin(self, pin: str) -> bool:
        """``AT+CPIN=<pin>`` while the card asks for its PIN: True when right; the third wrong
        PIN blocks the card (PUK required)."""
        if pin == self.pin:
            self.tries_left = PIN_TRIES
            return True
        self.tries_left -= 1
        if self.tries_left <= 0:
            self.state = "puk"
        return False

    def enter_puk(self, puk: str, new_pin: str) -> bool:
        """``AT+CPIN=<puk>,<newpin>`` while blocked: True (new PIN set, PIN lock kept)."""
        if puk != self.puk or not new_pin:
            return False
        self.pin = new_pin
        self.tries_left = PIN_TRIES
        self.state = "pin"
        return True


@dataclass
class Network:
    """The radio network: registration outcome, reject cause, signal, APN and credentials."""

    registration: Registration = "home"
    reject_cause: int | None = None
    csq: int = 24
    operator: str = "EMU NET"
    operator_numeric: str = "00101"
    apn: str | None = None
    user: str | None = None
    password: str | None = None

    def accepts(self, apn: str, user: str, password: str) -> bool:
        """Whether a data link with this APN and credentials is let up (None: anything)."""
        if self.apn is not None and apn.lower() != self.apn.lower():
            return False
        if self.user is not None and user != self.user:
            return False
        return self.password is None or password == self.password

    @property
    def stat(self) -> int:
        """The ``<stat>`` the module reports."""
        return REGISTRATION_STAT[self.registration]

    @property
    def registered(self) -> bool:
        """Home or roaming."""
        return self.registration in ("home", "roaming")
