"""`rankr-ghl connections list|show|link|pause|resume`: GHL connections across accounts. Never shows a
token (a connection record holds none).

`list`, `show`, `pause` and `resume` are the control API's operator ops (`ops.connections.list`,
`ops.connection.get|pause|resume`), sent to ControlFunction's `ops` alias; `link` is `connection.link`
on `live`, as Rankr calls it (rankr_ghl_tools.control_client).
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from typing import Any

from rankr_ghl_tools.control_client import ControlCallFailed, ControlClient, add_arguments, operator_call


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("connections", help="list and manage GHL connections")
    sub = parser.add_subparsers(dest="connections_command", required=True)

    p = sub.add_parser("list", help="every connection with status and token expiry")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--company", help="only this agency's connections (its install progress first)")
    p.add_argument("--rankr-account", help="only this Rankr account's connections")
    add_arguments(p)
    p.set_defaults(handler=cmd_list)

    p = sub.add_parser("show", help="status, scopes, token expiry, last refresh, Rankr account")
    p.add_argument("location", help="location id, or company:<companyId>")
    p.add_argument("--json", action="store_true")
    add_arguments(p)
    p.set_defaults(handler=cmd_show)

    p = sub.add_parser(
        "link", help="link a connection to a Rankr account (the control API's connection.link)"
    )
    p.add_argument("location")
    p.add_argument("rankr_account")
    p.add_argument("--force", action="store_true", help="move it from another account (audited)")
    p.add_argument("--reason", help="why it is moved (kept in the audit entry)")
    add_arguments(p)
    p.set_defaults(handler=cmd_link)

    p = sub.add_parser("pause", help="stop automatic sync (webhooks acknowledged and counted, no reconcile)")
    p.add_argument("location")
    p.add_argument("--reason", help="why (kept in the audit entry)")
    add_arguments(p)
    p.set_defaults(handler=cmd_pause)

    p = sub.add_parser("resume", help="resume automatic sync; the next reconcile catches up")
    p.add_argument("location")
    p.add_argument("--reason", help="why (kept in the audit entry)")
    add_arguments(p)
    p.set_defaults(handler=cmd_resume)


def record(view: dict[str, Any]) -> dict[str, Any]:
    """An operator view (camelCase) as the CLI has always printed a record: `connectionId` ->
    `connection_id`."""
    return {re.sub(r"(?<!^)([A-Z])", r"_\1", key).lower(): value for key, value in view.items()}


def _operator(args: argparse.Namespace, op: str, **fields: Any) -> dict[str, Any] | None:
    return operator_call(args, op, None, **fields)


def _print_one(view: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print(json.dumps(view))
        return
    labels = [
        ("connection", "connection_id"),
        ("status", "status"),
        ("status reason", "status_reason"),
        ("user type", "user_type"),
        ("location", "location_id"),
        ("company", "company_id"),
        ("rankr account", "rankr_account_id"),
        ("scopes", "scopes"),
        ("token expires", "token_expires_at"),
        ("last refresh", "last_refresh_at"),
        ("installed", "installed_at"),
        ("token source", "token_source"),
    ]
    for label, key in labels:
        value = view.get(key)
        if isinstance(value, list):
            value = " ".join(value)
        print(f"{label:>14}: {value if value not in (None, '') else '-'}")
    progress = view.get("agency_install")
    if progress:
        print(f"{'agency install':>14}: {agency_install_summary(progress)}")


def agency_install_summary(progress: dict[str, Any]) -> str:
    """`done: 1000/1000 locations connected, 0 skipped` (an agency's `agencyInstall`)."""
    total = progress.get("locations")
    of = f"/{total}" if total is not None else ""
    line = f"{progress.get('status')}: {progress.get('connected', 0)}{of} locations connected"
    line += f", {progress.get('skipped', 0)} skipped"
    return line + (f" (last error: {progress['error']})" if progress.get("error") else "")


def _every_connection(args: argparse.Namespace) -> list[dict[str, Any]] | None:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        page = _operator(
            args,
            "ops.connections.list",
            companyId=args.company,
            rankrAccountId=args.rankr_account,
            cursor=cursor,
            limit=1000,
        )
        if page is None:
            return None
        rows += [record(view) for view in page["connections"]]
        cursor = page.get("nextCursor")
        if not cursor:
            return rows


def _is_company(row: dict[str, Any]) -> bool:
    return str(row["connection_id"]).startswith("company:")


def _when(value: Any) -> str:
    return str(value)[:19] if value else "-"


def cmd_list(args: argparse.Namespace) -> int:
    listed = _every_connection(args)
    if listed is None:
        return 1
    rows = sorted(listed, key=lambda row: (not _is_company(row), row["connection_id"]))
    if args.json:
        for row in rows:
            print(json.dumps(row))
        return 0
    from rich.console import Console
    from rich.table import Table

    agency = (
        next((r for r in rows if _is_company(r) and r.get("agency_install")), None) if args.company else None
    )
    title = f"{len(rows)} connection(s)"
    if agency is not None:
        title += f"; agency install {agency_install_summary(agency['agency_install'])}"
    table = Table(title=title)
    for column in (
        "connection",
        "status",
        "type",
        "company",
        "rankr account",
        "token expires",
        "last refresh",
    ):
        table.add_column(column)
    for row in rows:
        table.add_row(
            row["connection_id"],
            row["status"] + (f" ({row['status_reason']})" if row.get("status_reason") else ""),
            row["user_type"],
            row.get("company_id") or "-",
            row.get("rankr_account_id") or "-",
            _when(row.get("token_expires_at")),
            _when(row.get("last_refresh_at")),
        )
    Console().print(table)
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    result = _operator(args, "ops.connection.get", connectionId=args.location)
    if result is None:
        return 1
    _print_one(record(result["connection"]), args.json)
    return 0


def _pause_or_resume(args: argparse.Namespace, op: str) -> int:
    result = _operator(args, op, connectionId=args.location, reason=args.reason)
    if result is None:
        return 1
    _print_one(record(result["connection"]), False)
    return 0


def cmd_link(args: argparse.Namespace) -> int:
    try:
        result = ControlClient.from_args(args).call(
            "connection.link",
            args.rankr_account,
            locationId=args.location,
            force=args.force or None,
            reason=args.reason,
        )
    except ControlCallFailed as refused:
        print(f"error: {refused.code}: {refused.message}", file=sys.stderr)
        return 1
    connection = result["connection"]
    moved = " (moved from another account)" if result.get("moved") else ""
    print(f"{connection['connectionId']}: linked to {args.rankr_account}{moved}, {connection['status']}")
    return 0


def cmd_pause(args: argparse.Namespace) -> int:
    return _pause_or_resume(args, "ops.connection.pause")


def cmd_resume(args: argparse.Namespace) -> int:
    return _pause_or_resume(args, "ops.connection.resume")
