"""Network and SIM commands of the emulated N58 (manual v2.0 ch04).

``AT+CSQ``, ``AT+CPIN``, ``AT+CREG``, ``AT+CGATT``.
"""

from __future__ import annotations

import functools

from .core import Handler, ModuleCore
from .syntax import Command

__all__ = ["NetworkCommands"]


class NetworkCommands:
    """Handlers of the network and SIM commands."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Handler]:
        """The entries for the module's handler table."""
        return {
            "+CSQ": functools.partial(self.status, "+CSQ: 24,99", True),
            "+CPIN": functools.partial(self.status, "+CPIN: READY", False),
            "+CREG": functools.partial(self.status, "+CREG: 0,1", False),
            "+CGATT": functools.partial(self.status, "+CGATT: 1", False),
        }

    async def status(self, answer: str, exec_form: bool, cmd: Command) -> None:
        """A fixed answer to the exec (or query) form; OK to the test form."""
        if cmd.kind == ("exec" if exec_form else "query"):
            self.module._ok(answer)
        elif cmd.kind == "test":
            self.module._ok()
        else:
            self.module._error()
