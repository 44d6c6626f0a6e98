"""Network and SIM commands of the emulated N58 (manual v2.0 ch04).

``AT+CPIN`` (state, PIN, PUK), ``AT+CIMI``, ``AT+CCID``, ``AT+CSQ``, ``AT+CESQ``, ``AT+CREG``,
``AT+CGREG``, ``AT+CEREG``, ``AT+COPS``, ``AT+CGATT``. The SIM and the network are in
:mod:`.world`; a command that needs the SIM while it is absent or locked gets the 27.007 code
(10 SIM not inserted, 11 SIM PIN required, 12 SIM PUK required).
"""

from __future__ import annotations

import functools

from .core import Handler, ModuleCore, int_arg
from .syntax import Command, split_args, unquote

__all__ = ["NetworkCommands", "cesq_of"]

_CPIN = {"ready": "READY", "pin": "SIM PIN", "puk": "SIM PUK"}


def cesq_of(csq: int) -> str:
    """``+CESQ`` fields for an LTE cell of the given CSQ level (rsrp index 0-97, rsrq 0-34)."""
    if csq == 99:
        return "99,99,255,255,255,255"
    rsrp = max(0, min(97, 2 * csq + 8))  # rssi -113+2*csq dBm, rsrp about 20 dB lower
    return f"99,99,255,255,{min(34, 10 + csq // 3)},{rsrp}"


class NetworkCommands:
    """Handlers of the network and SIM commands."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Handler]:
        """The entries for the module's handler table."""
        return {
            "+CPIN": self.cpin,
            "+CIMI": functools.partial(self.sim_ident, "CIMI"),
            "+CCID": functools.partial(self.sim_ident, "CCID"),
            "+CSQ": self.csq,
            "+CESQ": self.cesq,
            "+CREG": functools.partial(self.reg, "CREG", (0, 1, 2)),
            "+CGREG": functools.partial(self.reg, "CGREG", (0, 1, 2)),
            "+CEREG": functools.partial(self.reg, "CEREG", (0, 1, 2, 3, 4)),
            "+COPS": self.cops,
            "+CGATT": self.cgatt,
        }

    async def cpin(self, cmd: Command) -> None:
        """``AT+CPIN?`` the lock state (``+CPIN: NO SIM`` without a card, captured);
        ``AT+CPIN=<pin>`` or ``=<puk>,<newpin>``: OK, then ``+PBREADY`` (the card is unlocked,
        ch04), or ``+CME ERROR: 16`` (incorrect password)."""
        module = self.module
        sim = module.sim
        if cmd.kind == "test":
            module._ok()
            return
        if cmd.kind == "query" and not sim.present:
            module._ok("+CPIN: NO SIM")  # captured
            return
        if not sim.present:
            module._cme(10)
            return
        if cmd.kind == "query":
            module._ok(f"+CPIN: {'READY' if module.sim_ready else _CPIN[sim.state]}")
            return
        args = [unquote(arg) for arg in split_args(cmd.args)] if cmd.kind == "set" else []
        if not args or len(args) > 2 or not all(arg.isdigit() for arg in args):
            module._cme(53)  # a bad parameter, as captured for AT+XIIC=9
            return
        if module.sim_ready:
            module._cme(3)  # nothing asked
            return
        if sim.state == "pin" and len(args) == 1:
            accepted = sim.enter_pin(args[0])
        elif sim.state == "puk" and len(args) == 2:
            accepted = sim.enter_puk(args[0], args[1])
        else:
            module._cme(12 if sim.state == "puk" else 50)
            return
        if not accepted:
            module.log.info("wrong SIM code", tries_left=sim.tries_left)
            module._cme(16)
            return
        module.state.sim_unlocked = True
        module._ok()
        module.log.info("SIM unlocked")
        module._spawn(module._report("+PBREADY"), "n58-sim-ready")
        module.announce_registration()

    async def sim_ident(self, stem: str, cmd: Command) -> None:
        """``AT+CIMI`` / ``AT+CCID``: ``+CIMI: <IMSI>``; ERROR without a usable SIM (ch04)."""
        module = self.module
        if cmd.kind == "test":
            module._ok()
        elif cmd.kind != "exec" or not module.sim_ready:
            module._error()
        else:
            module._ok(f"+{stem}: {module.sim.imsi if stem == 'CIMI' else module.sim.iccid}")

    def _level(self) -> int:
        module = self.module
        return module.net.csq if module.state.cfun == 1 and module.sim.present else 99

    async def csq(self, cmd: Command) -> None:
        """``AT+CSQ``: ``+CSQ: <rssi>,<ber>`` (99,99 with the radio off)."""
        if cmd.kind == "exec":
            level = self._level()
            self.module._ok(f"+CSQ: {level},99")
        elif cmd.kind == "test":
            self.module._ok("+CSQ: (0-31,99),(0-7,99)")
        else:
            self.module._error()

    async def cesq(self, cmd: Command) -> None:
        """``AT+CESQ``: the extended levels of an LTE cell (ch04's six-field form)."""
        if cmd.kind == "exec":
            self.module._ok(f"+CESQ: {cesq_of(self._level())}")
        elif cmd.kind == "test":
            self.module._ok("+CESQ: (0-62,99),(0-7,99),(255),(255),(0-34,255),(0-97,255)")
        else:
            self.module._error()

    async def reg(self, stem: str, modes: tuple[int, ...], cmd: Command) -> None:
        """``AT+CREG`` / ``AT+CGREG`` / ``AT+CEREG``: ``=<n>`` reports, ``?`` the state."""
        module = self.module
        attr = f"{stem.lower()}_n"
        if cmd.kind == "query":
            module._ok(module.registration_report(stem, getattr(module.state, attr), True))
        elif cmd.kind == "test":
            module._ok(f"+{stem}: ({','.join(str(m) for m in modes)})")
        elif cmd.kind in ("set", "exec") and (n := int_arg(cmd.args or "0", 0, 4)) in modes:
            setattr(module.state, attr, n)
            module._ok()
        else:
            module._error()

    async def cops(self, cmd: Command) -> None:
        """``AT+COPS?``: ``+COPS: 0,0,"<operator>",7`` when registered, ``+COPS: 0`` if not."""
        module = self.module
        if cmd.kind == "query":
            if module.reg_stat() in (1, 5):
                module._ok(f'+COPS: 0,0,"{module.net.operator}",7')
            else:
                module._ok("+COPS: 0")
        elif cmd.kind == "test":
            module._ok(
                f'+COPS: (2,"{module.net.operator}","EMU","{module.net.operator_numeric}",7)'
                ",,(0-4),(0-2)"
            )
        elif cmd.kind == "set" and split_args(cmd.args)[0].strip() in ("0", "3"):
            module._ok()
        else:
            module._error()

    async def cgatt(self, cmd: Command) -> None:
        """``AT+CGATT?``: attached while registered; ``=0`` detaches (the data link drops)."""
        module = self.module
        if cmd.kind == "query":
            module._ok(f"+CGATT: {1 if module.reg_stat() in (1, 5) else 0}")
        elif cmd.kind == "test":
            module._ok("+CGATT: (0-1)")
        elif cmd.kind == "set" and (state := int_arg(cmd.args, 0, 1)) is not None:
            if not module.sim_ready:
                module._error()
                return
            module._ok()
            if state == 0:
                module.lose_data_link()
        else:
            module._error()
