"""``AT+HTTPSCFG`` of the emulated module: what each firmware profile accepts and answers.

Chapter 9 (``"ch9"``): ``sslversion`` 0-3, ``authmode`` 0-2, ``ciphersuite``, ``cacert``,
``clientcert``, ``clientkey``; the query shows six fields, ciphersuite third. The v2.0 manual
(``"v2"``): ``sslversion`` 0-4, ``sni`` 0/1 and no ``ciphersuite``; the query shows
``<sslversion>,<authmode>,<cacert>,<clientcert>,<clientkey>,<sni>``. A string setting is
cleared by an empty quoted value (``AT+HTTPSCFG="clientcert",""``); a value left out
(``AT+HTTPSCFG="clientcert",``) is ``ERROR``, as the manual answers an incomplete command.
"""

from __future__ import annotations

from .config import Firmware
from .core import Handler, ModuleCore
from .state import TlsConfig
from .syntax import Command, split_args

__all__ = ["TEST_ANSWER", "TlsCommands", "apply_setting", "query_answer"]

TEST_ANSWER = "+HTTPSCFG: <type>,<type_name>"
_STRINGS: dict[str, tuple[str, ...]] = {
    "ch9": ("ciphersuite", "cacert", "clientcert", "clientkey"),
    "v2": ("cacert", "clientcert", "clientkey"),
}
_HIGHEST_VERSION = {"ch9": 3, "v2": 4}


def _number(text: str, high: int) -> int | None:
    text = text.strip()
    if not text.isdigit() or len(text) > 2:
        return None
    value = int(text)
    return value if value <= high else None


def apply_setting(cfg: TlsConfig, firmware: Firmware, args: str) -> bool:
    """Apply ``AT+HTTPSCFG=<args>`` to ``cfg``; False (nothing changed) where it is ``ERROR``."""
    fields = split_args(args)
    if len(fields) != 2:
        return False
    kind, value = fields[0].lower(), fields[1]
    cleared = args.partition(",")[2].strip() == '""'
    if not value and not cleared:
        return False
    if kind in _STRINGS[firmware]:
        setattr(cfg, kind, value)
        return True
    if cleared:
        return False
    if kind == "sslversion":
        number = _number(value, _HIGHEST_VERSION[firmware])
    elif kind == "authmode":
        number = _number(value, 2)
    elif kind == "sni" and firmware == "v2":
        number = _number(value, 1)
    else:
        return False
    if number is None:
        return False
    setattr(cfg, kind, number)
    return True


def query_answer(cfg: TlsConfig, firmware: Firmware) -> str:
    """The information line answering ``AT+HTTPSCFG?``.

    Chapter 9 prints ``+HTTPSCFG: `` with a space; the v2.0 manual prints ``+HTTPSCFG:`` without
    one (format and example alike), and that is followed.
    """
    if firmware == "v2":
        return (
            f"+HTTPSCFG:{cfg.sslversion},{cfg.authmode},{cfg.cacert},"
            f"{cfg.clientcert},{cfg.clientkey},{cfg.sni}"
        )
    return (
        f"+HTTPSCFG: {cfg.sslversion},{cfg.authmode},{cfg.ciphersuite},"
        f"{cfg.cacert},{cfg.clientcert},{cfg.clientkey}"
    )


class TlsCommands:
    """Handler of ``AT+HTTPSCFG`` (and the ``AT+HTTPSCFGA`` spelling) on the module's state."""

    def __init__(self, module: ModuleCore) -> None:
        self.module = module

    def handlers(self) -> dict[str, Handler]:
        """The entries for the module's handler table."""
        return {"+HTTPSCFG": self.httpscfg, "+HTTPSCFGA": self.httpscfg}

    async def httpscfg(self, cmd: Command) -> None:
        """Query, test or set one TLS setting, in the configured firmware's dialect."""
        module = self.module
        firmware = module.cfg.firmware
        if cmd.kind == "query":
            module._ok(query_answer(module.state.tls, firmware))
        elif cmd.kind == "test":
            module._ok(TEST_ANSWER)
        elif cmd.kind == "set" and apply_setting(module.state.tls, firmware, cmd.args):
            module._ok()
        else:
            module._error()
