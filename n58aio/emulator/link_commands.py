"""Data link commands of the emulated N58 (manual v2.0 ch04): ``AT+CGDCONT``, ``AT+XGAUTH``,
``AT+XIIC``.

``AT+XIIC=1`` is refused at once when the link cannot come up: ``+CME ERROR: 50`` without a SIM
(captured), 11/12 for a locked SIM, 30 (no network service) when not registered, 900 (appendix
H: the network refused the APN, user or password) when the APN or credentials are not the ones
the network requires. A value other than 0 and 1 (``AT+XIIC=9``) is ``+CME ERROR: 53``
(captured).
"""

from __future__ import annotations

import asyncio

from .core import Handler, ModuleCore, int_arg
from .syntax import Command, split_args

__all__ = ["LinkCommands"]


class LinkCommands:
    """Handlers of the data link (PPP/PDP) commands."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Handler]:
        """The entries for the module's handler table."""
        return {"+XIIC": self.xiic, "+CGDCONT": self.cgdcont, "+XGAUTH": self.xgauth}

    async def cgdcont(self, cmd: Command) -> None:
        """``AT+CGDCONT=<cid>[,<type>[,<APN>]]``; ``?`` lists the contexts."""
        module = self.module
        contexts = module.state.contexts
        if cmd.kind == "query":
            lines = [f'+CGDCONT: {cid},"IP","{apn}","0.0.0.0",0,0' for cid, apn in contexts.items()]
            module._ok(*lines)
            return
        if cmd.kind == "test":
            module._ok("+CGDCONT: (1-7),(IP,IPV6,IPV4V6,PPP,Non-IP),(0-3),(0-4)")
            return
        args = split_args(cmd.args) if cmd.kind == "set" else []
        cid = int_arg(args[0], 1, 7) if args else None
        kind = args[1].upper() if len(args) > 1 else "IP"
        if cid is None or kind not in ("IP", "IPV6", "IPV4V6", "PPP", "NON-IP") or len(args) > 6:
            module._error()
            return
        if len(args) == 1:
            contexts.pop(cid, None)
        else:
            contexts[cid] = args[2] if len(args) > 2 else ""
        module._ok()

    async def xgauth(self, cmd: Command) -> None:
        """``AT+XGAUTH=<cid>,<auth>[,<name>,<pwd>]`` (0 none, 1 PAP, 2 CHAP)."""
        module = self.module
        if cmd.kind == "test":
            module._ok("+XGAUTH: (1-7),(0-2),32,32")
            return
        args = split_args(cmd.args) if cmd.kind == "set" else []
        cid = int_arg(args[0], 1, 7) if args else None
        auth = int_arg(args[1], 0, 2) if len(args) > 1 else None
        if cid is None or auth is None or len(args) not in (2, 4):
            module._error()
            return
        if auth and len(args) != 4:
            module._error()
            return
        name, pwd = (args[2], args[3]) if len(args) == 4 else ("", "")
        if len(name) > 32 or len(pwd) > 32:
            module._error()
            return
        module.state.auth[cid] = (auth, name, pwd)
        module._ok()

    def _refusal(self) -> int | None:
        """Why ``AT+XIIC=1`` cannot bring the link up now (a CME code), or None."""
        module = self.module
        if not module.sim.present:
            return 50  # captured without a SIM (appendix H's 10 is what AT+CPIN=... gets)
        if (code := module.sim_error()) is not None:
            return code
        if module.reg_stat() not in (1, 5):
            return 30
        apn = module.state.contexts.get(1, "")
        _, user, password = module.state.auth.get(1, (0, "", ""))
        if not module.net.accepts(apn, user, password):
            return 900
        return None

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
            module._cme(53)  # captured for AT+XIIC=9
            return
        if value == 1:
            if not state.pdp_up and (code := self._refusal()) is not None:
                module.log.info("data link refused", code=code)
                module._cme(code)
                return
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
