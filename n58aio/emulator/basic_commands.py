"""V.250 basics and identity of the emulated N58 (manual v2.0 ch03 syntax, ch04 general commands).

``AT``, ``ATE``, ``ATI``, ``AT+CMEE`` and the identity queries ``AT+CGMI``, ``AT+CGMM``,
``AT+CGMR``, ``AT+CGSN`` / ``AT+GSN``.
"""

from __future__ import annotations

import functools

from .core import Handler, ModuleCore, int_arg
from .syntax import Command

__all__ = ["MANUFACTURER", "MODEL", "REVISION", "BasicCommands"]

MANUFACTURER = "Neoway"
MODEL = "N58"
REVISION = "N58-R07-STD-BZ-EMU"


class BasicCommands:
    """Handlers of the basic and identity commands."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Handler]:
        """The entries for the module's handler table."""
        return {
            "": self.at,
            "E": self.echo,
            "I": self.ati,
            "+CMEE": self.cmee,
            "+CGMR": functools.partial(self.ident, REVISION),
            "+CGMI": functools.partial(self.ident, MANUFACTURER),
            "+CGMM": functools.partial(self.ident, MODEL),
            "+CGSN": self.imei,
            "+GSN": self.imei,
        }

    async def at(self, cmd: Command) -> None:
        """``AT``: OK."""
        self.module._ok()

    async def echo(self, cmd: Command) -> None:
        """``ATE0`` / ``ATE1``."""
        module = self.module
        if cmd.args in ("", "0"):
            module.state.echo = False
        elif cmd.args == "1":
            module.state.echo = True
        else:
            module._error()
            return
        module._ok()

    async def ati(self, cmd: Command) -> None:
        """``ATI``: manufacturer, model, revision."""
        if cmd.args not in ("", "0"):
            self.module._error()
            return
        self.module._ok(MANUFACTURER, MODEL, f"Revision: {REVISION}")

    async def ident(self, value: str, cmd: Command) -> None:
        """``AT+CGMI`` / ``AT+CGMM`` / ``AT+CGMR``: one information line."""
        if cmd.kind == "test":
            self.module._ok()
        elif cmd.kind == "exec":
            self.module._ok(value)
        else:
            self.module._error()

    async def imei(self, cmd: Command) -> None:
        """``AT+CGSN``: the IMEI."""
        if cmd.kind != "exec":
            self.module._error()
            return
        self.module._ok(f"8658{self.module.ident:011d}")

    async def cmee(self, cmd: Command) -> None:
        """``AT+CMEE``: error report mode 0 (ERROR), 1 (codes) or 2 (texts)."""
        module = self.module
        if cmd.kind == "query":
            module._ok(f"+CMEE: {module.state.cmee}")
        elif cmd.kind == "test":
            module._ok("+CMEE: (0-2)")
        elif cmd.kind == "set" and (value := int_arg(cmd.args, 0, 2)) is not None:
            module.state.cmee = value
            module._ok()
        else:
            module._error()
