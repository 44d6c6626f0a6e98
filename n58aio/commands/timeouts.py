"""Per-command response timeouts from the N58 manual (a view of :mod:`.specs`)."""

from __future__ import annotations

from .specs import DEFAULT_SPEC, SPECS, spec_for

__all__ = ["DEFAULT_TIMEOUT", "MANUAL_TIMEOUTS", "manual_timeout"]

MANUAL_TIMEOUTS: dict[str, float] = {name: spec.timeout for name, spec in SPECS.items()}
"""The manual's timeout of each command the table lists, by name."""

DEFAULT_TIMEOUT = DEFAULT_SPEC.timeout
"""Timeout of commands the chapter does not cover (``AT``, ``ATE0``, ``AT+CMEE`` ...)."""


def manual_timeout(command: str) -> float:
    """The manual's response timeout of ``command`` (the module's own limit), in seconds."""
    return spec_for(command).timeout
