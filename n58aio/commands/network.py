"""SIM, registration, signal and identity answers of ch04 (v2.0 manual), parsed sans-IO."""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = [
    "REGISTRATION_STATES",
    "Registration",
    "csq_dbm",
    "parse_cesq_rsrp",
    "parse_cops",
    "parse_cpin",
    "parse_csq",
    "parse_registration",
    "parse_value",
]

#: ``<stat>`` of ``+CREG`` / ``+CEREG`` (27.007).
REGISTRATION_STATES = {
    0: "not searching",
    1: "home",
    2: "searching",
    3: "denied",
    4: "unknown",
    5: "roaming",
}
_TECHNOLOGY = {
    0: "GSM",
    1: "GSM",
    2: "UTRAN",
    3: "EGPRS",
    4: "HSDPA",
    5: "HSUPA",
    6: "HSPA",
    7: "LTE",
}
_INT = re.compile(r"-?\d+")


@dataclass(frozen=True, slots=True)
class Registration:
    """One ``+CREG`` / ``+CEREG`` state: ``state`` as in :data:`REGISTRATION_STATES`."""

    state: str
    technology: str | None = None
    reject_cause: int | None = None

    @property
    def registered(self) -> bool:
        """Home or roaming."""
        return self.state in ("home", "roaming")


def _fields(line: str) -> list[str]:
    return [field.strip().strip('"') for field in line.split(":", 1)[-1].split(",")]


def parse_cpin(lines: list[str]) -> str | None:
    """``+CPIN: READY`` / ``SIM PIN`` / ``SIM PUK`` -> ``"READY"``...; None if absent."""
    for line in lines:
        if line.upper().startswith("+CPIN:"):
            return line.split(":", 1)[1].strip().upper()
    return None


def parse_registration(lines: list[str], prefix: str, query: bool = True) -> Registration | None:
    """``+CEREG: <n>,<stat>[,tac,ci,AcT[,cause_type,cause]]`` (query form) or the report form
    without ``<n>``; tolerant of spaces and missing fields."""
    for line in lines:
        if not line.upper().startswith(prefix.upper() + ":"):
            continue
        fields = _fields(line)
        if query and len(fields) >= 2:
            fields = fields[1:]
        if not fields or not fields[0].isdigit():
            return None
        state = REGISTRATION_STATES.get(int(fields[0]), "unknown")
        technology = None
        if len(fields) >= 4 and fields[3].isdigit():
            technology = _TECHNOLOGY.get(int(fields[3]))
        cause = int(fields[5]) if len(fields) >= 6 and fields[5].isdigit() else None
        return Registration(state, technology, cause)
    return None


def parse_csq(lines: list[str]) -> int | None:
    """``+CSQ: <rssi>,<ber>`` -> rssi 0-31, None for 99 (unknown) or no answer."""
    for line in lines:
        if line.upper().startswith("+CSQ:"):
            numbers = _INT.findall(line.split(":", 1)[1])
            if numbers and int(numbers[0]) != 99:
                return int(numbers[0])
    return None


def csq_dbm(rssi: int) -> int:
    """27.007: rssi 0 = -113 dBm or less, 31 = -51 dBm or more, 2 dB a step."""
    return -113 + 2 * rssi


def parse_cesq_rsrp(lines: list[str]) -> int | None:
    """``+CESQ: rxlev,ber,rscp,ecno,rsrq,rsrp`` -> RSRP in dBm (index - 141), None if 255."""
    for line in lines:
        if line.upper().startswith("+CESQ:"):
            numbers = _INT.findall(line.split(":", 1)[1])
            if len(numbers) >= 6 and int(numbers[5]) != 255:
                return int(numbers[5]) - 141
    return None


def parse_cops(lines: list[str]) -> str | None:
    """``+COPS: 0,0,"EMU NET",7`` -> the operator name; None when not registered."""
    for line in lines:
        if line.upper().startswith("+COPS:"):
            fields = _fields(line)
            return fields[2] if len(fields) >= 3 and fields[2] else None
    return None


def parse_value(lines: list[str], prefix: str) -> str | None:
    """The value of ``+CGSN: 86...`` / ``+CIMI: ...``, or a bare line (some firmware omits the
    prefix); None when there is none."""
    for line in lines:
        if line.upper().startswith(prefix.upper() + ":"):
            return line.split(":", 1)[1].strip() or None
    for line in lines:
        if line and not line.startswith("+"):
            return line.strip()
    return None
