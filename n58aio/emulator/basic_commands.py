"""V.250 basics and identity of the emulated N58 (manual v2.0 ch03 syntax, ch04 general commands).

``AT``, ``ATE``, ``ATV``, ``ATQ``, ``ATZ``, ``AT&F``, ``ATI``, ``AT+CMEE``, ``AT+GCAP``, the
identity queries ``AT+CGMI`` / ``AT+GMI``, ``AT+CGMM`` / ``AT+GMM``, ``AT+CGMR`` / ``AT+GMR``,
``AT+CGSN`` / ``AT+GSN``, the line rate ``AT+IPR`` and the functionality level ``AT+CFUN``.
"""

from __future__ import annotations

import functools

from .core import Handler, ModuleCore, int_arg
from .linerate import RATES
from .syntax import Command, split_args

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
            "V": self.verbose,
            "Q": self.quiet,
            "Z": self.defaults,
            "&F": self.defaults,
            "+CGMR": functools.partial(self.ident, REVISION),
            "+CGMI": functools.partial(self.ident, MANUFACTURER),
            "+GMI": functools.partial(self.ident, MANUFACTURER),
            "+CGMM": functools.partial(self.ident, f"+CGMM: {MODEL}"),
            "+GMM": functools.partial(self.ident, f"+GMM: {MODEL}"),
            "+GMR": functools.partial(self.ident, f"+GMR: {REVISION}"),
            "+GCAP": functools.partial(self.ident, "+GCAP: +CGSM"),
            "+CGSN": functools.partial(self.imei, "+CGSN"),
            "+GSN": functools.partial(self.imei, "+GSN"),
            "+IPR": self.ipr,
            "+CFUN": self.cfun,
        }

    async def at(self, cmd: Command) -> None:
        """``AT``: OK."""
        self.module._ok()

    async def echo(self, cmd: Command) -> None:
        """``ATE0`` / ``ATE1``."""
        module = self.module
        if cmd.args in ("", "0"):
            module.line.echo = False
        elif cmd.args == "1":
            module.line.echo = True
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

    async def imei(self, stem: str, cmd: Command) -> None:
        """``AT+CGSN`` / ``AT+GSN``: the IMEI, as ``+CGSN: <IMEI>`` (ch04)."""
        if cmd.kind == "test":
            self.module._ok()
        elif cmd.kind == "exec":
            self.module._ok(f"{stem}: {imei_of(self.module.ident)}")
        else:
            self.module._error()

    async def verbose(self, cmd: Command) -> None:
        """``ATV1`` text results, ``ATV0`` numeric ones (appendix E)."""
        if cmd.args not in ("", "0", "1"):
            self.module._error()
            return
        self.module.line.verbose = cmd.args == "1"
        self.module._ok()

    async def quiet(self, cmd: Command) -> None:
        """``ATQ0`` results on, ``ATQ1`` results off."""
        if cmd.args not in ("", "0", "1"):
            self.module._error()
            return
        self.module.line.quiet = cmd.args == "1"
        self.module._ok()

    async def defaults(self, cmd: Command) -> None:
        """``ATZ`` / ``AT&F``: echo, result format and error mode back to their defaults
        (links and the data link are kept)."""
        if cmd.args not in ("", "0"):
            self.module._error()
            return
        line, cfg = self.module.line, self.module.cfg
        line.echo, line.cmee, line.verbose, line.quiet = cfg.echo, cfg.cmee, True, False
        self.module._ok()

    async def ipr(self, cmd: Command) -> None:
        """``AT+IPR=<rate>``: OK at the old rate, then the new one (0: auto-baud again)."""
        module = self.module
        if cmd.kind == "query":
            module._ok(f"+IPR: {module.state.ipr}")
        elif cmd.kind == "test":
            module._ok("+IPR: " + ",".join(str(rate) for rate in RATES))
        elif cmd.kind == "set" and (rate := int_arg(cmd.args, 0, 2166666)) in RATES:
            module._ok()
            module.in_output_order(lambda: module.set_line_rate(rate or None))
            module.state.ipr = rate or 0
        else:
            module._error()

    async def cfun(self, cmd: Command) -> None:
        """``AT+CFUN=<fun>[,<rst>]``: 1 full, 0 / 4 radio off; ``<rst>`` 1 restarts first."""
        module = self.module
        args = split_args(cmd.args) if cmd.kind == "set" else []
        if cmd.kind == "query":
            module._ok(f"+CFUN: {module.state.cfun}")
            return
        if cmd.kind == "test":
            module._ok("+CFUN: (0,1,4),(0,1)")
            return
        fun = int_arg(args[0], 0, 4) if args else None
        rst = int_arg(args[1], 0, 1) if len(args) == 2 else 0
        if fun not in (0, 1, 4) or rst is None or len(args) > 2:
            module._error()
            return
        module._ok()
        if rst == 1:
            module.in_output_order(module.restart)
            return
        if fun != module.state.cfun:
            module.state.cfun = fun
            module.announce_registration()

    async def cmee(self, cmd: Command) -> None:
        """``AT+CMEE``: error report mode 0 (ERROR), 1 (codes) or 2 (texts)."""
        module = self.module
        if cmd.kind == "query":
            module._ok(f"+CMEE: {module.line.cmee}")
        elif cmd.kind == "test":
            module._ok("+CMEE: (0-2)")
        elif cmd.kind == "set" and (value := int_arg(cmd.args, 0, 2)) is not None:
            module.line.cmee = value
            module._ok()
        else:
            module._error()


def imei_of(ident: int) -> str:
    """The IMEI of emulator number ``ident``."""
    return f"8658{ident:011d}"
