"""`rankr-ghl test-transfer --location L --contact ID`: map one GHL contact and show the Rankr record
it would produce and how it differs from the Rankr record that exists now. Writes nothing.

With `--rankr-account A` it is the control API's `test_transfer`, as Rankr calls it (through the
Lambda Invoke API, see rankr_ghl_tools.control_client): `--apply` then syncs that one record and lists
each write, and `--rankr-contact` takes a Rankr contact the other way.

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


def cmd_test_transfer(args: argparse.Namespace) -> int:
    if args.rankr_account:
        return through_control(args)
    from rankr_ghl.flows.reconcile import transfer_preview as reconcile
    from rich.console import Console
    from rich.table import Table

    try:
        from rankr_ghl.wiring import root

        container = root().reconcile_container()
        account = container.worker.account_for(args.location)
        r = container.reconciler
        preview = reconcile.preview_transfer(
            ghl=r.ghl,
            rankr=r.rankr,
            mappings=r.mappings,
            ledger=r.ledger,
            mapping_resolver=r.mapping_resolver,
            location_id=args.location,
            account_id=account,
            contact_id=args.contact,
        )
    except Exception as exc:
        print(f"error: {getattr(exc, 'message', None) or exc}", file=sys.stderr)
        return 1
    data = masked(preview.to_dict(), args.reveal)
    if args.json:
        print(json.dumps(data))
        return 0 if preview.found else 1
    console = Console()
    console.print(
        f"GHL contact {preview.ghl_contact_id} -> Rankr {preview.rankr_contact_id or '(not mapped)'}: "
        f"[bold]{preview.would}[/bold] (nothing was written)",
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
    return 0 if preview.found else 1
