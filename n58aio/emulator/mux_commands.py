"""``AT+CMUX`` (v2.0 manual ch04 section 4.15): 27.010 multiplexing on the serial port.

``AT+CMUX=<mode>[,<subset>[,<port_speed>[,<N1>[,<T1>[,<N2>[,<T2>[,<T3>[,<k>]]]]]]]]``: the
test command gives the manual's ranges; the emulator runs basic mode (``<mode>`` 0) with UIH
frames (``<subset>`` 0) only, as the manual says the module does (``<mode>`` 1, enhanced mode,
is ``ERROR``); ``<N1>`` 1-2048 (default 31), ``<N2>`` 0-5, ``<T2>`` above ``<T1>``. The read
form is ``ERROR`` (as in the manual). ``OK`` is sent in AT mode; the port speaks frames from the
byte after it. ``<port_speed>`` is checked and kept, the line rate does not change.
"""

from __future__ import annotations

from .core import Handler, ModuleCore, int_arg
from .multiplexer import MuxParams
from .syntax import Command, split_args

__all__ = ["TEST_REPLY", "MuxCommands", "parse_cmux"]

TEST_REPLY = "+CMUX: (0,1),(0),(1-6),(1-2048),(1-255),(0-100),(2-255),(1-255),(1-7)"

# (low, high, default) of each parameter after <mode>, as the module accepts them
_RANGES = (
    (0, 0, 0),  # subset: UIH frames only
    (1, 6, 5),  # port_speed
    (1, 2048, 31),  # N1
    (1, 255, 10),  # T1
    (0, 5, 3),  # N2 (0-100 in the test reply; the module supports 0-5)
    (2, 255, 30),  # T2
    (1, 255, 10),  # T3
    (1, 7, 2),  # k
)


def parse_cmux(args: str) -> MuxParams | None:
    """The parameters of ``AT+CMUX=<args>``; None when the module refuses them."""
    fields = split_args(args)
    if not fields or len(fields) > 1 + len(_RANGES) or int_arg(fields[0], 0, 0) is None:
        return None
    values = []
    for index, (low, high, default) in enumerate(_RANGES):
        text = fields[index + 1].strip() if index + 1 < len(fields) else ""
        if not text:
            values.append(default)
            continue
        value = int_arg(text, low, high)
        if value is None:
            return None
        values.append(value)
    _subset, speed, n1, t1, n2, t2, _t3, _k = values
    if t2 <= t1:
        return None
    return MuxParams(n1=n1, port_speed=speed, t1=t1, n2=n2, t2=t2)


class MuxCommands:
    """The ``AT+CMUX`` handler."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Handler]:
        """The entries for the module's handler table."""
        return {"+CMUX": self.cmux}

    async def cmux(self, cmd: Command) -> None:
        """Enter multiplexer mode after ``OK`` (not from a DLC: ``ERROR`` there)."""
        module = self.module
        if not module.cfg.cmux:
            module._error()
            return
        if cmd.kind == "test":
            module._ok(TEST_REPLY)
            return
        params = parse_cmux(cmd.args) if cmd.kind == "set" else None
        if params is None or module.muxing:
            module._error()
            return
        module._ok()
        module.enter_mux(params)
