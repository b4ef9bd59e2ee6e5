"""`rankr-ghl test-transfer --location L --contact ID`: map one GHL contact and show the Rankr record
it would produce and how it differs from the Rankr record that exists now. Writes nothing. It is the
control API's operator op `ops.test_transfer` (ControlFunction's `ops` alias), run for the account the
location is linked to.

With `--rankr-account A` it is the control API's `test_transfer`, as Rankr calls it (the `live` alias,
see rankr_ghl_tools.control_client): `--apply` then syncs that one record and lists each write, and
`--rankr-contact` takes a Rankr contact the other way.

E-mail and phone values are masked unless `--reveal` is given (terminal output only; never logged).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from rankr_ghl_tools.control_client import add_arguments

_PII_FIELDS = {"email", "phone"}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("test-transfer", help="preview one GHL contact's transfer to Rankr (no writes)")
    p.add_argument("--location", required=True, help="GHL location id")
    p.add_argument("--contact", required=True, help="GHL contact id")
    p.add_argument("--reveal", action="store_true", help="show e-mail and phone values unmasked")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.add_argument("--rankr-account", help="go through the control API, scoped to this account")
    p.add_argument("--apply", action="store_true", help="with --rankr-account: sync the record")
    p.add_argument(
        "--rankr-contact", action="store_true", help="with --rankr-account: --contact is a Rankr contact"
    )
    add_arguments(p)
    p.set_defaults(handler=cmd_test_transfer)


def mask(name: str, value: Any) -> Any:
    if name not in _PII_FIELDS or not isinstance(value, str) or not value:
        return value
    return value[:2] + "***" + value[-2:] if len(value) > 6 else "***"


def masked(preview: dict[str, Any], reveal: bool) -> dict[str, Any]:
    if reveal:
        return preview
    out = dict(preview)
    out["rankrBody"] = {k: mask(k, v) for k, v in preview["rankrBody"].items()}
    out["differences"] = [
        {**d, "ghl": mask(d["field"], d["ghl"]), "rankr": mask(d["field"], d["rankr"])}
        for d in preview["differences"]
    ]
    return out


def through_control(args: argparse.Namespace) -> int:
    from rankr_ghl_tools.control_client import ControlCallFailed, ControlClient

    fields = (
        {"direction": "rankr_to_ghl", "rankrContactId": args.contact}
        if args.rankr_contact
        else {"ghlContactId": args.contact}
    )
    try:
        result = ControlClient.from_args(args).call(
            "test_transfer", args.rankr_account, locationId=args.location, apply=args.apply or None, **fields
        )
    except ControlCallFailed as refused:
        print(f"error: {refused.code}: {refused.message}", file=sys.stderr)
        return 1
    if "preview" in result:
        result["preview"] = masked(result["preview"], args.reveal)
    if args.json:
        print(json.dumps(result))
        return 0
    verb = "wrote" if args.apply else "would write (dry run, nothing written)"
    print(f"{result['direction']} {args.contact}: differences {result['differences']}; {verb}:")
    for write in result["writes"] or result["samples"]:
        print(f"  {json.dumps(write, sort_keys=True)}")
    return 0


def _print_preview(data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    console.print(
        f"GHL contact {data['ghlContactId']} -> Rankr {data.get('rankrContactId') or '(not mapped)'}: "
        f"[bold]{data['would']}[/bold] (nothing was written)",
        highlight=False,
    )
    body = Table(title="Rankr record the mapping produces")
    body.add_column("field")
    body.add_column("value")
    for key, value in data["rankrBody"].items():
        body.add_row(key, json.dumps(value))
    console.print(body)
    if data["differences"]:
        table = Table(title="Differences from the Rankr record now")
        for column in ("field", "GHL", "Rankr", "winner"):
            table.add_column(column)
        for d in data["differences"]:
            table.add_row(d["field"], json.dumps(d["ghl"]), json.dumps(d["rankr"]), d["winner"])
        console.print(table)


def cmd_test_transfer(args: argparse.Namespace) -> int:
    """Without `--rankr-account`: the operator op `ops.test_transfer` (the connection's own account),
    printed as the preview of the GHL contact."""
    if args.rankr_account or args.apply or args.rankr_contact:
        if not args.rankr_account:
            print("error: --apply and --rankr-contact need --rankr-account", file=sys.stderr)
            return 2
        return through_control(args)
    from rankr_ghl_tools.control_client import ControlCallFailed, ControlClient

    try:
        result = ControlClient.from_args(args, operator=True).call(
            "ops.test_transfer", None, locationId=args.location, ghlContactId=args.contact
        )
    except ControlCallFailed as refused:
        print(f"error: {refused.code}: {refused.message}", file=sys.stderr)
        return 1
    data = masked(result["preview"], args.reveal)
    if args.json:
        print(json.dumps(data))
    else:
        _print_preview(data)
    return 0
