"""What the subcommands share: exit codes, modem options, running a coroutine, sizes."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
from collections.abc import Callable, Coroutine
from contextlib import AbstractAsyncContextManager
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ..errors import (
    HTTPStatusError,
    InvalidValue,
    LinkRefusedError,
    N58Error,
    SimPinRequired,
    TLSConfigError,
    TLSNotConfigured,
    TransferError,
)
from ..http import ModuleURL, Timeouts, TLSConfig
from ..modem import Modem, open_modem
from ..redact import redact
from .certs import with_local_certs

__all__ = [
    "BRINGUP_ENV",
    "EXIT_CODES_HELP",
    "EXIT_HTTP",
    "EXIT_INTERRUPTED",
    "EXIT_MODEM",
    "EXIT_OK",
    "EXIT_OTHER",
    "EXIT_TRANSFER",
    "EXIT_USAGE",
    "NOTICE_AFTER",
    "CliError",
    "add_modem_options",
    "at_command",
    "attach_from_args",
    "digest",
    "error",
    "header",
    "modem_from_args",
    "run",
    "size",
    "tls_from_args",
    "url",
]

EXIT_OK = 0
EXIT_OTHER = 1
EXIT_USAGE = 2
EXIT_MODEM = 3
EXIT_HTTP = 4
EXIT_TRANSFER = 5
EXIT_INTERRUPTED = 130

EXIT_CODES_HELP = """\
exit status:
  0    success
  1    local error (a file that cannot be read or written, ...)
  2    usage or value error (bad option, argument or value, no device, HTTPS without
       --ca-cert or --insecure): nothing was sent
  3    modem error: port, AT command, timeout, TLS settings, link or protocol failure
  4    HTTP error: status >= 400 (with --fail, and always for download)
  5    transfer error: hash mismatch, incomplete or inconsistent download
  130  interrupted (Ctrl-C)
"""

DEVICE_ENV = "N58_DEVICE"

#: The bring-up options and the environment variable each defaults to: the secrets (PIN, APN
#: password) can stay out of the shell history and of ``ps``.
BRINGUP_ENV = {
    "pin": "N58_PIN",
    "apn": "N58_APN",
    "user": "N58_APN_USER",
    "password": "N58_APN_PASSWORD",
}

_HTTPS_OPTIONS = (
    "HTTPS needs --ca-cert NAME (the CA that signed the server's certificate: a file on the "
    "module, or a local file installed first) or --insecure (no verification)"
)


class CliError(Exception):
    """An error reported as one line on stderr, with its exit status."""

    def __init__(self, message: str, status: int = EXIT_OTHER) -> None:
        super().__init__(message)
        self.status = status


def error(message: str) -> None:
    """Print ``n58aio: error: <message>`` on stderr, credentials hidden."""
    print(f"n58aio: error: {redact(message)}", file=sys.stderr, flush=True)


def run(coroutine: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run ``coroutine()`` in a new event loop; map exceptions to exit statuses."""
    try:
        return asyncio.run(coroutine())
    except KeyboardInterrupt:
        error("interrupted")
        return EXIT_INTERRUPTED
    except CliError as exc:
        error(str(exc))
        return exc.status
    except HTTPStatusError as exc:
        error(str(exc))
        return EXIT_HTTP
    except TransferError as exc:
        error(str(exc))
        return EXIT_TRANSFER
    except InvalidValue as exc:
        error(str(exc))
        return EXIT_USAGE
    except SimPinRequired:
        error(f"the SIM asks for its PIN: pass --pin PIN, or set ${BRINGUP_ENV['pin']}")
        return EXIT_MODEM
    except LinkRefusedError as exc:
        error(f"{exc} (options --apn, --user, --password)")
        return EXIT_MODEM
    except TLSNotConfigured:
        error(_HTTPS_OPTIONS)
        return EXIT_USAGE
    except TLSConfigError as exc:
        error(f"{exc} (HTTPS: check --ca-cert, --client-cert, --client-key, --tls-version)")
        return EXIT_MODEM
    except N58Error as exc:
        error(f"{type(exc).__name__}: {exc}")
        return EXIT_MODEM
    except BrokenPipeError:
        # the reader of stdout went away (| head): stop quietly, like other tools
        _silence_stdout()
        return EXIT_OTHER
    except OSError as exc:
        error(str(exc))
        return EXIT_OTHER


def _silence_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass


# ---------------------------------------------------------------------------- arguments


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0: {text!r}")
    return value


def _baud(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a baud rate: {text!r}")
    return int(text)


def url(text: str) -> str:
    """Check a URL the way the modem will take it (argparse type); the error says what to
    type instead."""
    try:
        ModuleURL.parse(text)
    except InvalidValue as exc:
        try:
            suggestion = _url_suggestion(text)
        except ValueError:  # (urllib's own, on a bad port): no suggestion
            suggestion = None
        hint = f"; try {redact(suggestion)}" if suggestion and suggestion != text else ""
        # argparse shows the raw value for any other exception: never let one through
        raise argparse.ArgumentTypeError(f"{exc}{hint}") from None
    return text


def _url_suggestion(text: str) -> str | None:
    """The URL the user probably meant: a scheme added, non-ASCII percent-encoded (IDNA for
    the host); None when there is no obvious fix."""
    candidate = text if "://" in text else f"http://{text}"
    parts = urlsplit(candidate)
    if parts.scheme.lower() not in ("http", "https"):
        return None
    try:
        host = (parts.hostname or "").encode("idna").decode("ascii")
    except UnicodeError:
        return None
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    if parts.username is not None:
        netloc = parts.netloc.rpartition("@")[0] + "@" + netloc
    path = quote(parts.path, safe="/%:@!$&'()*+,;=~-._")
    query = quote(parts.query, safe="/%:@!$&'()*+,;=?~-._")
    suggestion = urlunsplit((parts.scheme, netloc, path, query, ""))
    try:
        ModuleURL.parse(suggestion)
    except InvalidValue:
        return None
    return suggestion


def at_command(text: str) -> str:
    """An AT command line (argparse type): it must start with AT."""
    if not text.strip()[:2].upper() == "AT":
        raise argparse.ArgumentTypeError(
            f"{text!r} is not an AT command: commands start with AT, e.g. ATI or 'AT+XIIC?'"
        )
    return text


def digest(name: str, digits: int, tool: str) -> Callable[[str], str]:
    """An argparse type for a hex digest of ``digits`` digits (the output of ``tool``)."""

    def parse(text: str) -> str:
        value = text.strip().lower()
        if len(value) != digits or any(c not in "0123456789abcdef" for c in value):
            raise argparse.ArgumentTypeError(
                f"not a {name}: {text!r} (pass the {digits} hexadecimal digits that "
                f"`{tool} FILE` prints)"
            )
        return value

    return parse


def header(text: str) -> tuple[str, str]:
    """Parse ``'Name: value'`` (argparse type)."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip() or name != name.strip():
        raise argparse.ArgumentTypeError(f"expected 'Name: value', got {text!r}")
    return name, value.strip()


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:([kmg])(?:i?b)?|(b))?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}


def size(text: str) -> int:
    """Parse a byte count: ``4096``, ``256KB``, ``1.5MB``, ``2MiB`` (binary units; argparse
    type)."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (try 4096, 256KB or 2MB)")
    value = float(match.group(1)) * _UNITS[(match.group(2) or "").lower()]
    if value < 1 or value != int(value):
        raise argparse.ArgumentTypeError(f"not a whole number of bytes >= 1: {text!r}")
    return int(value)


def add_modem_options(parser: argparse.ArgumentParser, *, http: bool = True) -> None:
    """Add ``--device``, ``--baud``, ``--mux``, ``--timeout`` and, with ``http``, the bring-up
    options (``--pin``, ``--apn``, ``--user``, ``--password``) and the HTTP(S) options."""
    group = parser.add_argument_group("modem")
    group.add_argument(
        "--device",
        "-d",
        default=os.environ.get(DEVICE_ENV) or None,
        metavar="PORT",
        help=f"serial device or pyserial URL (socket://host:port, rfc2217://host:port); "
        f"default: ${DEVICE_ENV}",
    )
    group.add_argument(
        "--baud", type=_baud, default=115200, help="serial baud rate (default: 115200)"
    )
    group.add_argument(
        "--mux",
        action="store_true",
        help="27.010 multiplexing (AT+CMUX): commands on one virtual port, HTTP on another "
        "(see docs/multiplexing.md); one channel if the module refuses",
    )
    group.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="S",
        help="seconds to wait: per AT command for `at` (default: the manual's value), for the "
        "link setup, the response head and each gap between chunks for HTTP (default: 30)",
    )
    if not http:
        return
    _bringup_options(parser)
    group.add_argument(
        "--recvmode",
        type=int,
        choices=(0, 1),
        default=1,
        help="module receive mode: 1 length-framed chunks (default), 0 raw bytes",
    )
    tls = parser.add_argument_group("HTTPS")
    verify = tls.add_mutually_exclusive_group()
    verify.add_argument(
        "--ca-cert",
        metavar="NAME",
        help="verify the server against this CA file on the module's file system; a local "
        "file of that path is installed on the module first",
    )
    verify.add_argument(
        "--insecure", "-k", action="store_true", help="do not verify the server (authmode 0)"
    )
    tls.add_argument(
        "--client-cert", metavar="NAME", help="client certificate file on the module (or local)"
    )
    tls.add_argument(
        "--client-key", metavar="NAME", help="client key file on the module (or local)"
    )
    tls.add_argument(
        "--tls-version",
        choices=("TLS1.0", "TLS1.1", "TLS1.2"),
        default="TLS1.2",
        help="minimum TLS version (default: TLS1.2)",
    )


def _bringup_options(parser: argparse.ArgumentParser) -> None:
    """``--pin``, ``--apn``, ``--user``, ``--password``: what ``attach()`` needs on a fresh SIM
    or a network that wants an APN; each defaults to its environment variable."""
    group = parser.add_argument_group(
        "bring-up",
        "sent only when the module needs them; secrets: prefer the environment variables",
    )
    helps = {
        "pin": "the SIM's PIN (4 to 8 digits; never retried: three wrong PINs block the SIM)",
        "apn": "the access point name the operator gives",
        "user": "the APN user name",
        "password": "the APN password (never logged or printed)",
    }
    for name, env in BRINGUP_ENV.items():
        group.add_argument(
            f"--{name}",
            default=os.environ.get(env) or None,
            metavar=name.upper(),
            help=f"{helps[name]}; default: ${env}",
        )


#: Seconds of silence from a port before the bring-up says it is still waiting for the module.
NOTICE_AFTER = 5.0


async def attach_from_args(modem: Modem, args: argparse.Namespace) -> None:
    """``modem.attach()`` with the ``--pin``, ``--apn``, ``--user`` and ``--password``
    values. When nothing on the port has answered after :data:`NOTICE_AFTER` seconds, one line
    on stderr says so (the wait for a booting module lasts up to a minute)."""
    attach = asyncio.ensure_future(
        modem.attach(
            pin=getattr(args, "pin", None),
            apn=getattr(args, "apn", None),
            user=getattr(args, "user", None),
            password=getattr(args, "password", None),
        )
    )
    try:
        done, _ = await asyncio.wait({attach}, timeout=NOTICE_AFTER)
        if not done and not modem.channel.resyncs:
            print(
                f"n58aio: no answer on {redact(modem.url)} yet: waiting up to a minute for the "
                "module to boot (a wrong port or baud rate never answers; Ctrl-C stops)",
                file=sys.stderr,
                flush=True,
            )
        await attach
    finally:
        if not attach.done():
            attach.cancel()
            with contextlib.suppress(asyncio.CancelledError, N58Error):
                await attach


def tls_from_args(args: argparse.Namespace) -> TLSConfig | None:
    """The TLS settings the options ask for; None when none were given."""
    if args.insecure:
        return TLSConfig.insecure(version=args.tls_version)
    if args.ca_cert or args.client_cert or args.client_key:
        return TLSConfig(
            version=args.tls_version,
            ca_cert=args.ca_cert,
            client_cert=args.client_cert,
            client_key=args.client_key,
        )
    return None


def modem_from_args(args: argparse.Namespace) -> AbstractAsyncContextManager[Modem]:
    """``open_modem`` with the device, baud rate, timeouts, receive mode and TLS options."""
    if not args.device:
        raise CliError(f"no device: pass --device PORT or set ${DEVICE_ENV}", EXIT_USAGE)
    target = getattr(args, "url", None) or ""
    https = urlsplit(target).scheme.lower() == "https"
    if https and hasattr(args, "insecure") and tls_from_args(args) is None:
        raise CliError(_HTTPS_OPTIONS, EXIT_USAGE)
    options: dict[str, Any] = {"baudrate": args.baud, "mux": args.mux}
    if hasattr(args, "recvmode"):
        options["recvmode"] = args.recvmode
        options["tls"] = tls_from_args(args)
        if args.timeout is not None:
            options["timeouts"] = Timeouts(args.timeout)
    return with_local_certs(open_modem(args.device, name="cli", **options), args)
