"""Typed builders and results for the chapter 9 commands."""

from .timeouts import DEFAULT_TIMEOUT, MANUAL_TIMEOUTS, manual_timeout

__all__ = ["DEFAULT_TIMEOUT", "MANUAL_TIMEOUTS", "manual_timeout"]
