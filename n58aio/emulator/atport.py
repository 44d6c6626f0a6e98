"""One AT interpreter's plumbing: where its command lines come from and where its answers go.

Outside multiplexer mode the module has one :class:`AtPort`, the serial port itself. In
``AT+CMUX`` mode every open DLC (1-3) is an AT port of its own, with its own line reader (and
``>`` data phases), output, busy flag, session task and V.250 settings (``ATE``, ``ATV``,
``ATQ``, ``AT+CMEE``), over the one module state (services, file system, data link).

The port a piece of module code works for is found through a context variable: a DLC's
session task runs in a context naming its port, and every task it spawns (a service's relay
started by ``AT+HTTPSETUP``, a transfer's reports) inherits that context, so its reports go
to the DLC that started it. Code outside any DLC (fault actions, network events) works for the
module's default port: the serial port, or in multiplexer mode the lowest open DLC. A closed
port is never used again: code still holding it falls back to the default port.
"""

from __future__ import annotations

import asyncio
import contextvars
from dataclasses import dataclass

from .atline import AtLineReader
from .output import OutputChannel

__all__ = ["CURRENT_PORT", "AtPort", "LineSettings"]


@dataclass
class LineSettings:
    """The V.250 settings of one AT interpreter."""

    echo: bool = True
    cmee: int = 1
    verbose: bool = True
    quiet: bool = False


class AtPort:
    """Line reader, output, input signal, busy flag, session task and settings of one port."""

    def __init__(self, name: str, output: OutputChannel, settings: LineSettings) -> None:
        self.name = name
        self.reader = AtLineReader()
        self.out = output
        self.settings = settings
        self.input = asyncio.Event()
        self.busy = False
        self.idle = asyncio.Event()
        self.idle.set()
        self.session: asyncio.Task[None] | None = None
        self.closed = False

    def feed(self, data: bytes) -> None:
        """Command bytes for this interpreter."""
        self.reader.feed(data)
        self.input.set()


CURRENT_PORT: contextvars.ContextVar[AtPort | None] = contextvars.ContextVar(
    "n58_at_port", default=None
)
