"""What the channel knows of each command, as data: one :class:`CommandSpec` per command name.

The manual's response timeout (the module's own limit), the prefix of its reply lines, the
reply values that end it as a failure, whether it waits for a ``>`` prompt, the payload family it
belongs to, and the reports that close that family's link. The channel core, the HTTP client
and :mod:`~n58aio.commands.timeouts` read this table; nothing else keeps a copy.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from ..wire import Source, command_name
from .http import HTTP, HTTPS

__all__ = [
    "CLOSE_COMMAND",
    "CLOSE_COMMANDS",
    "DEFAULT_SPEC",
    "LINK_CLOSED",
    "RESTARTED",
    "SPECS",
    "CommandSpec",
    "spec_for",
]

RESTARTED = "+PBREADY"
"""The report a module prints when it has (re)started."""


@dataclass(frozen=True, slots=True)
class CommandSpec:
    """One command's facts (chapter 9 of the manual and the wire notes)."""

    name: str | None
    timeout: float = 5.0
    """The manual's response timeout in seconds (5 s for commands it does not cover)."""
    reply_prefix: str | None = None
    """``+NAME`` of its reply lines (default: its own name)."""
    failure_names: frozenset[str] = frozenset()
    """Reply names whose ``FAIL``/``ERROR`` value ends it as a failure."""
    prompt: bool = False
    """It waits for ``>`` and the data (POST bodies, custom packets)."""
    family: Source | None = None
    """The payload family whose link it works on."""
    closes_link: bool = False
    """It closes its family's link (answered after the module wrote out what it holds)."""


_SETUP_FAILURES = frozenset({"HTTPSEND", "HTTPSSEND", "HTTPSETUP", "HTTPSSETUP"})


def _family(source: Source) -> list[CommandSpec]:
    p = source
    fails = _SETUP_FAILURES
    return [
        CommandSpec(f"{p}PARA", 0.3, family=source),
        CommandSpec(f"{p}SETUP", 30.0, failure_names=fails, family=source),
        CommandSpec(f"{p}ACTION", 30.0, failure_names=fails, prompt=True, family=source),
        CommandSpec(f"{p}CLOSE", 0.3, failure_names=fails, family=source, closes_link=True),
        CommandSpec(f"{p}GET", 0.3, family=source),
        CommandSpec(f"{p}GETSTAT", 0.3, family=source),
        CommandSpec(f"FILE{p}ACTION", 0.3, family=source),
    ]


SPECS: dict[str, CommandSpec] = {
    spec.name: spec
    for spec in [
        *_family("HTTP"),
        *_family("HTTPS"),
        CommandSpec("HTTPSCFG", 0.3, family="HTTPS"),
        # outside chapter 9: dialling the data link can take a while
        CommandSpec("XIIC", 30.0),
    ]
    if spec.name is not None
}
"""Every command the channel knows more of than the defaults, by name."""

DEFAULT_SPEC = CommandSpec(None)
"""Commands the table does not list (``AT``, ``ATE0``, ``AT+CMEE`` ...)."""

CLOSE_COMMAND: dict[Source, str] = {family.source: family.close() for family in (HTTP, HTTPS)}
"""The command line that closes each family's link."""
CLOSE_COMMANDS = frozenset(name for name, spec in SPECS.items() if spec.closes_link)
LINK_CLOSED: dict[Source, tuple[str, str]] = {
    family.source: family.closed_reports() for family in (HTTP, HTTPS)
}
"""The report prefixes that say each family's link closed."""


@functools.lru_cache(maxsize=512)
def spec_for(command: str) -> CommandSpec:
    """The :class:`CommandSpec` of a command line (cached: the same lines recur)."""
    name = command_name(command)
    if name is None:
        return DEFAULT_SPEC
    return SPECS.get(name, DEFAULT_SPEC)
