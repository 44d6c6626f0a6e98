"""Per-command response timeouts from the N58 manual."""

from __future__ import annotations

from ..wire import command_name

__all__ = ["DEFAULT_TIMEOUT", "MANUAL_TIMEOUTS", "manual_timeout"]

MANUAL_TIMEOUTS: dict[str, float] = {
    # chapter 9: "The command times out if the module does not respond in 300ms / 30s"
    "HTTPPARA": 0.3,
    "HTTPSPARA": 0.3,
    "HTTPCLOSE": 0.3,
    "HTTPSCLOSE": 0.3,
    "HTTPGET": 0.3,
    "HTTPSGET": 0.3,
    "HTTPGETSTAT": 0.3,
    "HTTPSGETSTAT": 0.3,
    "HTTPSCFG": 0.3,
    "FILEHTTPACTION": 0.3,
    "FILEHTTPSACTION": 0.3,
    "HTTPSETUP": 30.0,
    "HTTPSSETUP": 30.0,
    "HTTPACTION": 30.0,
    "HTTPSACTION": 30.0,
    # outside chapter 9: dialling the data link can take a while
    "XIIC": 30.0,
}

DEFAULT_TIMEOUT = 5.0
"""Timeout of commands the chapter does not cover (``AT``, ``ATE0``, ``AT+CMEE`` ...)."""


def manual_timeout(command: str) -> float:
    """The manual's response timeout of ``command`` (the module's own limit), in seconds."""
    name = command_name(command)
    if name is None:
        return DEFAULT_TIMEOUT
    return MANUAL_TIMEOUTS.get(name, DEFAULT_TIMEOUT)
