"""The few short-message settings of the emulated N58 that generic modem software sets at connect
(manual v2.0 ch05): ``AT+CMGF`` (PDU 0 / text 1) and ``AT+CSCA`` (service centre address).

No message is ever sent or received: the emulator stores the two settings and answers them.
"""

from __future__ import annotations

from .core import Handler, ModuleCore, int_arg
from .syntax import Command, split_args

__all__ = ["SmsCommands"]


class SmsCommands:
    """Handlers of ``AT+CMGF`` and ``AT+CSCA``."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Handler]:
        """The entries for the module's handler table."""
        return {"+CMGF": self.cmgf, "+CSCA": self.csca}

    async def cmgf(self, cmd: Command) -> None:
        """``AT+CMGF=<mode>``: 0 PDU, 1 text."""
        module = self.module
        if cmd.kind == "query":
            module._ok(f"+CMGF: {module.state.cmgf}")
        elif cmd.kind == "test":
            module._ok("+CMGF: (0,1)")
        elif cmd.kind == "set" and (mode := int_arg(cmd.args, 0, 1)) is not None:
            module.state.cmgf = mode
            module._ok()
        else:
            module._error()

    async def csca(self, cmd: Command) -> None:
        """``AT+CSCA="<number>"[,<type>]``; ``?`` answers ``+CSCA: "<number>",<type>``."""
        module = self.module
        if cmd.kind == "query":
            module._ok(f'+CSCA: "{module.state.csca}",145')
        elif cmd.kind == "set" and (args := split_args(cmd.args)) and len(args) <= 2:
            module.state.csca = args[0]
            module._ok()
        else:
            module._error()
