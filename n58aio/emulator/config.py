"""Configuration of an emulated N58 module."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .world import Registration, SimState

__all__ = ["EmulatorConfig", "Firmware"]

#: Firmware profile: ``"ch9"`` follows chapter 9 of the manual (TLS at most 1.2, ``ciphersuite``),
#: ``"v2"`` the v2.0 manual (``sslversion`` 4 = TLS 1.3, ``sni``, no ``ciphersuite``).
Firmware = Literal["ch9", "v2"]


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything that shapes one emulated module.

    ``resolve`` maps host names of URLs to addresses (checked before the system resolver); a
    ``"HOST:PORT"`` key with an ``"ADDRESS:PORT"`` value sends that port of that host elsewhere.
    ``fs_root`` is the directory serving as the module file system (a temporary directory when
    None), ``fs_capacity`` the bytes of its disk. ``baud`` paces every byte the module writes
    at ``baud / 10`` bytes per second (None: unpaced). ``tcp`` serves the module on a TCP port
    instead of a pseudo-terminal.
    ``firmware`` selects the ``AT+HTTPSCFG`` dialect and TLS abilities (see :data:`Firmware`).

    Bring-up: ``sim`` (``"ready"``, ``"pin"``, ``"puk"``, ``"absent"``) with ``sim_pin`` and
    ``sim_puk``; ``network_apn``, ``network_user``, ``network_password``: what ``AT+XIIC=1``
    requires (None: anything); ``registration`` (``"home"``, ``"roaming"``, ``"searching"``,
    ``"denied"`` with ``reject_cause``, ``"idle"``); ``csq`` (0-31, 99 unknown); ``auto_baud``:
    silent after boot until the first ``AT``, then ``OK`` and ``+PBREADY`` (ch02);
    ``boot_report``: False boots (and restarts) without a ``+PBREADY`` the host can see.
    ``cmux``: False answers ``AT+CMUX`` with ``ERROR`` (firmware without multiplexing).
    """

    resolve: dict[str, str] = field(default_factory=dict)
    fs_root: Path | None = None
    fs_capacity: int = 1 << 20
    baud: int | None = None
    chunk_size: int = 1460
    command_latency: float = 0.0
    echo: bool = True
    echo_body: bool = True
    trailing_crlf: bool = True
    tcp: tuple[str, int] | None = None
    attach_delay: float = 0.0
    pdp_up: bool = False
    connect_timeout: float = 10.0
    setup_fail_style: Literal["error", "fail"] = "error"
    prompt: bytes = b"\r\n>"
    data_timeout: float = 30.0
    relay_buffer: int = 65536
    boot_delay: float = 0.0
    cmee: int = 1
    firmware: Firmware = "ch9"
    sim: SimState = "ready"
    sim_pin: str = "1234"
    sim_puk: str = "12345678"
    network_apn: str | None = None
    network_user: str | None = None
    network_password: str | None = None
    registration: Registration = "home"
    reject_cause: int | None = None
    csq: int = 24
    auto_baud: bool = False
    boot_report: bool = True
    cmux: bool = True

    def __post_init__(self) -> None:
        if self.chunk_size < 1:
            raise ValueError("chunk_size must be >= 1")
        if self.baud is not None and self.baud < 10:
            raise ValueError("baud must be >= 10 (or None for unpaced output)")
        if self.setup_fail_style not in ("error", "fail"):
            raise ValueError("setup_fail_style must be 'error' or 'fail'")
        if self.firmware not in ("ch9", "v2"):
            raise ValueError("firmware must be 'ch9' or 'v2'")
        if self.cmee not in (0, 1, 2):
            raise ValueError("cmee must be 0, 1 or 2")
        if self.relay_buffer < self.chunk_size:
            raise ValueError("relay_buffer must be >= chunk_size")
        if self.sim not in ("ready", "pin", "puk", "absent"):
            raise ValueError("sim must be 'ready', 'pin', 'puk' or 'absent'")
        if self.registration not in ("home", "roaming", "searching", "denied", "idle"):
            raise ValueError("registration must be home, roaming, searching, denied or idle")
        if not (0 <= self.csq <= 31 or self.csq == 99):
            raise ValueError("csq must be 0-31 or 99")
        if self.data_timeout <= 0:
            raise ValueError("data_timeout must be > 0")
