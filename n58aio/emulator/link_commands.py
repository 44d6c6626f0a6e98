"""Data link commands of the emulated N58 (manual v2.0 ch04): ``AT+XIIC``."""

from __future__ import annotations

import asyncio

from .core import Handler, ModuleCore, int_arg
from .syntax import Command

__all__ = ["LinkCommands"]


class LinkCommands:
    """Handlers of the data link (PPP/PDP) commands."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Handler]:
        """The entries for the module's handler table."""
        return {"+XIIC": self.xiic}

    async def xiic(self, cmd: Command) -> None:
        """``AT+XIIC=1`` brings the link up (after ``attach_delay``), ``=0`` down; ``?`` asks."""
        module = self.module
        state = module.state
        if cmd.kind == "query":
            if state.pdp_up:
                module._ok(f"+XIIC:    1,10.0.0.{state.ip_suffix}")
            else:
                module._ok("+XIIC:    0,0.0.0.0")
            return
        if cmd.kind == "test":
            module._ok("+XIIC: (0-1)")
            return
        value = int_arg(cmd.args, 0, 1) if cmd.kind == "set" else None
        if value is None:
            module._error()
            return
        if value == 1:
            if not state.pdp_up and module._attach is None:
                module._attach = module._spawn(self._attach_later(), "n58-attach")
        else:
            if module._attach is not None:
                module._attach.cancel()
                module._attach = None
            state.pdp_up = False
            module.kill_links(None)
        module._ok()

    async def _attach_later(self) -> None:
        module = self.module
        try:
            if module.cfg.attach_delay > 0:
                await asyncio.sleep(module.cfg.attach_delay)
            module.state.pdp_up = True
        finally:
            if module._attach is asyncio.current_task():
                module._attach = None
