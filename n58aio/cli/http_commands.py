"""``n58aio get|head|post|download``: HTTP(S) requests through a modem."""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ..http import DEFAULT_MAX_REDIRECTS, Response
from ..transfer import Progress
from ..transfer.localfile import atomic_output
from .common import (
    EXIT_CODES_HELP,
    EXIT_HTTP,
    EXIT_OK,
    EXIT_OTHER,
    EXIT_USAGE,
    CliError,
    add_modem_options,
    attach_from_args,
    digest,
    error,
    header,
    modem_from_args,
    run,
    url,
)
from .files_commands import module_download
from .progress import TransferBar, progress_wanted

__all__ = ["add_parsers"]


def add_parsers(
    subparsers: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]
) -> None:
    """Register ``get``, ``head``, ``post`` and ``download``."""
    formatter = argparse.RawDescriptionHelpFormatter
    for name, summary in (
        ("get", "GET a URL through the modem; the body goes to stdout or -o FILE"),
        ("head", "HEAD a URL through the modem; print the status line and headers"),
        ("post", "POST a body (at most 2048 bytes, the module's limit) through the modem"),
    ):
        parser = subparsers.add_parser(
            name,
            help=summary,
            description=summary + ".",
            parents=parents,
            epilog=EXIT_CODES_HELP,
            formatter_class=formatter,
        )
        parser.add_argument("url", metavar="URL", type=url)
        if name == "post":
            body = parser.add_mutually_exclusive_group()
            body.add_argument("--data", metavar="STR", help="the body (form-urlencoded)")
            body.add_argument("--json", metavar="STR", help="a JSON body (application/json)")
            body.add_argument("--file", metavar="PATH", help="the body read from PATH (- stdin)")
            parser.add_argument("--content-type", metavar="T", help="Content-Type of the body")
        _add_request_options(parser, head=name == "head")
        if name == "get":
            _add_module_option(parser)
        parser.set_defaults(handler=_request_command, method=name.upper())

    parser = subparsers.add_parser(
        "download",
        help="download a URL to FILE as verified, resumable ranged GETs",
        description="Download URL to FILE as ranged GETs, resuming an interrupted download "
        "(FILE.part) and checking the hashes given before FILE gets its name (a device or "
        "FIFO such as /dev/null is written in place once verified, without resume).",
        parents=parents,
        epilog=EXIT_CODES_HELP,
        formatter_class=formatter,
    )
    parser.add_argument("url", metavar="URL", type=url)
    parser.add_argument("file", metavar="FILE", type=Path)
    parser.add_argument(
        "--sha256",
        metavar="HEX",
        type=digest("SHA-256", 64, "sha256sum"),
        help="expected SHA-256 of the file (64 hex digits)",
    )
    parser.add_argument(
        "--md5", metavar="HEX", type=digest("MD5", 32, "md5sum"), help="expected MD5 (32 hex)"
    )
    add_modem_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    _add_module_option(parser)
    parser.set_defaults(handler=_download_command)


def _add_module_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--module",
        action="store_true",
        help="let the module download into its own file system (AT+HTTPGET), then read the "
        "file back, checked (see `n58aio files`)",
    )


def _add_request_options(parser: argparse.ArgumentParser, *, head: bool) -> None:
    parser.add_argument(
        "--header",
        "-H",
        action="append",
        type=header,
        default=[],
        metavar="'NAME: VALUE'",
        help="add a request header (repeatable; sent as a custom packet)",
    )
    parser.add_argument("--output", "-o", metavar="FILE", help="write the body to FILE")
    parser.add_argument(
        "--location",
        "-L",
        action="store_true",
        help="follow redirects (at most --max-redirs; credentials only to the same origin)",
    )
    parser.add_argument(
        "--max-redirs",
        type=_redirect_count,
        default=DEFAULT_MAX_REDIRECTS,
        metavar="N",
        help=f"most redirects -L follows (default {DEFAULT_MAX_REDIRECTS})",
    )
    if not head:
        parser.add_argument(
            "--include", "-i", action="store_true", help="print the status line and headers first"
        )
    parser.add_argument(
        "--fail", "-f", action="store_true", help="exit with status 4 for a status >= 400"
    )
    add_modem_options(parser)
    parser.add_argument("--no-progress", action="store_true", help="never draw a progress bar")


# ---------------------------------------------------------------------------- get/head/post


def _body_options(args: argparse.Namespace) -> dict[str, Any]:
    """``content`` and ``headers`` of a POST from --data/--json/--file, --content-type and -H.

    The Content-Type is --content-type, else a ``-H 'Content-Type: ...'``, else the one implied
    by the body option.
    """
    content: bytes | None = None
    implied: str | None = None
    if args.data is not None:
        content, implied = args.data.encode(), "application/x-www-form-urlencoded"
    elif args.json is not None:
        try:
            json.loads(args.json)
        except ValueError as exc:
            raise CliError(f"--json is not valid JSON: {exc}", EXIT_USAGE) from None
        content, implied = args.json.encode(), "application/json"
    elif args.file is not None:
        content = sys.stdin.buffer.read() if args.file == "-" else Path(args.file).read_bytes()
        implied = "application/octet-stream"
    declared = [v for n, v in args.header if n.lower() == "content-type"]
    content_type = args.content_type or (declared[-1] if declared else None)
    if content is not None:
        content_type = content_type or implied
    headers = [(n, v) for n, v in args.header if n.lower() != "content-type"]
    if content_type:
        headers.append(("Content-Type", content_type))
    return {"content": content, "headers": headers}


def _request_command(args: argparse.Namespace) -> int:
    if getattr(args, "module", False):
        return module_download(args)
    if args.method == "POST":
        try:
            options = _body_options(args)
        except CliError as exc:
            error(str(exc))
            return exc.status
        except OSError as exc:
            error(f"cannot read the body: {exc}")
            return EXIT_OTHER
    else:
        options = {"headers": list(args.header)}
    options["follow_redirects"] = args.location
    options["max_redirects"] = args.max_redirs
    return run(lambda: _request(args, options))


def _redirect_count(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"not a count of redirects: {text!r} (0 or more)")
    return int(text)


@contextmanager
def _output(path: str | None) -> Iterator[IO[bytes]]:
    """stdout, or :func:`~n58aio.transfer.localfile.atomic_output` of ``path`` (a temporary
    file renamed onto a regular file on success; a device, FIFO or terminal written in place)."""
    if path is None or path == "-":
        yield sys.stdout.buffer
        sys.stdout.buffer.flush()
        return
    with atomic_output(Path(path)) as file:
        yield file


def _head_text(response: Response) -> bytes:
    lines = [f"{response.http_version} {response.status_code} {response.reason}"]
    lines += [f"{name}: {value}" for name, value in response.headers.raw]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", "replace")


async def _request(args: argparse.Namespace, options: dict[str, Any]) -> int:
    method: str = args.method
    to_stdout = args.output in (None, "-")
    async with modem_from_args(args) as modem:
        await attach_from_args(modem, args)
        async with modem.stream(method, args.url, **options) as response:
            failed = args.fail and response.is_error
            if failed:
                error(f"HTTP {response.status_code} {response.reason} for {response.url}")
                return EXIT_HTTP
            with _output(args.output) as out:
                if method == "HEAD" or args.include:
                    out.write(_head_text(response))
                if method != "HEAD":
                    await _copy_body(response, out, args.no_progress, to_stdout)
    return EXIT_OK


async def _copy_body(response: Response, out: IO[bytes], disabled: bool, to_stdout: bool) -> None:
    total = _content_length(response)
    enabled = progress_wanted(disabled, to_stdout=to_stdout)
    with TransferBar(response.method, enabled=enabled) as bar:
        done = 0
        async for chunk in response.aiter_bytes():
            out.write(chunk)
            done += len(chunk)
            bar.update(done, total)


def _content_length(response: Response) -> int | None:
    value = response.headers.get("content-length", "")
    return int(value) if value.isdigit() else None


# ---------------------------------------------------------------------------- download


def _download_command(args: argparse.Namespace) -> int:
    if args.module:
        return module_download(args)
    return run(lambda: _download(args))


async def _download(args: argparse.Namespace) -> int:
    enabled = progress_wanted(args.no_progress, to_stdout=False)
    async with modem_from_args(args) as modem:
        await attach_from_args(modem, args)
        started = time.monotonic()
        with TransferBar("download", enabled=enabled) as bar:

            def progress(state: Progress) -> None:
                bar.update(state.done, state.total)

            result = await modem.download(
                args.url, args.file, sha256=args.sha256, md5=args.md5, progress=progress
            )
        elapsed = time.monotonic() - started
    checked = " and ".join(name for name in ("sha256", "md5") if getattr(args, name))
    note = f", {checked} verified" if checked else ""
    resumed = f", resumed at byte {result.resumed_from}" if result.resumed_from else ""
    print(
        f"{result.path}: {result.size} bytes in {elapsed:.2f} s "
        f"({_rate(result.fetched, elapsed)}){resumed}{note}\nsha256 {result.sha256}",
        file=sys.stderr,
    )
    return EXIT_OK


def _rate(count: int, seconds: float) -> str:
    if seconds <= 0:
        return "-"
    return f"{count / seconds / 1024:.1f} KiB/s"
