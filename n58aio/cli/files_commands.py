"""``n58aio files ls | put | get | rm``; local certificate files for ``--ca-cert`` and friends;
``get --module`` / ``download --module`` (the module downloads, then the file is read back)."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from ..transfer import Progress
from .common import (
    EXIT_CODES_HELP,
    EXIT_OK,
    add_modem_options,
    attach_from_args,
    modem_from_args,
    run,
)
from .progress import TransferBar, progress_wanted

__all__ = ["add_parser", "module_download"]


def add_parser(
    subparsers: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]
) -> None:
    """Register ``files`` and its sub-commands."""
    parser = subparsers.add_parser(
        "files",
        help="files on the module: ls, put, get, rm",
        description="List, upload, download and delete files on the module's own file system "
        "(1 MB user disk; names up to 120 characters). Every piece is checked.",
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = parser.add_subparsers(dest="files_command", metavar="ACTION")
    actions.required = True
    for name, summary in (
        ("ls", "list the files of the module (a directory with DIR), with the free space"),
        ("put", "upload a local FILE to the module (as NAME, by default its file name)"),
        ("get", "copy the module file NAME to a local FILE (default: NAME's file name)"),
        ("rm", "delete the module file NAME"),
    ):
        action = actions.add_parser(name, help=summary, description=summary + ".", parents=parents)
        if name == "ls":
            action.add_argument("directory", metavar="DIR", nargs="?", default="")
        elif name == "put":
            action.add_argument("file", metavar="FILE", type=Path)
            action.add_argument("name", metavar="NAME", nargs="?")
            action.add_argument(
                "--verify", action="store_true", help="read the file back and compare"
            )
        elif name == "get":
            action.add_argument("name", metavar="NAME")
            action.add_argument("file", metavar="FILE", type=Path, nargs="?")
            action.add_argument("--sha256", metavar="HEX", help="expected SHA-256")
            action.add_argument("--md5", metavar="HEX", help="expected MD5")
            action.add_argument(
                "--verify",
                action="store_true",
                help="read every piece until two reads agree (the module's checksum misses "
                "swapped bytes)",
            )
        else:
            action.add_argument("name", metavar="NAME")
        add_modem_options(action, http=False)
        action.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
        action.set_defaults(handler=_files_command)


def _files_command(args: argparse.Namespace) -> int:
    return run(lambda: _files(args))


def _bar_progress(bar: TransferBar) -> Any:
    def progress(state: Progress) -> None:
        bar.update(state.done, state.total)

    return progress


async def _files(args: argparse.Namespace) -> int:
    enabled = progress_wanted(args.no_progress, to_stdout=False)
    async with modem_from_args(args) as modem:
        files = modem.files
        if args.files_command == "ls":
            for entry in await files.list(args.directory):
                print(f"{entry.name}/" if entry.is_dir else f"{entry.size:>9}  {entry.name}")
            print(f"{await files.free_space():>9}  bytes free")
        elif args.files_command == "put":
            name = args.name or args.file.name
            with TransferBar(f"put {name}", enabled=enabled) as bar:
                size = await files.write(
                    name, args.file, verify=args.verify, progress=_bar_progress(bar)
                )
            print(f"{name}: {size} bytes written", file=sys.stderr)
        elif args.files_command == "get":
            target = args.file or Path(Path(args.name).name)
            with TransferBar(f"get {args.name}", enabled=enabled) as bar:
                result = await files.read_to(
                    args.name,
                    target,
                    md5=args.md5,
                    sha256=args.sha256,
                    progress=_bar_progress(bar),
                    verify=args.verify,
                )
            print(f"{result.path}: {result.size} bytes\nsha256 {result.sha256}", file=sys.stderr)
        else:
            await files.delete(args.name)
    return EXIT_OK


# ---------------------------------------------------------------------------- certificates


# ---------------------------------------------------------------------------- --module


def module_download(args: argparse.Namespace) -> int:
    """``get --module`` / ``download --module``: the module downloads, then the read-back."""
    return run(lambda: _module_download(args))


async def _module_download(args: argparse.Namespace) -> int:
    target: Path | None = getattr(args, "file", None)
    if target is None and getattr(args, "output", None) not in (None, "-"):
        target = Path(args.output)
    enabled = progress_wanted(args.no_progress, to_stdout=target is None)
    async with modem_from_args(args) as modem:
        await attach_from_args(modem, args)
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as scratch:
            local = target or Path(scratch) / "body"
            with TransferBar("module read-back", enabled=enabled) as bar:
                result = await modem.files.fetch_url(
                    args.url,
                    local,
                    md5=getattr(args, "md5", None),
                    sha256=getattr(args, "sha256", None),
                    progress=_bar_progress(bar),
                )
            if target is None:
                sys.stdout.buffer.write(local.read_bytes())
                sys.stdout.buffer.flush()
                return EXIT_OK
    elapsed = time.monotonic() - started
    verified = (
        " (module MD5 check passed)" if result.module_get and result.module_get.verified else ""
    )
    print(
        f"{result.path}: {result.size} bytes via the module file {result.name} in "
        f"{elapsed:.2f} s{verified}\nsha256 {result.sha256}",
        file=sys.stderr,
    )
    return EXIT_OK
