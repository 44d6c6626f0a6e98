"""Unlocking the SIM without ever risking its PUK: the PIN rules of one process.

A SIM blocks after three wrong PINs (v2.0 manual ch04, ``AT+CPIN``). The N58 has no command
that tells how many tries remain (ch04 and ch30 offer ``AT+CPIN``, ``AT+CLCK``, ``AT+CPWD`` and
``AT+SIMCROSS`` only; no ``+CPINR``-style counter), so this module counts what it did itself:

* a PIN is sent only when ``AT+CPIN?`` says ``SIM PIN`` just before;
* after ``AT+CPIN="..."``, the state is read again before judging (a damaged echo or a lost
  ``OK`` must not turn a right PIN into a wrong one): ``READY`` is success whatever the answer;
* a PIN refused, or whose outcome stayed unclear (no answer, an answer the line damaged), is
  remembered for the life of the process in :data:`PIN_REGISTRY`, keyed by the card (its ICCID,
  ``AT+CCID``, readable while the card is locked) or, without one, by the port; it is refused
  locally from then on, by every modem object, attach and recovery of the process;
* after two such attempts on one card no PIN at all is sent: at most one try could remain,
  and a wrong one would block the card.

The registry keeps a keyed hash of a failed PIN (with a key drawn at start), never the PIN.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

import structlog

from .channel import ModemChannel
from .commands.network import parse_cpin, parse_value
from .errors import (
    CommandError,
    N58Error,
    NoSimError,
    PinUnclearError,
    PinWithheldError,
    SimPinRequired,
    SimPukRequired,
    WrongPinError,
)

__all__ = ["MAX_UNCLEAR_ATTEMPTS", "PIN_REGISTRY", "PinRegistry", "card_identity", "unlock_sim"]

MAX_UNCLEAR_ATTEMPTS = 2
"""Failed or unclear PIN attempts on one card after which no PIN is sent any more (the SIM's
three tries minus the one that must stay)."""
_CPIN_STATE_READS = 3


@dataclass
class _Card:
    failed: set[bytes] = field(default_factory=set)
    attempts: int = 0


class PinRegistry:
    """What this process learnt about the PINs it sent, per card."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._cards: dict[str, _Card] = {}

    def _digest(self, pin: str) -> bytes:
        return hmac.new(self._key, pin.encode("ascii"), hashlib.sha256).digest()

    def refusal(self, card: str, pin: str) -> str | None:
        """Why ``pin`` must not be sent to ``card`` (None: it may)."""
        known = self._cards.get(card)
        if known is None:
            return None
        if self._digest(pin) in known.failed:
            return "this PIN was refused, or its outcome stayed unclear, earlier in this process"
        if known.attempts >= MAX_UNCLEAR_ATTEMPTS:
            return (
                f"{known.attempts} PIN attempts on this SIM failed or stayed unclear in this "
                "process: one more wrong PIN could block it"
            )
        return None

    def failed(self, card: str, pin: str) -> None:
        """``pin`` was refused by ``card``, or its outcome is unknown."""
        known = self._cards.setdefault(card, _Card())
        known.failed.add(self._digest(pin))
        known.attempts += 1

    def accepted(self, card: str, pin: str) -> None:
        """``card`` took ``pin``: the SIM's counter is back to three."""
        known = self._cards.get(card)
        if known is not None:
            known.failed.discard(self._digest(pin))
            known.attempts = 0

    def forget(self) -> None:
        """Clear everything (for tests, or after a person unblocked the card by hand)."""
        self._cards.clear()


PIN_REGISTRY = PinRegistry()
"""The process-wide registry every bring-up consults."""


async def card_identity(channel: ModemChannel, port: str) -> str:
    """``iccid:<ICCID>`` when the module tells it, else ``port:<port>``."""
    try:
        iccid = parse_value((await channel.command("AT+CCID")).lines, "+CCID")
    except CommandError:
        iccid = None
    return f"iccid:{iccid}" if iccid else f"port:{port}"


_NO_SIM = frozenset({"NO SIM", "NOT INSERTED", "SIM NOT INSERTED"})


async def _sim_state(channel: ModemChannel) -> str | None:
    """``AT+CPIN?``: ``READY``, ``SIM PIN``, ... (None: no usable answer). Without a SIM the
    N58 answers ``+CPIN: NO SIM`` then ``OK`` (captured); 27.007 modules ``+CME ERROR: 10``."""
    try:
        state = parse_cpin((await channel.command("AT+CPIN?")).lines)
    except CommandError as exc:
        if exc.code == 10 or "NO SIM" in exc.text.upper():
            raise NoSimError() from None
        raise
    if state in _NO_SIM:
        raise NoSimError()
    return state


async def _state_after(channel: ModemChannel) -> str | None:
    """The SIM state after a PIN was sent, read again until the module answers (bounded)."""
    for _ in range(_CPIN_STATE_READS):
        try:
            state = await _sim_state(channel)
        except NoSimError:
            raise
        except N58Error:
            continue
        if state is not None:
            return state
    return None


async def unlock_sim(
    channel: ModemChannel,
    pin: str | None,
    port: str,
    log: structlog.typing.FilteringBoundLogger,
    registry: PinRegistry = PIN_REGISTRY,
) -> bool:
    """Unlock the SIM when it asks now, under the rules of the module docstring; True when a
    PIN was sent and taken."""
    state = await _sim_state(channel)
    if state == "READY":
        return False
    if state == "SIM PUK":
        raise SimPukRequired()
    if state != "SIM PIN":
        raise NoSimError() if state is None else SimPukRequired()
    if pin is None:
        raise SimPinRequired()
    card = await card_identity(channel, port)
    reason = registry.refusal(card, pin)
    if reason is not None:
        log.warning("bringup.pin_withheld")
        raise PinWithheldError(reason)
    registry.failed(card, pin)  # until the module's state says otherwise: unclear
    log.info("bringup.pin_sent")
    answer: str
    try:
        await channel.command(f'AT+CPIN="{pin}"')
        answer = "ok"
        registry.accepted(card, pin)  # the module's own OK after its echo: taken
    except CommandError as exc:
        answer = "refused" if exc.code == 16 else "unclear"
    except N58Error:
        answer = "unclear"
    after = await _state_after(channel)
    if after == "READY":
        registry.accepted(card, pin)
        if answer != "ok":
            log.info("bringup.pin_taken_despite_answer", answer=answer)
        return True
    if answer == "ok":
        registry.failed(card, pin)  # an OK the state contradicts: unclear after all
    log.warning("bringup.pin_refused", answer=answer, state=after)
    if after == "SIM PUK":
        raise SimPukRequired() from None
    if answer == "refused" and after == "SIM PIN":
        raise WrongPinError() from None  # nothing of the command (its line) is chained
    raise PinUnclearError() from None
