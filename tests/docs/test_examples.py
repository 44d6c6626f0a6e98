"""Every example of README.md and docs/*.md runs (issue #15): the Python blocks in a subprocess,
the shell blocks' ``n58aio`` lines through ``sh``, each against emulated N58s of its own on
ptys and local origins of its own (HTTP, and HTTPS with the CA on the module as ``ca.pem``).

Markers, an HTML comment on the line right before a fence (the reader still sees plain code):

* ``<!-- example: fragment -->``: shown, not run (a signature, a shape); use sparingly.
* ``<!-- example: continues -->``: joined to the previous block of the same kind in the file
  and run with it, as one program.
* ``<!-- example: modem -->``: the block runs as the body of
  ``async with n58aio.open_modem("/dev/ttyUSB0") as modem:`` after ``await modem.attach()``
  (with ``asyncio``, ``httpx`` and ``n58aio`` imported); the page says its snippets use one.

A block with a top-level ``await`` runs as ``python -m asyncio`` would run it (wrapped in a
coroutine). The examples keep their placeholders (``/dev/ttyUSB0``, ``example.com``); only the
patterns in ``REWRITES`` are replaced, by the emulators' devices and the origins' ports:
``example.com`` resolves to 127.0.0.1 in the emulator and the TLS origin's certificate is issued
for it. Shell lines run with ``N58_DEVICE`` set (as the CLI page assumes); the lines not run are
in ``SKIPPED_LINES`` with the reason.

Besides its exit status, an example must leave no sign of trouble on stderr (``BROKEN``), ask
the origin only for paths it serves (``ORIGIN_ROUTES``, the files below ``/files/``), and talk
to the emulator or the origin (except ``QUIET_EXAMPLES`` and ``SELF_CONTAINED`` lines). The
examples run ``PARALLEL`` at a time, started by the first test; each test waits for its own.
"""

from __future__ import annotations

import asyncio
import contextlib
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

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
NOT_EXAMPLES = {"reference.md"}  # the generated API reference
EXAMPLE_TIMEOUT = 60.0
PARALLEL = 3

#: What the origin serves below /files/ (what the examples download) and its SHA-256 is
#: 2227d40edde0e56173945525741715bfabf69afd37111caf866734a7f79f7c3c, the one in the docs.
SERVED_FILE = pattern_bytes(0, 300_000)
SERVED_FILES = ("big.bin", "firmware.bin", "fw.bin", "small.txt")


def _pack_zip() -> bytes:
    """/files/fw/pack.zip: a zip archive, deterministic (its MD5 is in docs/downloads.md)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        entry = zipfile.ZipInfo("fw.bin", date_time=(2026, 1, 1, 0, 0, 0))
        archive.writestr(entry, b"firmware 1.2.3\n")
    return buffer.getvalue()


#: Files on the emulated module's file system besides the TLS files (ca.pem, cc.pem, ck.pem).
MODULE_FILES = {"log.txt": 8192}

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

#: The paths OriginServer answers with something else than 404 (see its module docstring).
ORIGIN_ROUTES = re.compile(r"^/(bytes/\d+|json/\d+|status/\d+|echo|upload/.+|auth|redirect)$")

#: Python examples that talk neither to a modem nor to a server: (page, a line of it, why).
QUIET_EXAMPLES = (
    ("docs/usage.md", 'cipher_suite="0xC02B")', "builds TLSConfig values"),
    ("docs/usage.md", "logging.basicConfig(level=logging.INFO)", "turns logging on"),
    ("docs/emulator.md", "EmulatorConfig(", "runs an emulator of its own"),
)

#: Shell lines not run, with the reason (regular expressions on the line).
SKIPPED_LINES = (
    (r"^(make|pip) ", "builds or installs: what the test suite itself runs in"),
    (r"&(\s*#.*)?$", "starts a background process; the next lines use the emulator instead"),
    (r"^n58aio demo( --size 4MB)?(\s*#.*)?$", "12 s and 46 s of paced demo: the CLI tests run it"),
    (r"^(?!.*\bn58aio\b)", "not an n58aio command (system tools, python -m benchmarks)"),
)

#: Shell lines that read stdin, and what the test types (a pipe, as cli.md says it may be).
STDIN_FOR = ((r"^n58aio at(\s*#.*)?$", b"ATI\nAT+CSQ\n"),)

#: Shell lines that talk to no emulator or origin of the test's, with the reason.
SELF_CONTAINED = ((r"^n58aio demo\b", "runs an emulator and an origin of its own"),)

#: Signs on an example's stderr that something went wrong even though it exited with 0.
BROKEN = ("Traceback", "Task was destroyed", "was never awaited", "Unclosed", "Exception ignored")

_MARKER = re.compile(r"^<!--\s*example:\s*(\w+)\s*-->$")
_FENCE = re.compile(r"^```(\w+)\s*$")
_KINDS = {"python": ("python",), "sh": ("sh", "console")}


# -- collecting ---------------------------------------------------------------------------------


@dataclass
class Example:
    """One runnable unit: a block, with the blocks that continue it."""

    page: str
    line: int  # of the opening fence
    lang: str
    marker: str | None
    code: str
    lines: list[int]  # the page's line number of each line of code

    @property
    def where(self) -> str:
        return f"{self.page}:{self.line}"


def _blocks(path: Path) -> Iterator[Example]:
    text = path.read_text(encoding="utf-8").splitlines()
    page = str(path.relative_to(ROOT))
    i = 0
    while i < len(text):
        fence = _FENCE.match(text[i])
        if fence is None:
            i += 1
            continue
        end = i + 1
        while end < len(text) and text[end].strip() != "```":
            end += 1
        previous = next((t.strip() for t in reversed(text[:i]) if t.strip()), "")
        marker = _MARKER.match(previous)
        code = "".join(f"{t}\n" for t in text[i + 1 : end])
        numbers = list(range(i + 2, end + 1))
        yield Example(page, i + 1, fence[1], marker[1] if marker else None, code, numbers)
        i = end + 1


def collect(kind: str) -> list[Example]:
    """The examples of one kind ("python" or "sh"), continued blocks joined."""
    units: list[Example] = []
    for path in PAGES:
        if path.name in NOT_EXAMPLES:
            continue
        last: Example | None = None
        for block in _blocks(path):
            if block.lang not in _KINDS[kind]:
                continue
            if block.marker == "continues":
                assert last is not None, f"{block.where}: 'continues' without a block before it"
                last.code += block.code
                last.lines += block.lines
                continue
            units.append(block)
            last = block
    return units


def shell_lines(example: Example) -> Iterator[tuple[int, str]]:
    """(page line, command) of a shell block: ``$`` prompts, output and comments dropped."""
    pending = ""
    for number, raw in zip(example.lines, example.code.splitlines(), strict=True):
        text = raw.strip()
        if example.lang == "console":
            if not pending and not text.startswith("$ "):
                continue  # output
            text = text.removeprefix("$ ")
        if not text or text.startswith("#"):
            continue
        if text.endswith("\\"):
            pending += text[:-1]
            continue
        yield number, pending + text
        pending = ""


def _matches(table: tuple[tuple[str, str], ...], command: str) -> str | None:
    return next((reason for pattern, reason in table if re.search(pattern, command)), None)


def _param(example: Example) -> object:
    reason = "fragment" if example.marker == "fragment" else None
    if example.lang != "python":
        skipped = [_matches(SKIPPED_LINES, command) for _, command in shell_lines(example)]
        if all(skipped):
            reason = "no line to run: " + "; ".join(sorted({r for r in skipped if r}))
    marks = [pytest.mark.skip(reason=reason)] if reason else []
    return pytest.param(example, id=example.where, marks=marks)


PYTHON_EXAMPLES = [_param(e) for e in collect("python")]
SHELL_EXAMPLES = [_param(e) for e in collect("sh")]


# -- the far end: emulators and origins of each example's own ------------------------------------


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

    def rewrite(self, text: str) -> str:
        for placeholder, replacement in REWRITES:
            text = re.sub(placeholder, replacement.format(**self.values), text)
        return text

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("N58_")}
        env["N58_DEVICE"] = self.values["device"]
        env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def mark(self) -> None:
        """Count what the example does from here."""
        self._seen = [len(origin.requests) for origin in self.origins]
        self._written = [emulator.bytes_written for emulator in self.emulators]

    def requests(self) -> list[RecordedRequest]:
        """The requests the origins received since :meth:`mark`."""
        return [r for o, n in zip(self.origins, self._seen, strict=True) for r in o.requests[n:]]

    def talked(self) -> bool:
        """True when an emulator answered or an origin got a request since :meth:`mark`."""
        written = [emulator.bytes_written for emulator in self.emulators]
        return bool(self.requests()) or written != self._written

    def unserved(self) -> list[str]:
        """Requests since :meth:`mark` for paths the origin does not serve (a 404)."""
        missing = []
        for request in self.requests():
            path = request.path
            if path.startswith("/files/"):
                served = (self.served / path.removeprefix("/files/")).is_file()
            else:
                served = ORIGIN_ROUTES.match(path) is not None
            if not served:
                missing.append(f"{request.method} {request.target}")
        return missing


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


def _write(root: Path, files: dict[str, bytes]) -> None:
    for name, content in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(content)


@contextlib.asynccontextmanager
async def far_end(root: Path, tls: TLSFiles, served: Path) -> AsyncIterator[FarEnd]:
    """Two origins, three emulators (two ptys, one TCP) and a working directory in *root*."""
    module_fs, workdir = root / "module-fs", root / "work"
    module_fs.mkdir()
    tls.write_to(module_fs)
    _write(module_fs, {name: SERVED_FILE[:size] for name, size in MODULE_FILES.items()})
    _write(workdir, {name: SERVED_FILE[:size] for name, size in LOCAL_FILES.items()})
    _write(
        workdir,
        {
            "ca.pem": tls.ca_cert_pem,
            "certs/private-ca.pem": tls.ca_cert_pem,
            "me.crt": tls.client_cert_pem,
            "me.key": tls.client_key_pem,
        },
    )
    resolve = {"example.com": "127.0.0.1", "localhost": "127.0.0.1"}
    async with contextlib.AsyncExitStack() as stack:
        http = await stack.enter_async_context(OriginServer(files=served))
        https = await stack.enter_async_context(OriginServer(files=served, tls=tls))
        configs = [
            EmulatorConfig(fs_root=module_fs, resolve=resolve),
            EmulatorConfig(resolve=resolve),
            EmulatorConfig(resolve=resolve, tcp=("127.0.0.1", 0)),
        ]
        emulators = [await stack.enter_async_context(Emulator(c)) for c in configs]
        values = {
            "http": str(http.port),
            "https": str(https.port),
            "device": emulators[0].device,
            "device2": emulators[1].device,
            "tcp": emulators[2].url,
        }
        far = FarEnd(values, workdir, emulators, [http, https], served)
        far.mark()
        yield far


# -- running ------------------------------------------------------------------------------------


def program(example: Example, far: FarEnd) -> tuple[str, list[int | None]]:
    """The example as a script, and the page line of each of its lines (None: added)."""
    code = far.rewrite(example.code)
    numbers: list[int | None] = list(example.lines)
    if example.marker == "modem":
        head = (
            "import asyncio\nimport httpx\nimport n58aio\n\n"
            "async def _example() -> None:\n"
            f"    async with n58aio.open_modem({far.values['device']!r}) as modem:\n"
            "        await modem.attach()\n"
        )
        indent = " " * 8
    else:
        try:
            compile(code, example.where, "exec")
            return code, numbers
        except SyntaxError as exc:
            if "outside" not in str(exc.msg):  # 'await' / 'async with' outside async function
                raise
        head = "import asyncio\n\nasync def _example() -> None:\n"
        indent = " " * 4
    tail = "\nasyncio.run(_example())\n"
    lines = [None] * head.count("\n") + numbers + [None] * tail.count("\n")
    return head + textwrap.indent(code, indent) + tail, lines


def _page_line(example: Example, err: str, lines: list[int | None]) -> str:
    """The page line of the last traceback frame in the example, if any."""
    frames = re.findall(r'example\.py(?:", line |:)(\d+)', err)
    if frames and 0 < int(frames[-1]) <= len(lines):
        number = lines[int(frames[-1]) - 1]
        if number is not None:
            return f"{example.page}:{number}"
    return example.where


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


async def run_python(example: Example, far: FarEnd) -> list[str]:
    """Run one Python example; return what went wrong."""
    source, lines = program(example, far)
    script = far.workdir / "example.py"
    script.write_text(source, encoding="utf-8")
    status, out, err = await _run([sys.executable, str(script)], far)
    where = _page_line(example, err, lines)
    if os.environ.get("SHOW_EXAMPLE_OUTPUT"):
        print(f"\n=== {example.where}\n{out}\n--- stderr\n{err}")
    problems = []
    if status != 0:
        problems.append(f"{where}: exit status {status}\n{_tail(err)}\n--- stdout\n{_tail(out)}")
    problems += [f"{where}: {sign!r} on stderr\n{_tail(err)}" for sign in BROKEN if sign in err]
    if missing := far.unserved():
        problems.append(f"{example.where}: paths the origin does not serve: {missing}")
    quiet = any(page == example.page and line in example.code for page, line, _ in QUIET_EXAMPLES)
    if far.talked() == quiet:
        problems.append(f"{example.where}: talked to an emulator or origin: {not quiet}?")
    return problems


async def _run_until_ready(command: str, far: FarEnd, env: dict[str, str]) -> tuple[int, str, bool]:
    """A command that runs until interrupted (``n58aio emulate``): its first line (a device, that
    exists while it runs), then SIGINT."""
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
        exists = await asyncio.to_thread(Path(first).exists)
    finally:
        process.send_signal(signal.SIGINT)
        status = await process.wait()
    return status, first, exists


async def run_shell(example: Example, far: FarEnd) -> list[str]:
    """Run the lines of one shell block in order, stopping at the first that fails."""
    env = far.env()
    for number, line in shell_lines(example):
        command = far.rewrite(line)
        where = f"{example.page}:{number}"
        words = shlex.split(command, comments=True)
        if words[:1] == ["export"]:
            name, _, value = words[1].partition("=")
            env[name] = value
            continue
        if _matches(SKIPPED_LINES, command) is not None:
            continue
        far.mark()
        if words[:2] == ["n58aio", "emulate"]:
            status, first, exists = await _run_until_ready(command, far, env)
            if status not in (0, 130) or not exists:
                return [f"{where}: {line}\nexit status {status}, first line {first!r}"]
            continue
        stdin = next((data for pattern, data in STDIN_FOR if re.search(pattern, command)), None)
        status, out, err = await _run(["sh", "-c", command], far, env=env, stdin=stdin)
        if status != 0:
            return [f"{where}: {line}\nexit status {status}\n{_tail(err)}\n--- stdout\n{out}"]
        if missing := far.unserved():
            return [f"{where}: paths the origin does not serve: {missing}"]
        if _matches(SELF_CONTAINED, command) is None and not far.talked():
            return [f"{where}: {line}\nneither the emulator nor the origin saw anything"]
    return []


Outcomes = dict[str, "asyncio.Task[list[str]]"]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def outcomes(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    example_tls: TLSFiles,
    served: Path,
) -> AsyncIterator[Outcomes]:
    """Every selected example, started ``PARALLEL`` at a time, in the order of the tests."""
    gate = asyncio.Semaphore(PARALLEL)

    async def outcome(example: Example) -> list[str]:
        async with gate:
            root = tmp_path_factory.mktemp("example")
            async with far_end(root, example_tls, served) as far:
                if example.lang == "python":
                    return await run_python(example, far)
                return await run_shell(example, far)

    selected: list[Example] = []
    for item in request.session.items:
        callspec = getattr(item, "callspec", None)
        if (
            isinstance(item, pytest.Function)
            and item.module is sys.modules[__name__]
            and callspec is not None
            and "example" in callspec.params
            and not any(mark.name == "skip" for mark in item.iter_markers())
        ):
            selected.append(callspec.params["example"])
    tasks = {e.where: asyncio.create_task(outcome(e)) for e in selected}
    yield tasks
    for task in tasks.values():
        task.cancel()
    await asyncio.gather(*tasks.values(), return_exceptions=True)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("example", PYTHON_EXAMPLES)
async def test_python_example(example: Example, outcomes: Outcomes) -> None:
    problems = await outcomes[example.where]
    assert not problems, "\n\n".join(problems)


@pytest.mark.asyncio(loop_scope="module")
@pytest.mark.parametrize("example", SHELL_EXAMPLES)
async def test_shell_example(example: Example, outcomes: Outcomes) -> None:
    problems = await outcomes[example.where]
    assert not problems, "\n\n".join(problems)


def test_markers_are_known() -> None:
    """A misspelt marker would silently run (or not join) a block: only the three exist."""
    for path in PAGES:
        for number, text in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if text.strip().startswith("<!-- example"):
                marker = _MARKER.match(text.strip())
                assert marker is not None and marker[1] in ("fragment", "continues", "modem"), (
                    f"{path.relative_to(ROOT)}:{number}: unknown marker {text.strip()!r}"
                )
