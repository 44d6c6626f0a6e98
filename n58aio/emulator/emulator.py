"""The :class:`Emulator`: one emulated N58 module served on a pseudo-terminal or a TCP port."""

from __future__ import annotations

import asyncio
import itertools
import tempfile
from pathlib import Path
from types import TracebackType

import structlog

from ..logs import get_logger
from .config import EmulatorConfig
from .faults import Faults
from .filesystem import ModuleFS
from .linerate import LineRate
from .module import Module
from .output import OutputChannel, OutputFaults, Pacer
from .serial_front import PtyFront, TcpFront

__all__ = ["Emulator"]

_ids = itertools.count(1)


class Emulator:
    """An emulated N58 module.

    Use as ``async with Emulator(config) as emu:``; clients open :attr:`url` (with pyserial or
    pyserial-asyncio). Several emulators can run in one process.
    """

    def __init__(self, config: EmulatorConfig | None = None) -> None:
        self.config = config or EmulatorConfig()
        self.ident = next(_ids)
        self.log: structlog.typing.FilteringBoundLogger = get_logger(
            "n58aio.emulator", emulator=self.ident
        )
        self._front: PtyFront | TcpFront | None = None
        self._module: Module | None = None
        self._output: OutputChannel | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._fs: ModuleFS | None = None
        self._closed = asyncio.Event()
        self._started = False
        self._rate: LineRate | None = None
        self._received = 0

    # ------------------------------------------------------------------ lifecycle

    async def start(self) -> Emulator:
        """Open the port and boot the module (``+PBREADY`` is its first output)."""
        if self._started:
            raise RuntimeError("emulator already started")
        self._started = True
        root = self.config.fs_root
        if root is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix=f"n58emu{self.ident}-")
            root = Path(self._tmpdir.name)
        self._fs = ModuleFS(root, self.config.fs_capacity)
        output_faults = OutputFaults()
        try:
            if self.config.tcp is None:
                self._front = PtyFront(self._on_input, self.log)
            else:
                tcp = TcpFront(self._on_input, self.log)
                self._front = tcp
                await tcp.start(*self.config.tcp)
        except BaseException:
            self._cleanup_tmp()
            raise
        self._output = OutputChannel(
            self._write_port, Pacer(self.config.baud), output_faults, self.log
        )
        pty = self._front
        host_rate = pty.host_rate if isinstance(pty, PtyFront) else (lambda: None)
        self._rate = LineRate(host_rate, self.config.auto_baud)
        self._module = Module(
            self.config,
            self._fs,
            self._output,
            output_faults,
            self.log,
            self.ident,
            self._drop,
            self._rate,
        )
        self._output.start()
        self._module.start()
        self.log.info("emulator started", url=self.url)
        return self

    async def close(self) -> None:
        """Stop the module, cancel its tasks and release the port, sockets and temp files."""
        if self._module is not None:
            await self._module.shutdown()
        if self._output is not None:
            await self._output.close()
        if self._front is not None:
            await self._front.close()
        self._cleanup_tmp()
        if not self._closed.is_set():
            self._closed.set()
            self.log.info("emulator closed")

    def _cleanup_tmp(self) -> None:
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def wait_closed(self) -> None:
        """Wait until :meth:`close` has finished."""
        await self._closed.wait()

    async def _write_port(self, data: bytes) -> None:
        if self._front is None:
            raise OSError("port closed")
        if self._rate is not None and self._rate.mismatch():
            data = self._rate.garble(data)  # the host listens at another rate
        await self._front.write(data)

    def _on_input(self, data: bytes) -> None:
        self._received += len(data)
        if self._module is not None:
            self._module.feed(data)

    def _drop(self) -> None:
        if self._front is not None:
            self._front.close_now()

    # ------------------------------------------------------------------ accessors

    def _need_module(self) -> Module:
        if self._module is None:
            raise RuntimeError("emulator not started")
        return self._module

    @property
    def url(self) -> str:
        """What a client opens: the pty path, or ``socket://host:port`` in TCP mode."""
        if self._front is None:
            raise RuntimeError("emulator not started")
        return self._front.url

    @property
    def device(self) -> str:
        """The pty device path (``/dev/pts/N``); the ``socket://`` URL in TCP mode."""
        return self.url

    @property
    def faults(self) -> Faults:
        """Fault injection controls."""
        return self._need_module().faults

    @property
    def fs_root(self) -> Path:
        """Directory holding the module file system."""
        if self._fs is None:
            raise RuntimeError("emulator not started")
        return self._fs.root

    @property
    def alive(self) -> bool:
        """False once the port was dropped or the emulator closed."""
        return self._module is not None and not self._module.dead

    @property
    def pdp_up(self) -> bool:
        """Whether the data link (``AT+XIIC``) is up."""
        return self._need_module().state.pdp_up

    @property
    def line_rate(self) -> int | None:
        """The rate the module runs at (None: auto-baud, not locked yet)."""
        return self._rate.module_rate if self._rate is not None else None

    @property
    def host_rate(self) -> int | None:
        """The rate the client set on the pty (None in TCP mode)."""
        return self._rate.host if self._rate is not None else None

    @property
    def mux_dlcs(self) -> tuple[int, ...] | None:
        """The open DLCs in multiplexer mode (``AT+CMUX``), None in AT mode."""
        mux = self._need_module().mux
        return None if mux is None else tuple(sorted(mux.ports))

    @property
    def sim_unlocked(self) -> bool:
        """Whether the SIM was unlocked with its PIN since the last restart."""
        return self._need_module().state.sim_unlocked

    @property
    def bytes_written(self) -> int:
        """Bytes written to the serial port so far."""
        return self._output.written if self._output is not None else 0

    @property
    def bytes_received(self) -> int:
        """Bytes the host wrote to the module so far."""
        return self._received

    @property
    def pending_output(self) -> int:
        """Bytes queued for the serial port and not written yet (bounded by the relay)."""
        return self._output.pending if self._output is not None else 0

    async def drain(self) -> None:
        """Wait until all queued output has been written to the port."""
        if self._output is not None:
            await self._output.drain()
