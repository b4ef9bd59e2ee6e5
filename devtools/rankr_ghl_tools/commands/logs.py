"""`rankr-ghl logs --location L [--entity contact] [--since ISO] [--until ISO] [--limit N]`: the audit log.

Reads AuditTable (AUDIT_TABLE or --table), newest first. Shows field names, never values.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from rankr_ghl.sync.ports import AuditEntry
from rankr_ghl.sync.types import Entity


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser("logs", help="list audit entries of a location (newest first)")
    p.add_argument("--location", required=True, help="GHL location id")
    p.add_argument("--entity", choices=[e.value for e in Entity], help="only this entity kind")
    p.add_argument("--since", type=_when, help="ISO time (UTC if no offset) or a duration like 2h, 30m, 7d")
    p.add_argument("--until", type=_when, help="ISO time (UTC if no offset) or a duration ago")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--table", help="AuditTable name (default: $AUDIT_TABLE)")
    p.set_defaults(handler=cmd_logs)


def _when(text: str) -> datetime:
    units = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
    if text[:-1].isdigit() and text[-1:] in units:
        return datetime.now(UTC) - timedelta(**{units[text[-1]]: int(text[:-1])})
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time or duration: {text!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _row(e: AuditEntry) -> dict[str, str]:
    ids = " / ".join(
        x for x in (f"ghl:{e.ghl_id}" if e.ghl_id else "", f"rankr:{e.rankr_id}" if e.rankr_id else "") if x
    )
    return {
        "time": e.at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "entity": e.entity.value,
        "action": e.action.value,
        "outcome": e.outcome.value,
        "direction": e.direction,
        "ids": ids,
        "fields": ", ".join(e.fields),
        "reason": e.reason or "",
        "error": e.error or "",
        "correlation": e.correlation_id or "",
    }


def cmd_logs(args: argparse.Namespace) -> int:
    from rankr_ghl.aws.audit import DynamoAuditLog
    from rankr_ghl.wiring import root

    if args.limit < 1:
        print("error: --limit must be at least 1", file=sys.stderr)
        return 2
    log = DynamoAuditLog(args.table or root().settings.audit_table)
    entries = log.query_location(
        args.location,
        since=args.since,
        until=args.until,
        entity=Entity(args.entity) if args.entity else None,
        limit=args.limit,
    )
    if args.json:
        for e in entries:
            print(json.dumps({**_row(e), "at": e.at.isoformat(), "entryId": e.entry_id, "flow": e.flow}))
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"audit log of {args.location} ({len(entries)} entries, newest first)")
    columns = [
        "time",
        "entity",
        "action",
        "outcome",
        "direction",
        "ids",
        "fields",
        "reason",
        "error",
        "correlation",
    ]
    for col in columns:
        table.add_column(col, overflow="fold")
    for e in entries:
        row = _row(e)
        table.add_row(*(row[c] for c in columns))
    Console().print(table)
    return 0
