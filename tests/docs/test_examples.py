"""Every example of README.md and docs/*.md runs (issue #15): the Python blocks in a subprocess,
the shell blocks' ``n58aio`` lines through a shell, each against a fresh emulated N58 on a pty
and the local origins (HTTP, and HTTPS with a CA on the module's file system as ``ca.pem``).

Markers, an HTML comment on the line right before a fence (the reader still sees plain code):

* ``<!-- example: fragment -->``: shown, not run (a signature, a shape); use sparingly.
* ``<!-- example: continues -->``: joined to the previous Python block of the same file and
  run with it, as one program.
* ``<!-- example: modem -->``: the block runs as the body of
  ``async with n58aio.open_modem("/dev/ttyUSB0") as modem:`` after ``await modem.attach()``
  (with ``asyncio``, ``httpx`` and ``n58aio`` imported); the page says its snippets use one.

A block with a top-level ``await`` runs as ``python -m asyncio`` would run it (wrapped in a
coroutine). The examples keep their placeholders (``/dev/ttyUSB0``, ``example.com``); only the
strings in ``REWRITES`` are replaced, by the emulator's device and the origins' ports.
``example.com`` resolves to 127.0.0.1 in the emulator, and the TLS origin's certificate is
issued for it. Shell lines that cannot run here are listed in ``SKIPPED_LINES`` with a reason.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import shlex
import signal
import sys
import textwrap
import zipfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import pytest_asyncio

from n58aio.emulator import Emulator, EmulatorConfig
from n58aio.emulator.origin import OriginServer, RecordedRequest, pattern_bytes
from n58aio.emulator.tlsfiles import TLSFiles

pytestmark = pytest.mark.asyncio(loop_scope="module")

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_EXAMPLES = {"reference.md"}  # the generated API reference
EXAMPLE_TIMEOUT = 60.0

#: The files the origin serves below /files/ (what the examples download): their content.
SERVED_FILE = pattern_bytes(0, 300_000)
SERVED_FILES = ("big.bin", "firmware.bin", "fw.bin", "small.txt")

#: A zip archive the origin serves as /files/fw/pack.zip (deterministic: its MD5 is in the docs).
def _pack_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        entry = zipfile.ZipInfo("fw.bin", date_time=(2026, 1, 1, 0, 0, 0))
        archive.writestr(entry, b"firmware 1.2.3\n")
    return buffer.getvalue()


#: The paths OriginServer answers with something else than 404 (see its module docstring).
ORIGIN_ROUTES = re.compile(r"^/(bytes/\d+|json/\d+|files/.+|status/\d+|echo|upload/.+|auth|redirect)$")

#: Examples that talk neither to a modem nor to a server: (page, a line of the example, why).
QUIET_EXAMPLES = (
    ("docs/usage.md", 'cipher_suite="0xC02B")', "builds TLSConfig values"),
    ("docs/usage.md", "logging.basicConfig(level=logging.INFO)", "turns logging on"),
    ("docs/httpx-users.md", "async def fetch(", "a typed function (tests/typing checks it)"),
    ("docs/emulator.md", "EmulatorConfig(", "runs an emulator of its own"),
)

#: Files on the emulated module's file system besides the TLS files (ca.pem, cc.pem, ck.pem).
MODULE_FILES = ("log.txt",)

#: Local files in an example's working directory (paths the examples name): their sizes.
LOCAL_FILES = {"build/fw.bin": len(SERVED_FILE), "body.bin": 1000, "logs/today.txt": 5000}

#: Placeholder (a regular expression) -> what the example gets instead: the origins' ports
#: (``{http}``, ``{https}``), the emulators' ptys (``{device}``, ``{device2}``) and the TCP URL
#: of a third emulator (``{tcp}``). A URL with a port of its own is left alone.
REWRITES = (
    (r"http://example\.com(?![\w.:-])", "http://example.com:{http}"),
    (r"https://example\.com(?![\w.:-])", "https://example.com:{https}"),
    (r"/dev/ttyUSB0\b", "{device}"),
    (r"/dev/ttyUSB1\b", "{device2}"),
    (r"/dev/pts/N\b", "{device}"),
    (r"socket://10\.0\.0\.9:4001\b", "{tcp}"),
)

#: Shell lines not run, with the reason (matched as a regular expression on the line).
SKIPPED_LINES = (
    (r"^(make|pip) ", "builds or installs: what the test suite itself runs in"),
    (r"&(\s*#.*)?$", "starts a background process; the next lines use the emulator instead"),
    (r"^n58aio demo( --size 4MB)?(\s*#.*)?$", "12 s and 46 s of paced demo: the CLI tests run it"),
    (r"^(?!.*\bn58aio\b)", "not an n58aio command (system tools, python -m benchmarks)"),
)

#: Shell lines that read stdin, and what the test types (a pipe, as the page says it may be).
STDIN_FOR = ((r"^n58aio at(\s*#.*)?$", b"ATI\nAT+CSQ\n"),)

#: Shell lines that talk to no modem of the test's, with the reason.
SELF_CONTAINED = ((r"^n58aio demo\b", "runs an emulator and an origin of its own"),)

#: Signs on an example's stderr that something went wrong even though it exited with 0.
BROKEN = ("Traceback", "Task was destroyed", "was never awaited", "Unclosed", "Exception ignored")

_MARKER = re.compile(r"^<!--\s*example:\s*(\w+)\s*-->$")
_FENCE = re.compile(r"^```(\w+)\s*$")


@dataclass
class Example:
    """One runnable unit: a Python block (with the blocks that continue it) or a shell block."""

    page: str
    line: int
    lang: str
    marker: str | None
    code: str

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _blocks(path: Path) -> Iterator[Example]:
    lines = path.read_text(encoding="utf-8").splitlines()
    page = str(path.relative_to(ROOT))
    i = 0
    while i < len(lines):
        fence = _FENCE.match(lines[i])
        if fence is None:
            i += 1
            continue
        start = i
        j = i + 1
        while j < len(lines) and lines[j].strip() != "```":
            j += 1
        previous = next((t.strip() for t in reversed(lines[:start]) if t.strip()), "")
        marker = _MARKER.match(previous)
        code = "\n".join(lines[start + 1 : j]) + "\n"
        yield Example(page, start + 1, fence[1], marker[1] if marker else None, code)
        i = j + 1


def collect(lang: str) -> list[Example]:
    """The examples of one kind ("python" or "sh"), continued blocks joined."""
    kinds = {"python": ("python",), "sh": ("sh", "console")}[lang]
    units: list[Example] = []
    for path in PAGES:
        if path.name in NOT_EXAMPLES:
            continue
        last: Example | None = None
        for block in _blocks(path):
            if block.lang not in kinds:
                continue
            if block.marker == "continues":
                assert last is not None, f"{block.where}: 'continues' without a block before it"
                last.code += block.code
                continue
            units.append(block)
            last = block
    return units


def _param(example: Example) -> object:
    marks = [pytest.mark.skip(reason="fragment")] if example.marker == "fragment" else []
    return pytest.param(example, id=example.where, marks=marks)


# -- the far end: origins shared by the module, a fresh emulator per example --------------------


@pytest.fixture(scope="module")
def example_tls() -> TLSFiles:
    return TLSFiles.generate(("example.com", "localhost", "127.0.0.1"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("served")
    for name in SERVED_FILES:
        (root / name).write_bytes(SERVED_FILE)
    (root / "fw").mkdir()
    (root / "fw" / "pack.zip").write_bytes(_pack_zip())
    return root


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def http_origin(served: Path) -> AsyncIterator[OriginServer]:
    async with OriginServer(files=served) as server:
        yield server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def https_origin(served: Path, example_tls: TLSFiles) -> AsyncIterator[OriginServer]:
    async with OriginServer(files=served, tls=example_tls) as server:
        yield server


@dataclass
class FarEnd:
    """What one example talks to, and the directory it runs in."""

    values: dict[str, str]
    workdir: Path
    emulators: list[Emulator]
    origins: list[OriginServer]
    served: Path
    _seen: list[int] = field(default_factory=list)
    _written: list[int] = field(default_factory=list)

    def mark(self) -> None:
        """Start counting what the example does from here."""
        self._seen = [len(origin.requests) for origin in self.origins]
        self._written = [emulator.bytes_written for emulator in self.emulators]

    def requests(self) -> list[RecordedRequest]:
        """The requests the origins received since :meth:`mark`."""
        return [r for o, n in zip(self.origins, self._seen, strict=True) for r in o.requests[n:]]

    def talked(self) -> bool:
        """True when an emulator answered something or an origin got a request since mark."""
        written = [emulator.bytes_written for emulator in self.emulators]
        return bool(self.requests()) or written != self._written

    def unserved(self) -> list[str]:
        """Paths asked for since mark that the origin does not serve (a 404 in an example)."""
        missing = []
        for request in self.requests():
            path = request.path
            served = ORIGIN_ROUTES.match(path) is not None
            if path.startswith("/files/"):
                served = (self.served / path.removeprefix("/files/")).is_file()
            if not served:
                missing.append(f"{request.method} {request.target}")
        return missing

    def rewrite(self, text: str) -> str:
        for placeholder, replacement in REWRITES:
            text = re.sub(placeholder, replacement.format(**self.values), text)
        return text

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("N58_")}
        env["N58_DEVICE"] = self.values["device"]  # as cli.md assumes; blocks may export it
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        return env


@pytest_asyncio.fixture(loop_scope="module")
async def far_end(
    tmp_path: Path,
    example_tls: TLSFiles,
    served: Path,
    http_origin: OriginServer,
    https_origin: OriginServer,
) -> AsyncIterator[FarEnd]:
    module_fs = tmp_path / "module-fs"
    module_fs.mkdir()
    example_tls.write_to(module_fs)
    for name in MODULE_FILES:
        (module_fs / name).write_bytes(SERVED_FILE[:8192])
    workdir = tmp_path / "work"
    workdir.mkdir()
    for name, size in LOCAL_FILES.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_bytes(SERVED_FILE[:size])
    local_tls = {
        "ca.pem": example_tls.ca_cert_pem,
        "certs/private-ca.pem": example_tls.ca_cert_pem,
        "me.crt": example_tls.client_cert_pem,
        "me.key": example_tls.client_key_pem,
    }
    for name, pem in local_tls.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_bytes(pem)
    resolve = {"example.com": "127.0.0.1", "localhost": "127.0.0.1"}
    emulators = [
        Emulator(EmulatorConfig(fs_root=module_fs, resolve=resolve)),
        Emulator(EmulatorConfig(resolve=resolve)),
        Emulator(EmulatorConfig(resolve=resolve, tcp=("127.0.0.1", 0))),
    ]
    for emulator in emulators:
        await emulator.start()
    try:
        values = {
            "http": str(http_origin.port),
            "https": str(https_origin.port),
            "device": emulators[0].device,
            "device2": emulators[1].device,
            "tcp": emulators[2].url,
        }
        far = FarEnd(values, workdir, emulators, [http_origin, https_origin], served)
        far.mark()
        yield far
    finally:
        for emulator in emulators:
            await emulator.close()


# -- running ----------------------------------------------------------------------------------


def program(example: Example, far: FarEnd) -> str:
    """The example as a script: placeholders rewritten, wrapped where it needs a coroutine."""
    code = far.rewrite(example.code)
    if example.marker == "modem":
        device = far.values["device"]
        return (
            "import asyncio\nimport httpx\nimport n58aio\n\n"
            "async def _example() -> None:\n"
            f"    async with n58aio.open_modem({device!r}) as modem:\n"
            "        await modem.attach()\n"
            f"{textwrap.indent(code, ' ' * 8)}\n"
            "asyncio.run(_example())\n"
        )
    try:
        compile(code, example.where, "exec")
    except SyntaxError as exc:
        if "outside" not in str(exc.msg):  # 'await' / 'async with' outside async function
            raise
        return (
            "import asyncio\n\nasync def _example() -> None:\n"
            f"{textwrap.indent(code, '    ')}\n"
            "asyncio.run(_example())\n"
        )
    return code


async def _run(
    argv: list[str], far: FarEnd, *, env: dict[str, str] | None = None, stdin: bytes | None = None
) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=far.workdir,
        env=env or far.env(),
        stdin=asyncio.subprocess.DEVNULL if stdin is None else asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(EXAMPLE_TIMEOUT):
            out, err = await process.communicate(stdin)
    except TimeoutError:
        process.kill()
        await process.wait()
        return -1, "", f"timed out after {EXAMPLE_TIMEOUT} s"
    assert process.returncode is not None
    return process.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.splitlines()[-lines:])


@pytest.mark.parametrize("example", [_param(e) for e in collect("python")])
async def test_python_example(example: Example, far_end: FarEnd) -> None:
    script = far_end.workdir / "example.py"
    script.write_text(program(example, far_end), encoding="utf-8")
    status, out, err = await _run([sys.executable, str(script)], far_end)
    assert status == 0, f"{example.where}: exit status {status}\n{_tail(err)}\n--- stdout\n{out}"
    for sign in BROKEN:
        assert sign not in err, f"{example.where}: {sign!r} on stderr\n{_tail(err)}"
    if os.environ.get("SHOW_EXAMPLE_OUTPUT"):
        print(f"\n=== {example.where}\n{out}\n--- stderr\n{err}")
    assert far_end.unserved() == [], f"{example.where}: paths the origin does not serve"
    quiet = any(page == example.page and line in example.code for page, line, _ in QUIET_EXAMPLES)
    assert far_end.talked() != quiet, f"{example.where}: talked to the far end: {not quiet}?"


def shell_lines(example: Example) -> Iterator[tuple[int, str]]:
    """(line number, command) of a shell block: ``$ `` prompts and comment lines dropped."""
    pending = ""
    for offset, raw in enumerate(example.code.splitlines(), start=1):
        text = raw.strip()
        if example.lang == "console":
            if not text.startswith("$ "):
                continue  # output
            text = text[2:]
        if not text or text.startswith("#"):
            continue
        if text.endswith("\\"):
            pending += text[:-1] + " "
            continue
        yield example.line + offset, pending + text
        pending = ""


def skip_reason(command: str) -> str | None:
    for pattern, reason in SKIPPED_LINES:
        if re.search(pattern, command):
            return reason
    return None


async def _run_until_ready(command: str, far: FarEnd, env: dict[str, str]) -> tuple[int, str]:
    """A command that runs until interrupted (``n58aio emulate``): its first line, then SIGINT."""
    process = await asyncio.create_subprocess_exec(
        "sh",
        "-c",
        f"exec {command}",
        cwd=far.workdir,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert process.stdout is not None
    try:
        async with asyncio.timeout(EXAMPLE_TIMEOUT):
            first = (await process.stdout.readline()).decode().strip()
    finally:
        process.send_signal(signal.SIGINT)
        status = await process.wait()
    return status, first


@pytest.mark.parametrize("example", [_param(e) for e in collect("sh")])
async def test_shell_example(example: Example, far_end: FarEnd) -> None:
    env = far_end.env()
    ran = 0
    for line, command in shell_lines(example):
        command = far_end.rewrite(command)
        where = f"{example.page}:{line}"
        words = shlex.split(command, comments=True)
        if words and words[0] == "export":
            name, _, value = words[1].partition("=")
            env[name] = value
            continue
        if skip_reason(command) is not None:
            continue
        ran += 1
        if words[:2] == ["n58aio", "emulate"] and "&" not in command:
            status, first = await _run_until_ready(command, far_end, env)
            assert status in (0, 130) and first, f"{where}: emulate gave {status}, {first!r}"
            continue
        far_end.mark()
        stdin = next((data for pattern, data in STDIN_FOR if re.search(pattern, command)), None)
        status, out, err = await _run(["sh", "-c", command], far_end, env=env, stdin=stdin)
        assert status == 0, f"{where}: {command}\nexit {status}\n{_tail(err)}\n--- stdout\n{out}"
        assert far_end.unserved() == [], f"{where}: paths the origin does not serve"
        if not any(re.search(pattern, command) for pattern, _ in SELF_CONTAINED):
            assert far_end.talked(), f"{where}: neither the modem nor the origin saw anything"
    if ran == 0:
        pytest.skip("no n58aio line to run")
