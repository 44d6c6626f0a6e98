"""The data link (PPP) that HTTP needs: ``AT+XIIC``."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["LinkStatus", "parse_xiic"]

_XIIC = re.compile(r"^\+XIIC:\s*(\d+)\s*,\s*(\S*)")


@dataclass(frozen=True, slots=True)
class LinkStatus:
    """``AT+XIIC?``: whether the data link is up, and the module's IP address."""

    up: bool
    address: str | None


def parse_xiic(lines: list[str]) -> LinkStatus:
    """Read ``+XIIC:    1,10.107.216.162`` (spaces vary; the manual's capture has four)."""
    for line in lines:
        match = _XIIC.match(line)
        if match:
            up = match.group(1) != "0"
            address = match.group(2) or None
            return LinkStatus(up, address if up else None)
    return LinkStatus(False, None)
