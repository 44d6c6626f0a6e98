"""N58 emulator: an emulated Neoway N58 module on a pseudo-terminal or a TCP port.

See ``docs/emulator.md``.
"""

from __future__ import annotations

from .config import EmulatorConfig
from .emulator import Emulator
from .faults import Faults, LinkKind
from .filesystem import ModuleFS

__all__ = ["Emulator", "EmulatorConfig", "Faults", "LinkKind", "ModuleFS"]

try:
    from .origin import OriginServer  # type: ignore[import-not-found, unused-ignore]
except ModuleNotFoundError as _exc:  # pragma: no cover - depends on another module being present
    if _exc.name != f"{__name__}.origin":
        raise
else:
    __all__ += ["OriginServer"]
