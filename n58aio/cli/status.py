"""``n58aio status``: print :meth:`n58aio.Modem.status`, one field a line (or as JSON)."""

from __future__ import annotations

import argparse
import dataclasses
import json
from typing import Any

from ..bringup import ModemStatus
from .common import EXIT_CODES_HELP, EXIT_OK, add_modem_options, modem_from_args
from .common import run as run_coroutine

__all__ = ["add_parser", "format_status"]


def add_parser(
    subparsers: argparse._SubParsersAction[Any], parents: list[argparse.ArgumentParser]
) -> None:
    """Register ``status``."""
    parser = subparsers.add_parser(
        "status",
        help="print the module's signal, registration, identities and data link",
        description="Query the module (AT+CSQ, AT+CESQ, AT+CEREG?/AT+CREG?, AT+COPS?, AT+CGSN, "
        "AT+CIMI, AT+CCID, AT+CGMR, AT+XIIC?) and print one field a line; a field the module "
        "does not answer is shown as '-'.",
        parents=parents,
        epilog=EXIT_CODES_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    add_modem_options(parser, http=False)
    parser.set_defaults(handler=_status_command)


def format_status(status: ModemStatus) -> str:
    """The snapshot as aligned ``name  value`` lines."""
    signal = "-"
    if status.rssi is not None:
        signal = f"{status.signal_dbm} dBm (CSQ {status.rssi})"
    rows = [
        ("signal", signal),
        ("rsrp", f"{status.rsrp_dbm} dBm" if status.rsrp_dbm is not None else None),
        ("registration", status.registration),
        ("technology", status.technology),
        ("operator", status.operator),
        ("imei", status.imei),
        ("imsi", status.imsi),
        ("iccid", status.iccid),
        ("firmware", status.firmware),
        ("data link", "up" if status.link_up else "down"),
        ("address", status.address),
    ]
    return "\n".join(f"{name:<13}{value if value is not None else '-'}" for name, value in rows)


def _status_command(args: argparse.Namespace) -> int:
    return run_coroutine(lambda: _status(args))


async def _status(args: argparse.Namespace) -> int:
    async with modem_from_args(args) as modem:
        status = await modem.status()
    if args.json:
        print(json.dumps(dataclasses.asdict(status)))
    else:
        print(format_status(status))
    return EXIT_OK
