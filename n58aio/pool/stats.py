"""Monitoring figures of a :class:`~n58aio.pool.ModemPool`: per modem and pool totals."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["ModemState", "ModemStats", "PoolStats"]

ModemState = Literal["opening", "healthy", "busy", "quarantined", "reopening", "closed"]
"""``opening``: first open in progress; ``healthy``: idle and usable; ``busy``: running a request
or a health check; ``quarantined``: failed, waiting for the next reopen attempt;
``reopening``: a reopen attempt is in progress; ``closed``: the pool is closed."""


@dataclass(frozen=True, slots=True)
class ModemStats:
    """One modem of the pool at the time of :meth:`~n58aio.pool.ModemPool.stats`.

    ``requests`` counts request attempts, ``bytes`` response body bytes received, ``errors``
    failed attempts and failed health checks, ``reopens`` successful reopens after a
    quarantine, ``recent_errors`` errors within the scheduling window. The supervision's
    counts: ``restarts`` of the module, ``link_losses`` and ``registration_losses``,
    ``resets`` sent to a module that answered nothing, ``recoveries`` (brought up again),
    ``unresponsive`` (no answer at any rate), ``recovery_failures``; ``resends``: requests
    sent again on this modem after it recovered (see :class:`~n58aio.RetryPolicy`).
    """

    name: str
    url: str
    state: ModemState
    requests: int
    bytes: int
    errors: int
    recent_errors: int
    reopens: int
    last_error: str | None
    restarts: int = 0
    link_losses: int = 0
    registration_losses: int = 0
    resets: int = 0
    recoveries: int = 0
    unresponsive: int = 0
    recovery_failures: int = 0
    resends: int = 0


@dataclass(frozen=True, slots=True)
class PoolStats:
    """The pool's modems and totals; ``retries`` counts requests and ranges sent again on
    another modem after a fault, ``waiting`` callers waiting for a modem."""

    modems: tuple[ModemStats, ...]
    requests: int
    bytes: int
    errors: int
    retries: int
    waiting: int

    @property
    def restarts(self) -> int:
        """Module restarts the supervision saw, all modems."""
        return sum(modem.restarts for modem in self.modems)

    @property
    def link_losses(self) -> int:
        """Data links lost, all modems."""
        return sum(modem.link_losses for modem in self.modems)

    @property
    def recoveries(self) -> int:
        """Times a modem was brought up again by the supervision, all modems."""
        return sum(modem.recoveries for modem in self.modems)

    @property
    def recovery_failures(self) -> int:
        """Recoveries that failed, all modems."""
        return sum(modem.recovery_failures for modem in self.modems)

    @property
    def resends(self) -> int:
        """Requests sent again on the same modem after it recovered, all modems."""
        return sum(modem.resends for modem in self.modems)

    @property
    def healthy(self) -> int:
        """Modems in service (idle or busy)."""
        return sum(1 for modem in self.modems if modem.state in ("healthy", "busy"))

    @property
    def quarantined(self) -> int:
        """Modems out of service (quarantined or being reopened)."""
        return sum(1 for modem in self.modems if modem.state in ("quarantined", "reopening"))

    def by_state(self) -> dict[ModemState, int]:
        """How many modems are in each state."""
        counts: dict[ModemState, int] = {}
        for modem in self.modems:
            counts[modem.state] = counts.get(modem.state, 0) + 1
        return counts
